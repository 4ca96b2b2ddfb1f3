#include <gtest/gtest.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "brickcast/config.h"
#include "brickcast/rules.h"
#include "brickcast/daemon.h"
#include "brickcast/kafka.h"
#include "brickcast/logging.h"
#include "brickcast/sha256.h"
#include "test_support.h"

namespace brickcast {
namespace {

using testing::SourcePath;
using testing::TempDir;

TEST(ConfigTest, EmptyObjectGivesDefaults) {
  auto c = LoadConfigText("{}", "");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->site.timezone, "UTC");
  EXPECT_EQ(c->store.step_seconds, 300);
  EXPECT_EQ(c->store.window_steps, 288u);
  EXPECT_EQ(c->http.host, "127.0.0.1");
  EXPECT_EQ(c->http.port, 8080);
  EXPECT_TRUE(c->ingest.accept_unknown_points);
  EXPECT_EQ(c->ingest.format, StreamFormat::kAuto);
  EXPECT_NE(c->effective_json.find("\"step_seconds\": 300"), std::string::npos);
}

// Found by the config fuzzer (fuzz/crashes/config/number-overflow): a number too large for a
// double made the JSON parser throw out_of_range, which nothing caught.
TEST(ConfigTest, ANumberThatOverflowsIsAnErrorNotACrash) {
  auto c = LoadConfigText(R"({"store": {"window_steps": 7e7777}})", ".");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("not valid JSON"), std::string::npos) << c.status().message();
  auto rules = ParseRules(R"({"rules": [{"id": "r", "limit": 1e999}]})", "r.json");
  EXPECT_FALSE(rules.ok());
}

TEST(ConfigTest, ReportsEveryErrorWithItsPointer) {
  auto c = LoadConfigText(R"({
    "site": {"timezone": "Mars/Base"},
    "store": {"step_seconds": "five", "window_stepz": 10},
    "ingest": {"format": "xml", "unknown_points": "maybe"},
    "http": {"listen": "nonsense", "tokens": [{"scope": "god"}]},
    "kafak": {}
  })", "");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  for (const char* expected : {"/site/timezone: time zone 'Mars/Base' not found",
                               "/store/step_seconds: expected integer",
                               "/store/window_stepz: unknown key",
                               "/ingest/format: unknown stream format 'xml'",
                               "/ingest/unknown_points: must be one of accept, reject",
                               "/http/tokens/0/name: required",
                               "/http/tokens/0/scope: must be one of read, operate, admin",
                               "/kafak: unknown key"}) {
    EXPECT_NE(m.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << m;
  }
}

TEST(ConfigTest, ListenIsValidated) {
  auto c = LoadConfigText(R"({"http": {"listen": "localhost"}})", "");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/http/listen: expected HOST:PORT"), std::string::npos);
  auto ok = LoadConfigText(R"({"http": {"listen": "127.0.0.1:0"}})", "");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->http.port, 0);
  // All interfaces parse too (with tokens: see AnOpenApiOnAReachableAddressIsRefused).
  auto any = LoadConfigText(R"({"http": {"listen": "0.0.0.0:0", "tokens_file": "t.json"}})", "");
  ASSERT_TRUE(any.ok()) << any.status().message();
  EXPECT_EQ(any->http.host, "0.0.0.0");
}

TEST(ConfigTest, NotJsonIsAClearError) {
  auto c = LoadConfigText("{ \"site\": ", "");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("not valid JSON"), std::string::npos);
}

TEST(ConfigTest, SecretsAreRedactedAndTokenFilesRead) {
  TempDir dir;
  dir.File("token.txt", "file-secret-123\n");
  auto c = LoadConfigText(R"({"http": {"tokens": [
      {"name": "ops", "token": "inline-secret-456", "scope": "admin"},
      {"name": "bms", "token_file": "token.txt", "scope": "operate"}]}})",
                          dir.path());
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->http.tokens.size(), 2u);
  // Only hashes are kept: requests are checked against them.
  EXPECT_EQ(c->http.tokens[0].sha256, Sha256Hex("inline-secret-456"));
  EXPECT_EQ(c->http.tokens[1].sha256, Sha256Hex("file-secret-123"));
  EXPECT_TRUE(c->http.tokens[0].token.empty());
  EXPECT_TRUE(c->http.tokens[1].token.empty());
  EXPECT_EQ(c->effective_json.find("inline-secret-456"), std::string::npos);
  EXPECT_EQ(c->effective_json.find("file-secret-123"), std::string::npos);
  EXPECT_NE(c->effective_json.find("<secret>"), std::string::npos);
}

TEST(ConfigTest, TokensMayBeGivenAsHashesAndEachOneExactlyOnce) {
  const std::string hash = Sha256Hex("s3cret");
  auto ok = LoadConfigText(R"({"http": {"tokens": [{"name": "ops", "sha256": ")" + hash + R"(", "scope": "operate"}]}})", ".");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->http.tokens[0].sha256, hash);
  auto both = LoadConfigText(R"({"http": {"tokens": [{"name": "ops", "token": "x", "sha256": ")" + hash + R"("}]}})", ".");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("/http/tokens/0: exactly one of token, token_file or sha256"), std::string::npos)
      << both.status().message();
  auto short_hash = LoadConfigText(R"({"http": {"tokens": [{"name": "ops", "sha256": "abc"}]}})", ".");
  ASSERT_FALSE(short_hash.ok());
  EXPECT_NE(short_hash.status().message().find("/http/tokens/0/sha256"), std::string::npos);
}

