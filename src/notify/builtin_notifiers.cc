// The built-in notifiers: email (SMTP), sms (HTTP gateway), webhook (Alertmanager v4 JSON) and
// alertmanager (its v2 API). Each renders with notify/render.h and sends with notify/curl_client.h.
#include <dlfcn.h>

#include <cctype>
#include <filesystem>

#include "brickcast/notifier_plugin.h"
#include "brickcast/notify.h"
#include "notify/curl_client.h"
#include "notify/render.h"

namespace brickcast {
namespace {

using notify::HttpRequest;
using notify::TlsOptions;

TlsOptions Tls(const ReceiverConfig& r) { return TlsOptions{r.tls_verify, r.ca_file}; }
notify::Templates Wording(const ReceiverConfig& r) { return notify::Templates{r.title_template, r.text_template}; }

class EmailNotifier : public Notifier {
 public:
  explicit EmailNotifier(ReceiverConfig r) : r_(std::move(r)) {}
  DeliveryResult Deliver(const Notification& n) override {
    notify::MailRequest m;
    m.url = r_.smtp_url;
    m.starttls = r_.starttls;
    m.username = r_.username;
    m.password = r_.password;
    m.from = r_.from;
    m.to = r_.to;
    m.message = notify::EmailMessage(n, r_.from, r_.to, Wording(r_));
    m.timeout_ms = r_.timeout_ms;
    m.tls = Tls(r_);
    return notify::SendMail(m);
  }

 private:
  ReceiverConfig r_;
};

// Twilio's Messages API form, or a JSON template, one request per number.
class SmsNotifier : public Notifier {
 public:
  explicit SmsNotifier(ReceiverConfig r) : r_(std::move(r)) {}
  std::vector<std::string> Targets() const override { return r_.to; }
  DeliveryResult Deliver(const Notification& n) override {
    const notify::SmsText sms = notify::RenderSms(n, Wording(r_));
    HttpRequest req;
    req.url = r_.url;
    req.timeout_ms = r_.timeout_ms;
    req.tls = Tls(r_);
    req.headers.push_back("Idempotency-Key: " + n.key);
    if (r_.sms_format == "twilio") {
      req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
      req.body = "To=" + FormEncode(n.target) + "&From=" + FormEncode(r_.from) + "&Body=" + FormEncode(sms.text);
      req.basic_user = r_.account;
      req.basic_password = r_.token;
    } else {
      req.headers.push_back("Content-Type: application/json");
      if (!r_.token.empty()) req.headers.push_back("Authorization: Bearer " + r_.token);
      req.body = r_.sms_json_template;
      Replace(&req.body, "{{to}}", notify::JsonEscape(n.target));
      Replace(&req.body, "{{from}}", notify::JsonEscape(r_.from));
      Replace(&req.body, "{{text}}", notify::JsonEscape(sms.text));
      Replace(&req.body, "{{key}}", notify::JsonEscape(n.key));
    }
    return notify::HttpPost(req);
  }

 private:
  static std::string FormEncode(const std::string& s) {
    static const char* kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
        out += static_cast<char>(c);
      } else if (c == ' ') {
        out += '+';
      } else {
        out += '%';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
    return out;
  }
  static void Replace(std::string* s, const std::string& from, const std::string& to) {
    for (size_t p = s->find(from); p != std::string::npos; p = s->find(from, p + to.size())) s->replace(p, from.size(), to);
  }
  ReceiverConfig r_;
};

class WebhookNotifier : public Notifier {
 public:
  explicit WebhookNotifier(ReceiverConfig r) : r_(std::move(r)) {}
  DeliveryResult Deliver(const Notification& n) override {
    HttpRequest req;
    req.url = r_.url;
    req.timeout_ms = r_.timeout_ms;
    req.tls = Tls(r_);
    req.headers = {"Content-Type: application/json", "Idempotency-Key: " + n.key};
    if (!r_.token.empty()) req.headers.push_back("Authorization: Bearer " + r_.token);
    req.body = notify::WebhookV4Json(n, r_.max_alerts);
    return notify::HttpPost(req);
  }

 private:
  ReceiverConfig r_;
};

// Alertmanager deduplicates by labels itself; a firing alert is given an end a few resend
// intervals ahead, so it resolves there on its own if brickcast stops re-sending it.
class AlertmanagerNotifier : public Notifier {
 public:
  AlertmanagerNotifier(ReceiverConfig r, const Clock* clock) : r_(std::move(r)), clock_(clock) {}
  DeliveryResult Deliver(const Notification& n) override {
    HttpRequest req;
    std::string base = r_.url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    req.url = base + "/api/v2/alerts";
    req.timeout_ms = r_.timeout_ms;
    req.tls = Tls(r_);
    req.headers = {"Content-Type: application/json"};
    if (!r_.token.empty()) req.headers.push_back("Authorization: Bearer " + r_.token);
    req.body = notify::AlertmanagerV2Json(n, clock_->Now() + 4 * r_.resend_ms);
    return notify::HttpPost(req);
  }

