// Notification rendering (pure) and the notification's own JSON form (what the outbox stores).
#include "notify/render.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "brickcast/alerts.h"
#include "brickcast/rdf.h"
#include "brickcast/template_text.h"

namespace brickcast {

using Json = nlohmann::json;

NotifyAlert NotifyAlert::From(const Alert& a, const std::string& site) {
  NotifyAlert n;
  n.id = a.id;
  n.rule = a.rule;
  n.equipment = a.equipment;
  n.equipment_class = a.equipment_class;
  n.severity = SeverityName(a.severity);
  n.kind = RuleKindName(a.kind);
  n.site = site;
  n.predicted = a.predicted;
  // no_data is firing only for an alert that was firing (an input went stale: not a resolve); a
  // pending alert that lost its data never fired.
  n.firing = a.state == AlertState::kFiring || (a.state == AlertState::kNoData && a.was_firing);
  n.starts_at = a.starts_at;
  n.ends_at = n.firing ? 0 : a.ends_at;
  n.crossing_time = a.crossing_time;
  n.summary = a.summary;
  n.action = a.action;
  n.evidence = a.evidence;
  return n;
}

std::map<std::string, std::string> NotifyAlert::Labels() const {
  return {{"alertname", rule},
          {"rule", rule},
          {"equipment", std::string(LocalName(equipment))},
          {"equipment_iri", equipment},
          {"class", equipment_class},
          {"severity", severity},
          {"kind", kind},
          {"site", site},
          {"predicted", predicted ? "true" : "false"}};
}

bool Notification::Firing() const { return FiringCount() > 0; }

size_t Notification::FiringCount() const {
  return static_cast<size_t>(std::count_if(alerts.begin(), alerts.end(), [](const NotifyAlert& a) { return a.firing; }));
}

std::string Notification::AlertLink(const NotifyAlert& a) const { return external_url + "/#/alerts/" + a.id; }

namespace {

Json AlertJson(const NotifyAlert& a) {
  return Json{{"id", a.id},
              {"rule", a.rule},
              {"equipment", a.equipment},
              {"equipment_class", a.equipment_class},
              {"severity", a.severity},
              {"kind", a.kind},
              {"site", a.site},
              {"predicted", a.predicted},
              {"firing", a.firing},
              {"starts_at", a.starts_at},
              {"ends_at", a.ends_at},
              {"crossing_time", a.crossing_time},
              {"summary", a.summary},
              {"action", a.action},
              {"evidence", a.evidence}};
}

}  // namespace

std::string Notification::ToJson() const {
  Json alerts_json = Json::array();
  for (const NotifyAlert& a : alerts) alerts_json.push_back(AlertJson(a));
  return Json{{"key", key},           {"receiver", receiver},         {"target", target},
              {"group_key", group_key}, {"group_labels", group_labels}, {"alerts", alerts_json},
              {"external_url", external_url}, {"created", created},   {"test", test}}
      .dump(-1, ' ', false, Json::error_handler_t::replace);
}

StatusOr<Notification> Notification::FromJson(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::DataLoss("outbox: a notification is not valid JSON");
  try {
    Notification n;
    n.key = j.at("key");
    n.receiver = j.at("receiver");
    n.target = j.value("target", "");
    n.group_key = j.value("group_key", "");
    n.group_labels = j.value("group_labels", std::map<std::string, std::string>{});
    n.external_url = j.value("external_url", "");
    n.created = j.value("created", int64_t{0});
    n.test = j.value("test", false);
    for (const Json& a : j.at("alerts")) {
      NotifyAlert x;
      x.id = a.at("id");
      x.rule = a.value("rule", "");
      x.equipment = a.value("equipment", "");
      x.equipment_class = a.value("equipment_class", "");
      x.severity = a.value("severity", "");
      x.kind = a.value("kind", "");
      x.site = a.value("site", "");
      x.predicted = a.value("predicted", false);
      x.firing = a.value("firing", true);
      x.starts_at = a.value("starts_at", int64_t{0});
      x.ends_at = a.value("ends_at", int64_t{0});
      x.crossing_time = a.value("crossing_time", int64_t{0});
      x.summary = a.value("summary", "");
      x.action = a.value("action", "");
      x.evidence = a.value("evidence", "");
      n.alerts.push_back(std::move(x));
    }
    return n;
  } catch (const Json::exception& e) {
    return Status::DataLoss(std::string("outbox: a notification is malformed: ") + e.what());
  }
}

const char* DeliveryOutcomeName(DeliveryOutcome o) {
  switch (o) {
    case DeliveryOutcome::kDelivered: return "delivered";
    case DeliveryOutcome::kRetryable: return "retryable";
    case DeliveryOutcome::kPermanent: return "permanent";
  }
  return "permanent";
}

namespace notify {
namespace {

std::string Equipment(const NotifyAlert& a) { return std::string(LocalName(a.equipment)); }

// "values: SAT=12.1, SAT_setpoint=13" lines of the evidence, for humans.
std::vector<std::string> EvidenceLines(const NotifyAlert& a) {
  std::vector<std::string> out;
  Json e = Json::parse(a.evidence, nullptr, false);
  if (!e.is_object()) return out;
  // The detail, unless the summary already quotes it.
  if (e.contains("detail") && e["detail"].is_string() && !e["detail"].get<std::string>().empty() &&
      a.summary.find(e["detail"].get<std::string>()) == std::string::npos)
    out.push_back(e["detail"].get<std::string>());
  // values and thresholds: [{name, value, unit, point?}] (or {name: value}).
  auto number = [](const Json& v) {
    if (!v.is_number()) return v.is_string() ? v.get<std::string>() : v.dump();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v.get<double>());
    return std::string(buf);
  };
  for (const char* part : {"values", "thresholds"}) {
    if (!e.contains(part) || e[part].empty()) continue;
    std::string line = std::string(part) + ":";
    if (e[part].is_array()) {
      for (const Json& v : e[part]) {
        if (!v.is_object()) continue;
        const std::string unit = v.value("unit", "");
        line += " " + v.value("name", std::string("?")) + "=" + number(v.value("value", Json())) +
                (unit.empty() || unit == "1" ? "" : " " + unit) + ",";
      }
      if (line.back() == ',') line.pop_back();
    } else if (e[part].is_object()) {
      for (const auto& [k, v] : e[part].items()) line += " " + k + "=" + number(v);
    }
    out.push_back(line);
  }
  if (e.contains("forecast") && e["forecast"].is_object())
    out.push_back("forecast by " + e["forecast"].value("model", std::string("?")));
  return out;
}

std::string Rfc5322Date(UnixMillis t) {
  const time_t s = static_cast<time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// Quoted-printable (RFC 2045): lines of at most 76 characters, '=' and non-ASCII escaped.
std::string QuotedPrintable(const std::string& in) {
  std::string out;
  size_t col = 0;
  auto put = [&](const std::string& s) {
    if (col + s.size() > 75) {
      out += "=\r\n";
      col = 0;
    }
    out += s;
    col += s.size();
  };
  for (size_t i = 0; i < in.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '\n') {
      out += "\r\n";
      col = 0;
    } else if (c == '\r') {
      continue;
    } else if ((c >= 33 && c <= 126 && c != '=') || (c == ' ' && i + 1 < in.size() && in[i + 1] != '\n')) {
      put(std::string(1, static_cast<char>(c)));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "=%02X", c);
      put(buf);
    }
  }
  return out;
}

// RFC 2047 encoded word when the header has non-ASCII characters.
std::string HeaderText(const std::string& s) {
  if (std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 128 && c != '\r' && c != '\n'; }))
    return s;
  static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b;
  for (size_t i = 0; i < s.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
    if (i + 2 < s.size()) v |= static_cast<unsigned char>(s[i + 2]);
    b += kB64[(v >> 18) & 63];
    b += kB64[(v >> 12) & 63];
    b += i + 1 < s.size() ? kB64[(v >> 6) & 63] : '=';
    b += i + 2 < s.size() ? kB64[v & 63] : '=';
  }
  return "=?UTF-8?B?" + b + "?=";
}