TEST(ConfigTest, AnOpenApiOnAReachableAddressIsRefused) {
  auto open = LoadConfigText(R"({"http": {"listen": "0.0.0.0:8080"}})", ".");
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("/http/listen: 0.0.0.0 is reachable from other machines and no tokens"),
            std::string::npos) << open.status().message();
  for (const char* loopback : {"127.0.0.1:0", "localhost:8080", "[::1]:8080"}) {
    auto c = LoadConfigText(std::string(R"({"http": {"listen": ")") + loopback + R"("}})", ".");
    EXPECT_TRUE(c.ok()) << loopback << ": " << c.status().message();
  }
  auto with_file = LoadConfigText(R"({"http": {"listen": "0.0.0.0:8080", "tokens_file": "tokens.json"}})", "/etc/x");
  ASSERT_TRUE(with_file.ok()) << with_file.status().message();
  EXPECT_EQ(with_file->http.tokens_file, "/etc/x/tokens.json");
  // The shipped container config listens on all interfaces: it must come with tokens.
  auto docker = LoadConfigFile(std::string(BRICKCAST_SOURCE_DIR) + "/docker/brickcast.docker.json");
  EXPECT_TRUE(docker.ok()) << docker.status().message();
}

TEST(ConfigTest, TlsNeedsBothTheCertificateAndTheKey) {
  auto half = LoadConfigText(R"({"http": {"tls": {"cert_file": "server.crt"}}})", "/etc/brickcast");
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("/http/tls: give both cert_file and key_file"), std::string::npos);
  auto both = LoadConfigText(R"({"http": {"tls": {"cert_file": "server.crt", "key_file": "server.key"}}})",
                             "/etc/brickcast");
  ASSERT_TRUE(both.ok()) << both.status().message();
  EXPECT_EQ(both->http.tls_cert_file, "/etc/brickcast/server.crt");
  EXPECT_EQ(both->http.tls_key_file, "/etc/brickcast/server.key");
}

TEST(ConfigTest, KafkaPropertiesPassThroughWithPasswordsRedacted) {
  auto c = LoadConfigText(R"({"kafka": {"brokers": "b1:9092,b2:9092", "topics": ["hvac", "^site-.*"],
      "properties": {"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.username": "bc",
                     "sasl.password": "s3cr3t", "ssl.key.password": "k3y"}}})", "");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->kafka.properties.at("sasl.password"), "s3cr3t");
  EXPECT_EQ(c->kafka.topics, (std::vector<std::string>{"hvac", "^site-.*"}));
  EXPECT_EQ(EffectiveSessionTimeoutMs(c->kafka), 45000);
  EXPECT_EQ(c->effective_json.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(c->effective_json.find("k3y"), std::string::npos);
  EXPECT_NE(c->effective_json.find("SASL_SSL"), std::string::npos) << "non-secret properties stay readable";
  auto embedded = LoadConfigText(R"({"kafka": {"brokers": "embedded"}})", "");
  ASSERT_TRUE(embedded.ok());
  EXPECT_EQ(EffectiveSessionTimeoutMs(embedded->kafka), 10000) << "the embedded broker's group timing";
  auto set = LoadConfigText(R"({"kafka": {"brokers": "embedded", "session_timeout_ms": 3000}})", "");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(EffectiveSessionTimeoutMs(set->kafka), 3000);
  auto bad = LoadConfigText(R"({"replay": {"target": "kafka"}, "kafka": {"topics": []}})", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/kafka/topics: at least one topic"), std::string::npos);
  EXPECT_NE(bad.status().message().find("/replay/target: \"kafka\" needs kafka.brokers"), std::string::npos);
}

TEST(ConfigTest, RelativePathsResolveAgainstTheConfigFile) {
  auto c = LoadConfigText(R"({"brick": {"models": ["m.ttl", "/abs/x.ttl"]}, "replay": {"files": ["-"]}})", "/etc/bc");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->brick.models[0], "/etc/bc/m.ttl");
  EXPECT_EQ(c->brick.models[1], "/abs/x.ttl");
  EXPECT_EQ(c->replay.files[0], "-");
}

TEST(ConfigTest, WideRowColumnsAcceptShorthand) {
  auto c = LoadConfigText(R"({"ingest": {"wide_row": {"columns": {
      "SA_TEMP": "urn:x#SAT", "OA_TEMP": {"point": "urn:x#OAT", "unit": "DEG_F"},
      "BAD": {"unit": "PARSECS"}}}}})", "");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/ingest/wide_row/columns/BAD/point: required"), std::string::npos);
  EXPECT_NE(c.status().message().find("/ingest/wide_row/columns/BAD/unit: unknown unit 'PARSECS'"),
            std::string::npos);
}