 private:
  ReceiverConfig r_;
  const Clock* clock_;
};

// A .so plugin behind the C ABI of brickcast/notifier_plugin.h.
class PluginNotifier : public Notifier {
 public:
  PluginNotifier(void* handle, const brickcast_notifier_plugin* api, void* state, notify::Templates wording)
      : handle_(handle), api_(api), state_(state), wording_(std::move(wording)) {}
  ~PluginNotifier() override {
    if (api_->shutdown != nullptr) api_->shutdown(state_);
    dlclose(handle_);
  }
  DeliveryResult Deliver(const Notification& n) override {
    const std::string status = n.Firing() ? "firing" : "resolved";
    const std::string title = notify::Title(n, wording_);
    const std::string text = notify::TextBody(n, wording_);
    const std::string json = notify::WebhookV4Json(n, 0);
    const brickcast_notification c{n.key.c_str(), n.receiver.c_str(), status.c_str(), title.c_str(), text.c_str(),
                                   json.c_str()};
    char reason[512] = {};
    const int rc = api_->deliver(state_, &c, reason, sizeof reason - 1);
    const std::string why = std::string("plugin ") + api_->name + ": " + (reason[0] ? reason : "no reason given");
    if (rc == BRICKCAST_DELIVERED) return DeliveryResult::Delivered();
    if (rc == BRICKCAST_RETRYABLE) return DeliveryResult::Retryable(why);
    return DeliveryResult::Permanent(why);
  }

 private:
  void* handle_;
  const brickcast_notifier_plugin* api_;
  void* state_;
  notify::Templates wording_;
};

StatusOr<std::unique_ptr<Notifier>> LoadPlugin(const ReceiverConfig& r, const std::string& plugin_dir) {
  namespace fs = std::filesystem;
  fs::path path(r.plugin);
  if (path.is_relative() && !plugin_dir.empty()) path = fs::path(plugin_dir) / path;
  const std::string where = "receiver " + r.name + ": plugin " + path.string();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return Status::FailedPrecondition(where + ": cannot load: " + dlerror());
  auto entry = reinterpret_cast<brickcast_notifier_plugin_entry_fn>(dlsym(handle, BRICKCAST_NOTIFIER_ENTRY));
  if (entry == nullptr) {
    dlclose(handle);
    return Status::FailedPrecondition(where + ": no " BRICKCAST_NOTIFIER_ENTRY " symbol (not a brickcast notifier plugin)");
  }
  const brickcast_notifier_plugin* api = entry();
  if (api == nullptr || api->abi_version != BRICKCAST_NOTIFIER_ABI_VERSION) {
    const std::string got = api == nullptr ? "none" : std::to_string(api->abi_version);
    dlclose(handle);
    return Status::FailedPrecondition(where + ": ABI version " + got + ", this brickcast speaks " +
                                      std::to_string(BRICKCAST_NOTIFIER_ABI_VERSION) + " (rebuild the plugin)");
  }
  if (api->init == nullptr || api->deliver == nullptr) {
    dlclose(handle);
    return Status::FailedPrecondition(where + ": init or deliver is missing from its table");
  }
  void* state = nullptr;
  char error[512] = {};
  const std::string config = r.plugin_config.empty() ? "{}" : r.plugin_config;
  if (api->init(config.c_str(), &state, error, sizeof error - 1) != 0) {
    dlclose(handle);
    return Status::FailedPrecondition(where + ": init failed: " + (error[0] ? error : "no reason given"));
  }
  return std::unique_ptr<Notifier>(new PluginNotifier(handle, api, state, Wording(r)));
}

}  // namespace

StatusOr<std::unique_ptr<Notifier>> MakeNotifier(const ReceiverConfig& r, const std::string& plugin_dir) {
  if (r.kind == "email") return std::unique_ptr<Notifier>(new EmailNotifier(r));
  if (r.kind == "sms") return std::unique_ptr<Notifier>(new SmsNotifier(r));
  if (r.kind == "webhook") return std::unique_ptr<Notifier>(new WebhookNotifier(r));
  if (r.kind == "alertmanager") return std::unique_ptr<Notifier>(new AlertmanagerNotifier(r, &Clock::Real()));
  if (r.kind == "plugin") return LoadPlugin(r, plugin_dir);
  return Status::InvalidArgument("receiver " + r.name + ": unknown kind '" + r.kind + "'");
}

}  // namespace brickcast
