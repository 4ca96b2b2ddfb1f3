#include "server/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <optional>

namespace brickcast {

// The number of open streams, which tests and shutdown can wait on.
class HttpServer::StreamCount {
 public:
  size_t Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return n_;
  }
  // Adds one unless `max` are open already.
  bool TryAdd(size_t max) {
    std::lock_guard<std::mutex> lock(mu_);
    if (n_ >= max) return false;
    ++n_;
    cv_.notify_all();
    return true;
  }
  void Remove() {
    std::lock_guard<std::mutex> lock(mu_);
    --n_;
    cv_.notify_all();
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return n_ == n; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  size_t n_ = 0;
};

// cpp-httplib runs each connection as one task on its TaskQueue. This queue keeps `workers`
// threads for requests; a worker that starts a stream detaches (it will exit when its connection
// ends) and a fresh worker replaces it at once, so streams never starve requests.
class HttpServer::WorkerPool : public httplib::TaskQueue {
 public:
  WorkerPool(size_t workers, size_t max_streams, StreamCount* streams)
      : max_streams_(max_streams), streams_(streams) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < workers; ++i) SpawnLocked();
  }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }

  // Called by httplib once its accept loop has ended: the queued connections are served, then
  // every thread, detached ones included, is joined.
  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (;;) {
      std::list<std::thread> threads;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (threads_.empty()) break;
        threads.swap(threads_);
      }
      for (std::thread& t : threads) t.join();
    }
  }

  // The pool of the calling worker thread (null on any other thread).
  static WorkerPool* Current() { return current_; }

  // Called on a worker about to serve a stream: false when max_streams are already open.
  bool Detach() {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || !streams_->TryAdd(max_streams_)) return false;
    detached_ = true;
    ReapLocked();
    SpawnLocked();
    return true;
  }

 private:
  void SpawnLocked() { threads_.emplace_back([this] { Loop(); }); }

  void Loop() {
    current_ = this;
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping and nothing left to serve
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
      if (detached_) {
        std::lock_guard<std::mutex> lock(mu_);
        streams_->Remove();
        finished_.push_back(std::this_thread::get_id());
        return;
      }
    }
  }

  // Joins detached threads that have ended (they only return after recording themselves).
  void ReapLocked() {
    for (auto it = threads_.begin(); it != threads_.end();) {
      if (std::find(finished_.begin(), finished_.end(), it->get_id()) != finished_.end()) {
        it->join();
        it = threads_.erase(it);
      } else {
        ++it;
      }
    }
    finished_.clear();
  }

  static thread_local WorkerPool* current_;
  static thread_local bool detached_;
  const size_t max_streams_;
  StreamCount* streams_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::list<std::thread> threads_;
  std::vector<std::thread::id> finished_;
  bool stop_ = false;
};

thread_local HttpServer::WorkerPool* HttpServer::WorkerPool::current_ = nullptr;
thread_local bool HttpServer::WorkerPool::detached_ = false;

namespace {

class SinkWriter : public StreamWriter {
 public:
  SinkWriter(httplib::DataSink& sink, const std::atomic<bool>& stopping) : sink_(sink), stopping_(stopping) {}
  bool Write(std::string_view chunk) override {
    return sink_.is_writable() && sink_.write(chunk.data(), chunk.size());
  }
  bool stopping() const override { return stopping_.load(); }

 private:
  httplib::DataSink& sink_;
  const std::atomic<bool>& stopping_;
};

HttpRequest FromHttplib(const httplib::Request& req) {
  HttpRequest r;
  r.method = req.method;
  r.path = req.path;  // httplib has already URL-decoded it
  for (const auto& [k, v] : req.params) r.query.emplace(k, v);
  for (const auto& [k, v] : req.headers) {
    std::string name = k;
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    r.headers[name] = v;
  }
  r.body = req.body;
  r.remote_addr = req.remote_addr;
  return r;
}

}  // namespace

