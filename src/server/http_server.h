// HttpServer: the one adapter around cpp-httplib. Routes are (method, path regex, handler) over
// plain request/response structs, so handlers never see httplib types and are testable without a
// socket. Start() binds (port 0 = any free port) and serves on its own thread until Stop().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "brickcast/status.h"

namespace brickcast {

struct HttpRequest {
  std::string method;
  std::string path;
  std::vector<std::string> matches;  // regex capture groups of the (URL-decoded) path
  std::multimap<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string remote_addr;

  std::string Query(const std::string& key, const std::string& fallback = "") const;
  std::string Header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Called for every request before routing; returning a response short-circuits (auth, limits).
using HttpFilter = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 4;
  size_t max_body_bytes = 4 << 20;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // REQUIRES: before Start().
  void Route(const std::string& method, const std::string& path_regex, HttpHandler handler);
  void SetFilter(HttpFilter filter);

  Status Start();
  void Stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  HttpServerOptions options_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace brickcast
