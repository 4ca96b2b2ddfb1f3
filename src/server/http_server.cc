#include "server/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>

namespace brickcast {

struct HttpServer::Impl {
  httplib::Server server;
  HttpFilter filter;
};

std::string HttpRequest::Query(const std::string& key, const std::string& fallback) const {
  auto it = query.find(key);
  return it == query.end() ? fallback : it->second;
}

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>()), options_(std::move(options)) {
  const int threads = options_.threads;
  impl_->server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  impl_->server.set_payload_max_length(options_.max_body_bytes);
  impl_->server.set_read_timeout(10, 0);
  impl_->server.set_write_timeout(10, 0);
  impl_->server.set_keep_alive_max_count(1000);
  // Uncaught exceptions in a handler become a JSON 500, never a crash.
  impl_->server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("http handler failed path={} error={}", req.path, what);
    res.status = 500;
    res.set_content(R"({"error":{"code":"internal","message":"internal error"}})", "application/json");
  });
  impl_->server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string code = res.status == 404 ? "not_found" : res.status == 413 ? "payload_too_large" : "http_error";
    res.set_content(R"({"error":{"code":")" + code + R"(","message":"HTTP )" + std::to_string(res.status) + R"("}})",
                    "application/json");
  });
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::SetFilter(HttpFilter filter) { impl_->filter = std::move(filter); }

void HttpServer::Route(const std::string& method, const std::string& path_regex, HttpHandler handler) {
  auto wrapped = [this, method, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    HttpRequest r;
    r.method = method;
    r.path = req.path;
    // httplib has already URL-decoded the path, so captures are plain text.
    for (size_t i = 1; i < req.matches.size(); ++i) r.matches.push_back(req.matches[i].str());
    for (const auto& [k, v] : req.params) r.query.emplace(k, v);
    for (const auto& [k, v] : req.headers) {
      std::string name = k;
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      r.headers[name] = v;
    }
    r.body = req.body;
    r.remote_addr = req.remote_addr;
    std::optional<HttpResponse> out;
    if (impl_->filter) out = impl_->filter(r);
    if (!out) out = handler(r);
    res.status = out->status;
    res.set_content(out->body, out->content_type.c_str());
  };
  if (method == "GET") impl_->server.Get(path_regex, wrapped);
  else if (method == "POST") impl_->server.Post(path_regex, wrapped);
  else if (method == "DELETE") impl_->server.Delete(path_regex, wrapped);
  else if (method == "PUT") impl_->server.Put(path_regex, wrapped);
}

Status HttpServer::Start() {
  if (options_.port == 0) {
    port_ = impl_->server.bind_to_any_port(options_.host);
    if (port_ <= 0) return Status::Unavailable("http: cannot bind " + options_.host);
  } else {
    if (!impl_->server.bind_to_port(options_.host, options_.port))
      return Status::Unavailable("http: cannot bind " + options_.host + ":" + std::to_string(options_.port) +
                                 " (in use?)");
    port_ = options_.port;
  }
  thread_ = std::thread([this] { impl_->server.listen_after_bind(); });
  // Wait until the accept loop runs so that callers (and tests) can connect at once.
  for (int i = 0; i < 500 && !impl_->server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  spdlog::info("http listening on {}:{}", options_.host, port_);
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  impl_->server.stop();
  thread_.join();
}

}  // namespace brickcast