// TLS certificate and key, re-read when their files change: a renewed certificate (certbot, a
// site PKI) is served from the next handshake on, without a restart. A file that fails to load
// (half written, key not matching) keeps the last good pair in service and is logged.
class HttpServer::Certificates {
 public:
  Certificates(std::string cert_file, std::string key_file, std::chrono::milliseconds recheck)
      : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)), recheck_(recheck) {}

  Status Load() {
    std::lock_guard<std::mutex> lock(mu_);
    return LoadLocked();
  }
  // For one handshake: reload if the files changed (looked at most once a second), then use.
  bool Use(SSL* ssl) {
    std::shared_ptr<const Pair> pair;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto now = std::chrono::steady_clock::now();
      if (now - checked_ >= recheck_) {
        checked_ = now;
        if (Stamp() != stamp_) {
          Status st = LoadLocked();
          if (!st.ok()) spdlog::error("tls: {} (the previous certificate stays in service)", st.message());
          else spdlog::info("tls: certificate reloaded from {}", cert_file_);
        }
      }
      pair = pair_;
    }
    if (!pair) return false;
    return SSL_use_cert_and_key(ssl, pair->cert, pair->key, pair->chain, 1) == 1;
  }

 private:
  struct Pair {
    X509* cert = nullptr;
    EVP_PKEY* key = nullptr;
    STACK_OF(X509)* chain = nullptr;
    ~Pair() {
      X509_free(cert);
      EVP_PKEY_free(key);
      sk_X509_pop_free(chain, X509_free);
    }
  };
  std::string Stamp() const {
    std::string out;
    for (const std::string* f : {&cert_file_, &key_file_}) {
      std::error_code ec;
      const auto t = std::filesystem::last_write_time(*f, ec);
      const auto size = std::filesystem::file_size(*f, ec);
      out += std::to_string(t.time_since_epoch().count()) + ":" + std::to_string(ec ? 0 : size) + ";";
    }
    return out;
  }
  Status LoadLocked() {
    const std::string stamp = Stamp();
    auto pair = std::make_shared<Pair>();
    pair->chain = sk_X509_new_null();
    BIO* cert_bio = BIO_new_file(cert_file_.c_str(), "r");
    if (cert_bio == nullptr) return Status::NotFound("tls.cert_file " + cert_file_ + ": cannot read");
    pair->cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
    // The rest of the file is the chain of intermediates.
    while (X509* extra = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr)) sk_X509_push(pair->chain, extra);
    BIO_free(cert_bio);
    ERR_clear_error();
    if (pair->cert == nullptr) return Status::InvalidArgument("tls.cert_file " + cert_file_ + ": no PEM certificate");
    BIO* key_bio = BIO_new_file(key_file_.c_str(), "r");
    if (key_bio == nullptr) return Status::NotFound("tls.key_file " + key_file_ + ": cannot read");
    pair->key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    BIO_free(key_bio);
    ERR_clear_error();
    if (pair->key == nullptr) return Status::InvalidArgument("tls.key_file " + key_file_ + ": no PEM private key");
    if (X509_check_private_key(pair->cert, pair->key) != 1) {
      ERR_clear_error();
      return Status::InvalidArgument("tls: the key in " + key_file_ + " does not match the certificate in " + cert_file_);
    }
    pair_ = std::move(pair);
    stamp_ = stamp;
    return Status::Ok();
  }

  const std::string cert_file_, key_file_;
  const std::chrono::milliseconds recheck_;
  std::mutex mu_;
  std::shared_ptr<const Pair> pair_;  // guarded by mu_ (the pair itself is immutable)
  std::string stamp_;
  std::chrono::steady_clock::time_point checked_{};
};

struct HttpServer::Impl {
  std::unique_ptr<httplib::Server> server;  // an SSLServer when TLS is configured
  std::unique_ptr<Certificates> certificates;
  Status tls_status;
  HttpHandler dispatch;
  std::atomic<bool> stopping{false};
  StreamCount streams;
};

