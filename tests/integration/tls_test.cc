// HTTPS: the API over TLS with a certificate from files, a renewed certificate served from the
// next handshake without a restart, a broken renewal keeping the last good one, and a key that
// does not match refused at start. Certificates are made by the openssl command for each run.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/http_server.h"
#include "test_support.h"

namespace brickcast {
namespace {

using testing::TempDir;

// A self-signed certificate for 127.0.0.1 named `name` (name.crt, name.key) in `dir`.
void MakeCertificate(const std::string& dir, const std::string& name) {
  const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=" +
                          name + " -addext subjectAltName=IP:127.0.0.1 -keyout " + dir + "/" + name + ".key -out " +
                          dir + "/" + name + ".crt 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl (Debian package openssl) must be installed";
}

void Install(const std::string& dir, const std::string& name) {
  // Renamed into place, as certbot and most PKI tools do.
  for (const char* ext : {".crt", ".key"}) {
    std::filesystem::copy_file(dir + "/" + name + ext, dir + "/next" + ext,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(dir + "/next" + ext, dir + "/server" + ext);
  }
}

// Status of GET /ping from a client that trusts only `ca`; -1 when the TLS handshake fails.
int Get(int port, const std::string& ca) {
  httplib::SSLClient c("127.0.0.1", port);
  c.set_ca_cert_path(ca.c_str());
  c.enable_server_certificate_verification(true);
  c.set_connection_timeout(5, 0);
  auto res = c.Get("/ping");
  return res ? res->status : -1;
}

HttpResponse Pong(const HttpRequest&) { return HttpResponse{200, "text/plain", "pong", {}, nullptr}; }

TEST(TlsTest, ServesHttpsAndPicksUpARenewedCertificateWithoutARestart) {
  TempDir dir;
  MakeCertificate(dir.path(), "first");
  MakeCertificate(dir.path(), "second");
  Install(dir.path(), "first");
  HttpServerOptions o{"127.0.0.1", 0, 2, 1 << 20, 4};
  o.tls_cert_file = dir.path() + "/server.crt";
  o.tls_key_file = dir.path() + "/server.key";
  o.tls_recheck = std::chrono::milliseconds(0);  // every handshake looks at the files: no waiting here
  HttpServer server(o, Pong);
  ASSERT_TRUE(server.Start().ok());
  const int port = server.port();
  EXPECT_EQ(Get(port, dir.path() + "/first.crt"), 200);
  EXPECT_EQ(Get(port, dir.path() + "/second.crt"), -1) << "a client that does not trust it refuses it";
  httplib::Client plain("127.0.0.1", port);
  plain.set_connection_timeout(2, 0);
  plain.set_read_timeout(2, 0);
  auto cleartext = plain.Get("/ping");
  EXPECT_TRUE(!cleartext || cleartext->status != 200) << "no cleartext on the TLS port";

  Install(dir.path(), "second");
  EXPECT_EQ(Get(port, dir.path() + "/second.crt"), 200) << "the renewed certificate is served";
  EXPECT_EQ(Get(port, dir.path() + "/first.crt"), -1);

  // A renewal that went wrong (half a file) leaves the service on the last good certificate.
  std::ofstream(dir.path() + "/server.crt", std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nMIIB\n";
  EXPECT_EQ(Get(port, dir.path() + "/second.crt"), 200);
  server.Stop();
}

TEST(TlsTest, AKeyThatDoesNotMatchTheCertificateIsRefusedAtStart) {
  TempDir dir;
  MakeCertificate(dir.path(), "first");
  MakeCertificate(dir.path(), "second");
  HttpServerOptions o{"127.0.0.1", 0, 1, 1 << 20, 1};
  o.tls_cert_file = dir.path() + "/first.crt";
  o.tls_key_file = dir.path() + "/second.key";
  HttpServer server(o, Pong);
  const Status st = server.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("does not match the certificate"), std::string::npos) << st.message();
  o.tls_key_file = dir.path() + "/missing.key";
  HttpServer missing(o, Pong);
  EXPECT_NE(missing.Start().message().find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace brickcast