// The variables of one alert (and its notification) as a template sees them.
std::map<std::string, std::string> Variables(const Notification& n, const NotifyAlert& a) {
  std::string evidence;
  for (const std::string& l : EvidenceLines(a)) evidence += (evidence.empty() ? "" : "; ") + l;
  const size_t more = n.alerts.empty() ? 0 : n.alerts.size() - 1;
  return {{"status", a.firing ? "FIRING" : "RESOLVED"},
          {"severity", a.severity},
          {"rule", a.rule},
          {"equipment", Equipment(a)},
          {"class", a.equipment_class},
          {"site", a.site},
          {"summary", a.summary},
          {"evidence", evidence},
          {"action", a.action},
          {"link", n.external_url.empty() ? "" : n.AlertLink(a)},
          {"starts_at", a.starts_at ? FormatIsoUtc(a.starts_at) : ""},
          {"ends_at", !a.firing && a.ends_at ? FormatIsoUtc(a.ends_at) : ""},
          {"crossing_time", a.predicted && a.crossing_time ? FormatIsoUtc(a.crossing_time) : ""},
          {"predicted", a.predicted ? "predicted" : ""},
          {"count", std::to_string(n.FiringCount())},
          {"more", more ? "(+" + std::to_string(more) + " more)" : ""},
          {"receiver", n.receiver}};
}

