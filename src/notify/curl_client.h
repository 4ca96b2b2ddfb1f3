// The libcurl adapter: an HTTP POST and an SMTP send, each one attempt with a timeout, answered as
// a DeliveryResult (the dispatcher retries, never this code). The only files that include curl.h.
#pragma once

#include <string>
#include <vector>

#include "brickcast/notify.h"

namespace brickcast::notify {

struct TlsOptions {
  bool verify = true;
  std::string ca_file;  // "": the system's
};

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::string basic_user, basic_password;  // basic auth when the user is set
  int64_t timeout_ms = 10'000;
  TlsOptions tls;
};

// 2xx: delivered; 408, 429, 5xx and network errors: retryable; other 4xx: permanent (the body's
// first line in the reason).
DeliveryResult HttpPost(const HttpRequest& request);

struct MailRequest {
  std::string url;                // smtp://host:port or smtps://host:port
  std::string starttls = "required";  // required | opportunistic | never
  std::string username, password;
  std::string from;               // envelope sender (an address)
  std::vector<std::string> to;    // envelope recipients
  std::string message;            // RFC 5322 text
  int64_t timeout_ms = 10'000;
  TlsOptions tls;
};

// A refused login or recipient, or a server without STARTTLS when it is required: permanent; a
// server that cannot be reached or answers 4xx: retryable.
DeliveryResult SendMail(const MailRequest& request);

// The address inside "Name <a@b>" (or the text itself).
std::string BareAddress(const std::string& mailbox);

}  // namespace brickcast::notify
