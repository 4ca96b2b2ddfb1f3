// libcurl: one easy handle per attempt (attempts are rare; a handle cache would buy nothing).
#include "notify/curl_client.h"

#include <curl/curl.h>

#include <cstring>
#include <mutex>

namespace brickcast::notify {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() < 4096) s->append(data, std::min(size * n, 4096 - s->size()));
  return size * n;
}

struct Upload {
  const std::string* text;
  size_t offset = 0;
};

size_t Read(char* buf, size_t size, size_t n, void* in) {
  auto* u = static_cast<Upload*>(in);
  const size_t len = std::min(size * n, u->text->size() - u->offset);
  std::memcpy(buf, u->text->data() + u->offset, len);
  u->offset += len;
  return len;
}

// The URL without any user:password@ part, for messages.
std::string SafeUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t at = url.find('@', start);
  const size_t slash = url.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
  return url.substr(0, start) + url.substr(at + 1);
}

class Easy {
 public:
  Easy() {
    GlobalInit();
    h_ = curl_easy_init();
  }
  ~Easy() {
    curl_slist_free_all(headers_);
    curl_slist_free_all(rcpt_);
    if (h_ != nullptr) curl_easy_cleanup(h_);
  }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;
  CURL* get() const { return h_; }
  void AddHeader(const std::string& h) { headers_ = curl_slist_append(headers_, h.c_str()); }
  void AddRecipient(const std::string& r) { rcpt_ = curl_slist_append(rcpt_, r.c_str()); }
  curl_slist* headers() const { return headers_; }
  curl_slist* recipients() const { return rcpt_; }
  void Common(int64_t timeout_ms, const TlsOptions& tls) {
    curl_easy_setopt(h_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h_, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
    curl_easy_setopt(h_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(timeout_ms, 5000)));
    curl_easy_setopt(h_, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
    curl_easy_setopt(h_, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);
    if (!tls.ca_file.empty()) curl_easy_setopt(h_, CURLOPT_CAINFO, tls.ca_file.c_str());
    curl_easy_setopt(h_, CURLOPT_ERRORBUFFER, error_);
    curl_easy_setopt(h_, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
  }
  // curl's message for a failed transfer (its error buffer never holds credentials).
  std::string Error(CURLcode rc) const { return error_[0] != '\0' ? error_ : curl_easy_strerror(rc); }

 private:
  CURL* h_ = nullptr;
  curl_slist* headers_ = nullptr;
  curl_slist* rcpt_ = nullptr;
  char error_[CURL_ERROR_SIZE] = {};
};

std::string FirstLine(const std::string& s) {
  std::string l = s.substr(0, s.find('\n'));
  if (l.size() > 200) l = l.substr(0, 200) + "...";
  return l;
}

}  // namespace

DeliveryResult HttpPost(const HttpRequest& r) {
  Easy e;
  if (e.get() == nullptr) return DeliveryResult::Retryable("libcurl: cannot create a handle");
  e.Common(r.timeout_ms, r.tls);
  std::string response;
  for (const std::string& h : r.headers) e.AddHeader(h);
  e.AddHeader("Expect:");  // no 100-continue round trip
  curl_easy_setopt(e.get(), CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(e.get(), CURLOPT_POST, 1L);
  curl_easy_setopt(e.get(), CURLOPT_POSTFIELDS, r.body.data());
  curl_easy_setopt(e.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
  curl_easy_setopt(e.get(), CURLOPT_HTTPHEADER, e.headers());
  curl_easy_setopt(e.get(), CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(e.get(), CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(e.get(), CURLOPT_USERAGENT, "brickcast");
  if (!r.basic_user.empty()) {
    curl_easy_setopt(e.get(), CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(e.get(), CURLOPT_USERNAME, r.basic_user.c_str());
    curl_easy_setopt(e.get(), CURLOPT_PASSWORD, r.basic_password.c_str());
  }
  const CURLcode rc = curl_easy_perform(e.get());
  const std::string where = "POST " + SafeUrl(r.url);
  if (rc != CURLE_OK) {
    const bool permanent = rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT;
    const std::string why = where + ": " + e.Error(rc);
    return permanent ? DeliveryResult::Permanent(why) : DeliveryResult::Retryable(why);
  }
  long code = 0;
  curl_easy_getinfo(e.get(), CURLINFO_RESPONSE_CODE, &code);
  if (code >= 200 && code < 300) return DeliveryResult::Delivered();
  const std::string why = where + ": HTTP " + std::to_string(code) + (response.empty() ? "" : ": " + FirstLine(response));
  if (code == 408 || code == 429 || code >= 500) return DeliveryResult::Retryable(why);
  return DeliveryResult::Permanent(why);
}

std::string BareAddress(const std::string& mailbox) {
  const size_t lt = mailbox.rfind('<');
  const size_t gt = mailbox.rfind('>');
  if (lt != std::string::npos && gt != std::string::npos && gt > lt) return mailbox.substr(lt + 1, gt - lt - 1);
  return mailbox;
}

DeliveryResult SendMail(const MailRequest& r) {
  Easy e;
  if (e.get() == nullptr) return DeliveryResult::Retryable("libcurl: cannot create a handle");
  e.Common(r.timeout_ms, r.tls);
  curl_easy_setopt(e.get(), CURLOPT_URL, r.url.c_str());
  const bool implicit_tls = r.url.rfind("smtps://", 0) == 0;
  if (!implicit_tls) {
    curl_easy_setopt(e.get(), CURLOPT_USE_SSL,
                     r.starttls == "required" ? static_cast<long>(CURLUSESSL_ALL)
                     : r.starttls == "opportunistic" ? static_cast<long>(CURLUSESSL_TRY)
                                                     : static_cast<long>(CURLUSESSL_NONE));
  }
  if (!r.username.empty()) {
    curl_easy_setopt(e.get(), CURLOPT_USERNAME, r.username.c_str());
    curl_easy_setopt(e.get(), CURLOPT_PASSWORD, r.password.c_str());
  }
  const std::string from = "<" + BareAddress(r.from) + ">";
  curl_easy_setopt(e.get(), CURLOPT_MAIL_FROM, from.c_str());
  for (const std::string& t : r.to) e.AddRecipient("<" + BareAddress(t) + ">");
  curl_easy_setopt(e.get(), CURLOPT_MAIL_RCPT, e.recipients());
  Upload up{&r.message};
  curl_easy_setopt(e.get(), CURLOPT_READFUNCTION, Read);
  curl_easy_setopt(e.get(), CURLOPT_READDATA, &up);
  curl_easy_setopt(e.get(), CURLOPT_UPLOAD, 1L);
  const CURLcode rc = curl_easy_perform(e.get());
  if (rc == CURLE_OK) return DeliveryResult::Delivered();
  long code = 0;
  curl_easy_getinfo(e.get(), CURLINFO_RESPONSE_CODE, &code);
  const std::string why = "SMTP " + SafeUrl(r.url) + ": " + e.Error(rc) + (code ? " (server said " + std::to_string(code) + ")" : "");
  switch (rc) {
    case CURLE_LOGIN_DENIED:
      return DeliveryResult::Permanent("SMTP " + SafeUrl(r.url) + ": login refused for user '" + r.username +
                                       "' (check username and password)");
    case CURLE_USE_SSL_FAILED:
      return DeliveryResult::Permanent(why + " (the server offers no STARTTLS; set starttls to opportunistic or never "
                                             "only on a trusted network)");
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
      return DeliveryResult::Permanent(why);
    default:
      break;
  }
  // 5xx from the server (recipient or sender refused, message rejected) will not change on retry.
  if (code >= 500 && code < 600) return DeliveryResult::Permanent(why);
  return DeliveryResult::Retryable(why);
}

}  // namespace brickcast::notify