std::string Raw(const std::string& s) { return s; }

}  // namespace

std::string Title(const Notification& n, const Templates& t) {
  if (!t.title.empty() && !n.alerts.empty()) {
    std::string title = ExpandTemplate(t.title, Variables(n, n.alerts.front()), Raw);
    std::replace(title.begin(), title.end(), '\n', ' ');
    return (n.test ? "[TEST] " : "") + title;
  }
  const size_t firing = n.FiringCount();
  std::string out = n.test ? "[TEST] " : "";
  out += firing > 0 ? "[FIRING:" + std::to_string(firing) + "]" : "[RESOLVED]";
  if (n.alerts.empty()) return out;
  const NotifyAlert& a = n.alerts.front();
  out += " " + a.rule + " on " + Equipment(a);
  if (n.alerts.size() > 1) out += " (+" + std::to_string(n.alerts.size() - 1) + " more)";
  return out;
}

std::string TextBody(const Notification& n, const Templates& t) {
  std::string out = Title(n, t) + "\n\n";
  if (n.test) out += "This is a test notification from brickcast; no alert is firing.\n\n";
  for (const NotifyAlert& a : n.alerts) {
    if (!t.text.empty()) {
      out += ExpandTemplate(t.text, Variables(n, a), Raw) + "\n\n";
      continue;
    }
    out += std::string(a.firing ? "FIRING" : "RESOLVED") + " " + a.severity + (a.predicted ? " (predicted)" : "") +
           ": " + a.rule + " on " + Equipment(a) + "\n";
    if (!a.summary.empty()) out += "  " + a.summary + "\n";
    if (a.starts_at) out += "  since: " + FormatIsoUtc(a.starts_at) + "\n";
    if (!a.firing && a.ends_at) out += "  resolved: " + FormatIsoUtc(a.ends_at) + "\n";
    if (a.predicted && a.crossing_time) out += "  expected crossing: " + FormatIsoUtc(a.crossing_time) + "\n";
    for (const std::string& l : EvidenceLines(a)) out += "  " + l + "\n";
    if (!a.action.empty()) out += "  recommended action: " + a.action + "\n";
    if (!n.external_url.empty()) out += "  " + n.AlertLink(a) + "\n";
    out += "\n";
  }
  return out;
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string HtmlBody(const Notification& n, const Templates& t) {
  const std::string title = HtmlEscape(Title(n, t));
  std::string out = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" + title +
                    "</title></head><body style=\"font-family:sans-serif\"><h2>" + title + "</h2>";
  if (n.test) out += "<p>This is a test notification from brickcast; no alert is firing.</p>";
  for (const NotifyAlert& a : n.alerts) {
    if (!t.text.empty()) {
      // The template's text with every value escaped (the template itself is the operator's).
      out += "<p style=\"white-space:pre-wrap\">" + ExpandTemplate(HtmlEscape(t.text), Variables(n, a), HtmlEscape) + "</p>";
      continue;
    }
    out += "<h3>" + std::string(a.firing ? "FIRING" : "RESOLVED") + " " + HtmlEscape(a.severity) +
           (a.predicted ? " (predicted)" : "") + ": " + HtmlEscape(a.rule) + " on " + HtmlEscape(Equipment(a)) + "</h3>";
    if (!a.summary.empty()) out += "<p>" + HtmlEscape(a.summary) + "</p>";
    out += "<table>";
    auto row = [&out](const std::string& k, const std::string& v) {
      out += "<tr><th align=\"left\">" + HtmlEscape(k) + "</th><td>" + HtmlEscape(v) + "</td></tr>";
    };
    if (a.starts_at) row("since", FormatIsoUtc(a.starts_at));
    if (!a.firing && a.ends_at) row("resolved", FormatIsoUtc(a.ends_at));
    if (a.predicted && a.crossing_time) row("expected crossing", FormatIsoUtc(a.crossing_time));
    for (const std::string& l : EvidenceLines(a)) row("evidence", l);
    if (!a.action.empty()) row("recommended action", a.action);
    out += "</table>";
    if (!n.external_url.empty())
      out += "<p><a href=\"" + HtmlEscape(n.AlertLink(a)) + "\">Open the alert in brickcast</a></p>";
  }
  return out + "</body></html>";
}

std::string JsonEscape(const std::string& s) {
  const std::string quoted = Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

namespace {

Json AnnotationsJson(const NotifyAlert& a) {
  Json ann{{"summary", a.summary}, {"evidence", a.evidence}};
  if (!a.action.empty()) ann["action"] = a.action;
  if (a.predicted && a.crossing_time) ann["crossing_time"] = FormatIsoUtc(a.crossing_time);
  return ann;
}

Json LabelsJson(const NotifyAlert& a) {
  Json l = Json::object();
  for (const auto& [k, v] : a.Labels()) l[k] = v;
  return l;
}

Json AlertV4(const NotifyAlert& a, const std::string& external_url) {
  return Json{{"status", a.firing ? "firing" : "resolved"},
              {"labels", LabelsJson(a)},
              {"annotations", AnnotationsJson(a)},
              {"startsAt", FormatIsoUtc(a.starts_at)},
              {"endsAt", a.firing ? "0001-01-01T00:00:00Z" : FormatIsoUtc(a.ends_at)},
              {"generatorURL", external_url.empty() ? "" : external_url + "/#/alerts/" + a.id},
              {"fingerprint", a.id}};
}

}  // namespace

std::string WebhookV4AlertJson(const NotifyAlert& a, const std::string& external_url) {
  return AlertV4(a, external_url).dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string WebhookV4Json(const Notification& n, size_t max_alerts) {
  Json alerts = Json::array();
  std::map<std::string, std::string> common;
  std::map<std::string, std::string> common_ann;
  bool first = true;
  size_t truncated = 0;
  for (const NotifyAlert& a : n.alerts) {
    const auto labels = a.Labels();
    std::map<std::string, std::string> ann;
    const Json annotations = AnnotationsJson(a);
    for (const auto& [k, v] : annotations.items()) ann[k] = v.get<std::string>();
    if (first) {
      common = labels;
      common_ann = ann;
      first = false;
    } else {
      std::erase_if(common, [&](const auto& kv) { auto it = labels.find(kv.first); return it == labels.end() || it->second != kv.second; });
      std::erase_if(common_ann, [&](const auto& kv) { auto it = ann.find(kv.first); return it == ann.end() || it->second != kv.second; });
    }
    if (max_alerts != 0 && alerts.size() >= max_alerts) {
      ++truncated;
      continue;
    }
    alerts.push_back(AlertV4(a, n.external_url));
  }
  return Json{{"version", "4"},
              {"groupKey", n.group_key},
              {"truncatedAlerts", truncated},
              {"status", n.Firing() ? "firing" : "resolved"},
              {"receiver", n.receiver},
              {"groupLabels", n.group_labels},
              {"commonLabels", common},
              {"commonAnnotations", common_ann},
              {"externalURL", n.external_url},
              {"alerts", alerts}}
      .dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string AlertmanagerV2Json(const Notification& n, UnixMillis firing_until) {
  Json out = Json::array();
  for (const NotifyAlert& a : n.alerts) {
    Json x{{"labels", LabelsJson(a)}, {"annotations", AnnotationsJson(a)}, {"startsAt", FormatIsoUtc(a.starts_at)},
           {"endsAt", FormatIsoUtc(a.firing ? firing_until : a.ends_at)}};
    if (!n.external_url.empty()) x["generatorURL"] = n.AlertLink(a);
    out.push_back(std::move(x));
  }
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {

// Septets a code point takes in GSM 03.38 (1, or 2 through the escape table); 0: not in it.
int GsmSeptets(char32_t c) {
  static const std::u32string kBasic =
      U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
      U"abcdefghijklmnopqrstuvwxyzäöñüà";
  static const std::u32string kExtended = U"^{}\\[~]|€\f";
  if (kBasic.find(c) != std::u32string::npos) return 1;
  if (kExtended.find(c) != std::u32string::npos) return 2;
  return 0;
}

// UTF-8 -> code points (invalid bytes become U+FFFD).
std::u32string Decode(const std::string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + static_cast<size_t>(len) > s.size()) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += static_cast<size_t>(len);
  }
  return out;
}

std::string Encode(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

}  // namespace

SmsText FitSms(const std::string& text) {
  const std::u32string cps = Decode(text);
  SmsText out;
  out.gsm7 = std::all_of(cps.begin(), cps.end(), [](char32_t c) { return GsmSeptets(c) > 0; });
  // Cost of each code point in the segment's units (septets, or UTF-16 code units).
  auto cost = [&](char32_t c) { return out.gsm7 ? GsmSeptets(c) : (c >= 0x10000 ? 2 : 1); };
  const int limit = out.gsm7 ? 160 : 70;
  int total = 0;
  for (char32_t c : cps) total += cost(c);
  if (total <= limit) {
    out.text = text;
    return out;
  }
  const std::u32string marker = U"...(truncated)";
  int used = static_cast<int>(marker.size());
  std::u32string kept;
  for (char32_t c : cps) {
    if (used + cost(c) > limit) break;
    used += cost(c);
    kept.push_back(c);
  }
  out.text = Encode(kept + marker);
  out.truncated = true;
  return out;
}

SmsText RenderSms(const Notification& n, const Templates& t) {
  if (!t.text.empty() && !n.alerts.empty()) return FitSms(ExpandTemplate(t.text, Variables(n, n.alerts.front()), Raw));
  std::string text = Title(n, t);
  if (!n.alerts.empty()) {
    const NotifyAlert& a = n.alerts.front();
    text += " " + a.severity + ": " + (a.summary.empty() ? a.rule : a.summary);
    if (!n.external_url.empty()) text += " " + n.AlertLink(a);
  }
  return FitSms(text);
}

std::string MessageId(const Notification& n) { return "<" + n.key + "@brickcast>"; }

std::string EmailMessage(const Notification& n, const std::string& from, const std::vector<std::string>& to,
                         const Templates& t) {
  std::string to_line;
  for (const std::string& r : to) to_line += (to_line.empty() ? "" : ", ") + r;
  const std::string boundary = "brickcast-" + n.key;
  std::string m;
  m += "From: " + from + "\r\n";
  m += "To: " + to_line + "\r\n";
  m += "Subject: " + HeaderText(Title(n, t)) + "\r\n";
  m += "Date: " + Rfc5322Date(n.created) + "\r\n";
  m += "Message-ID: " + MessageId(n) + "\r\n";
  m += "X-Brickcast-Group: " + HeaderText(n.group_key) + "\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  m += "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  m += QuotedPrintable(TextBody(n, t)) + "\r\n";
  m += "--" + boundary + "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  m += QuotedPrintable(HtmlBody(n, t)) + "\r\n";
  m += "--" + boundary + "--\r\n";
  return m;
}

}  // namespace notify
}  // namespace brickcast