std::string HttpRequest::Query(const std::string& key, const std::string& fallback) const {
  auto it = query.find(key);
  return it == query.end() ? fallback : it->second;
}

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::string HttpRequest::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler dispatch)
    : impl_(std::make_unique<Impl>()), options_(std::move(options)) {
  impl_->dispatch = std::move(dispatch);
  if (options_.tls_cert_file.empty()) {
    impl_->server = std::make_unique<httplib::Server>();
  } else {
    impl_->certificates = std::make_unique<Certificates>(options_.tls_cert_file, options_.tls_key_file,
                                                                options_.tls_recheck);
    impl_->tls_status = impl_->certificates->Load();
    Certificates* certs = impl_->certificates.get();
    impl_->server = std::make_unique<httplib::SSLServer>([certs](SSL_CTX& ctx) {
      SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
      SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
      // The certificate is chosen per handshake, so a renewed one is used without a restart.
      SSL_CTX_set_cert_cb(&ctx, [](SSL* ssl, void* arg) { return static_cast<Certificates*>(arg)->Use(ssl) ? 1 : 0; },
                          certs);
      return true;
    });
  }
  const size_t threads = static_cast<size_t>(std::max(1, options_.threads));
  const size_t max_streams = options_.max_streams;
  StreamCount* streams = &impl_->streams;
  impl_->server->new_task_queue = [threads, max_streams, streams] {
    return new WorkerPool(threads, max_streams, streams);
  };
  impl_->server->set_payload_max_length(options_.max_body_bytes);
  impl_->server->set_read_timeout(10, 0);
  impl_->server->set_write_timeout(10, 0);
  // A kept-alive connection holds a request worker; after 100 requests it is closed (the client
  // reconnects at once), so that busy clients take turns with others waiting for a worker.
  impl_->server->set_keep_alive_max_count(100);
  // Headers and body go out in separate writes: with Nagle on, the body waited for the client's
  // delayed ACK, and every answer on a kept-alive connection took 40 ms (measured with wrk).
  impl_->server->set_tcp_nodelay(true);
  // Uncaught exceptions in a handler become a JSON 500, never a crash.
  impl_->server->set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
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
  impl_->server->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string code = res.status == 413 ? "payload_too_large" : "http_error";
    res.set_content(R"({"error":{"code":")" + code + R"(","message":"HTTP )" + std::to_string(res.status) + R"("}})",
                    "application/json");
  });

  auto handle = [impl = impl_.get()](const httplib::Request& req, httplib::Response& res) {
    HttpResponse out = impl->dispatch(FromHttplib(req));
    if (out.stream) {
      WorkerPool* pool = WorkerPool::Current();
      if (pool == nullptr || !pool->Detach()) {
        out = HttpResponse{503, "application/json",
                           R"({"error":{"code":"unavailable","message":"too many open streams; retry later"}})",
                           {{"Retry-After", "5"}}, nullptr};
      }
    }
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k.c_str(), v);
    if (!out.stream) {
      res.set_content(out.body, out.content_type.c_str());
      return;
    }
    res.set_chunked_content_provider(out.content_type,
                                     [impl, stream = std::move(out.stream)](size_t, httplib::DataSink& sink) {
                                       SinkWriter writer(sink, impl->stopping);
                                       stream(writer);
                                       sink.done();
                                       return true;
                                     });
  };
  // Every method and path goes to the route table, which answers 404/405 itself.
  impl_->server->Get(".*", handle);
  impl_->server->Post(".*", handle);
  impl_->server->Put(".*", handle);
  impl_->server->Patch(".*", handle);
  impl_->server->Delete(".*", handle);
  impl_->server->Options(".*", handle);
}

HttpServer::~HttpServer() { Stop(); }

size_t HttpServer::open_streams() const { return impl_->streams.Get(); }

bool HttpServer::WaitForOpenStreams(size_t n, std::chrono::milliseconds timeout) const {
  return impl_->streams.WaitFor(n, timeout);
}

Status HttpServer::Start() {
  if (!impl_->tls_status.ok()) return impl_->tls_status;
  if (!impl_->server->is_valid()) return Status::Internal("http: the TLS context could not be set up");
  if (options_.port == 0) {
    port_ = impl_->server->bind_to_any_port(options_.host);
    if (port_ <= 0) return Status::Unavailable("http: cannot bind " + options_.host);
  } else {
    if (!impl_->server->bind_to_port(options_.host, options_.port))
      return Status::Unavailable("http: cannot bind " + options_.host + ":" + std::to_string(options_.port) +
                                 " (in use?)");
    port_ = options_.port;
  }
  thread_ = std::thread([this] { impl_->server->listen_after_bind(); });
  // Wait until the accept loop runs so that callers (and tests) can connect at once.
  for (int i = 0; i < 500 && !impl_->server->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  spdlog::info("{} listening on {}:{}", impl_->certificates ? "https" : "http", options_.host, port_);
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  impl_->stopping = true;  // open streams return; then httplib's shutdown joins their threads
  impl_->server->stop();
  thread_.join();
}

}  // namespace brickcast
