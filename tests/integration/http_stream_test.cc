// Streaming responses over real sockets: open streams do not take the request workers, the
// stream limit answers 503, and Stop() ends open streams promptly.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "server/http_server.h"

namespace brickcast {
namespace {

using namespace std::chrono_literals;

// Streams one line every 20 ms until the client goes or the server stops: an event source, as
// server-sent events will be (the pause is the source's pace, not a test waiting on time).
HttpResponse Dispatch(const HttpRequest& r) {
  if (r.path == "/stream") {
    HttpResponse res;
    res.content_type = "text/event-stream";
    res.stream = [](StreamWriter& w) {
      while (!w.stopping() && w.Write("data: tick\n\n")) std::this_thread::sleep_for(20ms);
    };
    return res;
  }
  return HttpResponse{200, "text/plain", "pong", {}, nullptr};
}

TEST(HttpStreamTest, StreamsDoNotPinRequestWorkers) {
  HttpServer server(HttpServerOptions{"127.0.0.1", 0, 2, 1 << 20, 6}, Dispatch);
  ASSERT_TRUE(server.Start().ok());
  const int port = server.port();

  // Twice as many streams as request workers, each reading until its first tick arrived.
  std::mutex mu;
  std::condition_variable cv;
  int ticked = 0;
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&, port] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(30, 0);
      bool counted = false;
      c.Get("/stream", [&](const char*, size_t) {
        if (!counted) {
          std::lock_guard<std::mutex> lock(mu);
          ++ticked;
          cv.notify_all();
        }
        counted = true;
        return !done.load();
      });
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return ticked == 4; })) << ticked << " streams ticked";
  }
  EXPECT_EQ(server.open_streams(), 4u);

  // Plain requests still get an answer while four streams are open on two workers.
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(5, 0);
  for (int i = 0; i < 5; ++i) {
    auto r = c.Get("/ping");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "pong");
  }

  // The limit (6): two more streams fit, the seventh is refused with 503 and Retry-After.
  std::vector<std::thread> more;
  for (int i = 0; i < 2; ++i) {
    more.emplace_back([&, port] {
      httplib::Client m("127.0.0.1", port);
      m.Get("/stream", [&](const char*, size_t) { return !done.load(); });
    });
  }
  ASSERT_TRUE(server.WaitForOpenStreams(6, 10s)) << server.open_streams();
  auto refused = c.Get("/stream");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "5");

  // Stop() ends the open streams and returns promptly.
  const auto t0 = std::chrono::steady_clock::now();
  server.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  done = true;
  for (auto& t : readers) t.join();
  for (auto& t : more) t.join();
  EXPECT_EQ(server.open_streams(), 0u);
}

TEST(HttpStreamTest, AClosedStreamGivesItsThreadBack) {
  HttpServer server(HttpServerOptions{"127.0.0.1", 0, 1, 1 << 20, 2}, Dispatch);
  ASSERT_TRUE(server.Start().ok());
  // Open and close streams one after another, more than the limit in total.
  for (int i = 0; i < 5; ++i) {
    httplib::Client c("127.0.0.1", server.port());
    int chunks = 0;
    c.Get("/stream", [&](const char*, size_t) { return ++chunks < 3; });
    EXPECT_GE(chunks, 3);
    // The server notices the client has gone at its next write, then the thread leaves.
    EXPECT_TRUE(server.WaitForOpenStreams(0, 5s)) << "stream " << i;
  }
  server.Stop();
}

}  // namespace
}  // namespace brickcast
