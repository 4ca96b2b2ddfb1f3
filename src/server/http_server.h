// HttpServer: the one adapter around cpp-httplib. Every request goes to one dispatch function over
// plain request/response structs (the API's route table), so handlers never see httplib types and
// are testable without a socket. Start() binds (port 0 = any free port) and serves on its own
// thread until Stop().
//
// Streaming responses (server-sent events) do not occupy a request worker: the worker that starts
// a stream leaves the pool and a new worker takes its place, up to `max_streams` open streams.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "brickcast/status.h"

namespace brickcast {

struct HttpRequest {
  std::string method;
  std::string path;  // URL-decoded
  std::map<std::string, std::string> params;  // path parameters of the matched route ("point")
  std::multimap<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string remote_addr;
  std::string principal;  // who is calling (the token's name), set by the route table; "" when open

  std::string Query(const std::string& key, const std::string& fallback = "") const;
  std::string Header(const std::string& lower_name) const;
  std::string Param(const std::string& name) const;
};

// Where a streaming response writes. Write returns false once the client has gone; stopping()
// turns true when the server shuts down, and the stream should then return promptly.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual bool Write(std::string_view chunk) = 0;
  virtual bool stopping() const = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;  // extra headers (Allow, Retry-After, ETag, ...)
  // When set, the body is produced by this function instead (chunked); it runs on a thread of
  // its own and returns when it is done, the client has gone or the server stops.
  std::function<void(StreamWriter&)> stream;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 4;  // request workers
  size_t max_body_bytes = 4 << 20;
  size_t max_streams = 64;  // open streaming responses; more are answered 503
  // TLS when both are set: PEM certificate (with its chain) and key, re-read when they change.
  std::string tls_cert_file, tls_key_file;
  // How often a handshake looks at the files again (tests: 0, every handshake).
  std::chrono::milliseconds tls_recheck{1000};
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler dispatch);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  Status Start();
  // Ends open streams (they see stopping()) and joins every thread. Idempotent.
  void Stop();
  int port() const { return port_; }
  size_t open_streams() const;
  // Blocks until exactly `n` streams are open or the timeout passes; true when they are.
  bool WaitForOpenStreams(size_t n, std::chrono::milliseconds timeout) const;

 private:
  class WorkerPool;
  class StreamCount;
  class Certificates;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  HttpServerOptions options_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace brickcast