TEST(ConfigTest, ShippedConfigsAreValid) {
  for (const char* f : {"config/brickcast.example.json", "config/demo.json"}) {
    auto c = LoadConfigFile(SourcePath(f));
    EXPECT_TRUE(c.ok()) << f << ": " << c.status().message();
  }
}

TEST(ConfigTest, ReferenceListsEveryKey) {
  const std::string ref = ConfigReference();
  for (const char* key : {"`site.timezone`", "`store.step_seconds`", "`http.tokens[].token`",
                          "`ingest.wide_row.columns.*.unit`"}) {
    EXPECT_NE(ref.find(key), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace brickcast

namespace brickcast {
namespace {

// Defaults live in config.h (the schema takes them from there); the modules' own option structs
// keep defaults for callers without a config (tests, tools). They must say the same.
TEST(ConfigTest, ModuleOptionDefaultsAgreeWithTheConfigDefaults) {
  auto c = LoadConfigText("{}", "");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->effective_json, LoadConfigText(c->effective_json, "")->effective_json) << "defaults round-trip";
  const ForecastServiceOptions fo = ForecastOptionsFromConfig(*c), fd;
  EXPECT_EQ(fo.workers, fd.workers);
  EXPECT_EQ(fo.intra_op_threads, fd.intra_op_threads);
  EXPECT_EQ(fo.max_batch, fd.max_batch);
  EXPECT_EQ(fo.max_wait, fd.max_wait);
  EXPECT_EQ(fo.queue_capacity, fd.queue_capacity);
  EXPECT_EQ(fo.min_coverage, fd.min_coverage);
  EXPECT_EQ(fo.interval_coverage, fd.interval_coverage);
  EXPECT_EQ(fo.calibration_size, fd.calibration_size);
  EXPECT_EQ(fo.serve_best, fd.serve_best);
  const SeriesOptions so = SeriesOptionsFromConfig(c->store), sd;
  EXPECT_EQ(so.step_ms, sd.step_ms);
  EXPECT_EQ(so.window_steps, sd.window_steps);
  EXPECT_EQ(so.ffill_limit_steps, sd.ffill_limit_steps);
  EXPECT_EQ(so.dedup_depth, sd.dedup_depth);
  const KafkaSourceOptions kd;
  KafkaConfig remote = c->kafka;
  remote.brokers = "broker:9092";
  EXPECT_EQ(EffectiveSessionTimeoutMs(remote), kd.session_timeout_ms);
  EXPECT_EQ(c->kafka.group_id, kd.group_id);
  EXPECT_EQ(c->kafka.commit_interval_ms, kd.commit_interval_ms);
  EXPECT_EQ(c->kafka.queue_messages, kd.queue_messages);
  EXPECT_EQ(c->kafka.fetch_wait_max_ms, kd.fetch_wait_max_ms);
  const StreamParserOptions po = ParserOptionsFromConfig(*c), pd;
  EXPECT_EQ(po.max_message_bytes, pd.max_message_bytes);
  EXPECT_EQ(po.format, pd.format);
}

// log.format json: one JSON object per line, the message escaped (quotes, newlines).
TEST(LoggingTest, JsonLinesForLogShippers) {
  ASSERT_TRUE(SetupLogging("info", "json").ok());
  ::testing::internal::CaptureStderr();
  spdlog::info("alert {} fired: \"SAT\"\nhigh", "abc");
  spdlog::default_logger()->flush();
  const std::string out = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(SetupLogging("info", "text").ok());
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line";
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "alert abc fired: \"SAT\"\nhigh");
  EXPECT_EQ(j["time"].get<std::string>().size(), 24u);
  EXPECT_FALSE(SetupLogging("info", "xml").ok());
  EXPECT_FALSE(LoadConfigText(R"({"log": {"format": "xml"}})", "").ok());
}

// Static membership: on by default with an external broker (a stable id per host and group), off
// with the embedded one (it dies with the daemon), and as given otherwise.
TEST(ConfigTest, KafkaInstanceIdForStaticMembership) {
  auto external = LoadConfigText(R"({"kafka": {"brokers": "kafka1:9092", "group_id": "plant"}})", "");
  ASSERT_TRUE(external.ok());
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_EQ(EffectiveInstanceId(external->kafka), std::string(host) + "-plant");
  auto embedded = LoadConfigText(R"({"kafka": {"brokers": "embedded"}})", "");
  EXPECT_EQ(EffectiveInstanceId(embedded->kafka), "");
  auto given = LoadConfigText(R"({"kafka": {"brokers": "k:9092", "instance_id": "ahu-node-2"}})", "");
  EXPECT_EQ(EffectiveInstanceId(given->kafka), "ahu-node-2");
  auto off = LoadConfigText(R"({"kafka": {"brokers": "k:9092", "instance_id": ""}})", "");
  EXPECT_EQ(EffectiveInstanceId(off->kafka), "");
}

}  // namespace
}  // namespace brickcast
