// Bearer tokens: hashed entries, the tokens file re-read when it changes, a broken file keeping
// the last good set, and `brickcast token` making entries that the daemon accepts.
#include "api/tokens.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "brickcast/sha256.h"
#include "test_support.h"

namespace brickcast {
namespace {

using testing::TempDir;

std::string Entry(const std::string& name, const std::string& token, const std::string& scope) {
  return R"({"name": ")" + name + R"(", "scope": ")" + scope + R"(", "sha256": ")" + Sha256Hex(token) + R"("})";
}

TEST(TokensTest, FileTokensAreReReadWhenTheFileChangesAndABrokenFileKeepsTheLastGoodSet) {
  TempDir dir;
  const std::string file = dir.File("tokens.json", "[" + Entry("ann", "ann-secret", "operate") + "]");
  Config config;
  config.http.tokens.push_back(AuthToken{"root", "", "admin", Sha256Hex("root-secret")});
  config.http.tokens_file = file;
  Snapshot<Config> snapshot;
  snapshot.Set(std::make_shared<const Config>(config));
  TokenStore tokens(&snapshot, std::chrono::milliseconds(0));
  EXPECT_FALSE(tokens.Empty());
  ASSERT_TRUE(tokens.Find("ann-secret"));
  EXPECT_EQ(tokens.Find("ann-secret")->scope, "operate");
  EXPECT_EQ(tokens.Find("root-secret")->name, "root");
  EXPECT_FALSE(tokens.Find("nope"));
  EXPECT_FALSE(tokens.Find(Sha256Hex("ann-secret"))) << "the hash itself is not a token";

  // Ann's token revoked, Bob's added: no restart.
  dir.File("tokens.json", "[" + Entry("bob", "bob-secret", "read") + "]");
  EXPECT_FALSE(tokens.Find("ann-secret"));
  EXPECT_EQ(tokens.Find("bob-secret")->name, "bob");
  EXPECT_EQ(tokens.FileError(), "");

  // Half a file: the last good set stays, and the error is told.
  dir.File("tokens.json", "[{\"name\": \"bob\", ");
  EXPECT_EQ(tokens.Find("bob-secret")->name, "bob");
  EXPECT_NE(tokens.FileError().find("expected a JSON array"), std::string::npos) << tokens.FileError();
  dir.File("tokens.json", R"([{"name": "eve", "scope": "root", "sha256": "00"}])");
  EXPECT_NE(tokens.FileError().find("/0/scope"), std::string::npos) << tokens.FileError();
  EXPECT_EQ(tokens.Find("bob-secret")->name, "bob");
}

TEST(TokensTest, TokensFileEntriesAreChecked) {
  EXPECT_TRUE(ParseTokensFile("[]").ok());
  EXPECT_FALSE(ParseTokensFile("{}").ok());
  EXPECT_FALSE(ParseTokensFile(R"([{"name": "a", "sha256": "XYZ"}])").ok());
  EXPECT_FALSE(ParseTokensFile(R"([{"name": "a", "token": "plain"}])").ok()) << "no plain tokens in the file";
  auto ok = ParseTokensFile("[" + Entry("a", "x", "admin") + "]");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ((*ok)[0].scope, "admin");
  EXPECT_NE(NewToken(), NewToken());
  EXPECT_EQ(NewToken().size(), 64u);
}

TEST(TokensTest, TheTokenCommandAppendsAnEntryTheStoreAccepts) {
  TempDir dir;
  const std::string file = dir.path() + "/tokens.json";
  const std::string cmd = std::string(BRICKCAST_BINARY) + " token --name ops --scope operate --add " + file + " > " +
                          dir.path() + "/out.txt";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream out(dir.path() + "/out.txt");
  std::string line, token;
  while (std::getline(out, line)) {
    if (line.rfind("token: ", 0) == 0) token = line.substr(7);
  }
  ASSERT_EQ(token.size(), 64u);
  std::ifstream written(file);
  const std::string text((std::istreambuf_iterator<char>(written)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find(token), std::string::npos) << "the file holds the hash, not the token";
  Config config;
  config.http.tokens_file = file;
  Snapshot<Config> snapshot;
  snapshot.Set(std::make_shared<const Config>(config));
  TokenStore tokens(&snapshot);
  ASSERT_TRUE(tokens.Find(token));
  EXPECT_EQ(tokens.Find(token)->scope, "operate");
  // The same name twice is refused rather than leaving two tokens for one user.
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace brickcast
