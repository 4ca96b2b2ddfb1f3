// Rendering notifications for each medium: pure functions of the notification, tested without a
// network. Every medium escapes what it embeds (HTML in email, JSON in bodies, GSM-7 in SMS).
#pragma once

#include <string>

#include "brickcast/notify.h"

namespace brickcast::notify {

// A receiver's own wording (ReceiverConfig::title_template, text_template); "" keeps the built-in
// one. Variables are {{name}}: NotifyTemplateVariables(). Each medium escapes the values it inserts.
struct Templates {
  std::string title;  // the email subject, the SMS lead, the plugin's title
  std::string text;   // one alert's block in the text and HTML bodies and the SMS
};
// "[FIRING:2] fc5_sat_too_low on AHU-1" / "[RESOLVED] ...": the email subject and the SMS lead.
std::string Title(const Notification& n, const Templates& t = {});
// Plain text: one block per alert with its summary, evidence, recommended action and link.
std::string TextBody(const Notification& n, const Templates& t = {});
// The same as an HTML document, every value escaped.
std::string HtmlBody(const Notification& n, const Templates& t = {});
std::string HtmlEscape(const std::string& s);

// The Alertmanager webhook v4 body ("version": "4", groupKey, status, receiver, groupLabels,
// commonLabels, commonAnnotations, externalURL, truncatedAlerts, alerts[] with status, labels,
// annotations, startsAt, endsAt, generatorURL, fingerprint). max_alerts 0: all.
std::string WebhookV4Json(const Notification& n, size_t max_alerts);
// One alert of the webhook v4 body (status, labels, annotations, startsAt, endsAt, generatorURL,
// fingerprint): the alerts topic's messages.
std::string WebhookV4AlertJson(const NotifyAlert& a, const std::string& external_url);
// POST /api/v2/alerts body of Alertmanager: [{labels, annotations, startsAt, endsAt, generatorURL}].
// A firing alert's endsAt is `firing_until` (so Alertmanager resolves it by itself if we go quiet).
std::string AlertmanagerV2Json(const Notification& n, UnixMillis firing_until);

// An SMS text that fits one segment: 160 GSM-7 septets (escape characters count two) when every
// character is in the GSM 03.38 alphabet, else 70 UCS-2 units. A longer text is cut and ends with
// "...(truncated)".
struct SmsText {
  std::string text;
  bool gsm7 = true;
  bool truncated = false;
};
SmsText RenderSms(const Notification& n, const Templates& t = {});
SmsText FitSms(const std::string& text);

// An RFC 5322 message: From, To, Subject, Date, Message-ID <key@brickcast>, and a
// multipart/alternative body with the text and HTML parts (quoted-printable).
std::string EmailMessage(const Notification& n, const std::string& from, const std::vector<std::string>& to,
                         const Templates& t = {});
std::string MessageId(const Notification& n);

// JSON string escaping for templates ("a\"b" without the quotes).
std::string JsonEscape(const std::string& s);

}  // namespace brickcast::notify
