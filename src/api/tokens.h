// Bearer tokens: who may call the API and with which scope. Tokens are kept as SHA-256 hashes
// (a config or token file never needs the secret itself: `brickcast token` prints both), from
// the config's http.tokens and from http.tokens_file, a JSON file re-read when it changes (add or
// revoke a token without a restart; a broken file keeps the last good set and says why).
// Presented tokens are hashed and compared in constant time. Thread-safe.
#pragma once

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "brickcast/config.h"
#include "brickcast/snapshot.h"
#include "brickcast/status.h"

namespace brickcast {

// A tokens file: [{"name": ..., "scope": "read|operate|admin", "sha256": "<64 hex>"}, ...].
StatusOr<std::vector<AuthToken>> ParseTokensFile(const std::string& text);
// A fresh random token (256 bits from the OS, hex).
std::string NewToken();

class TokenStore {
 public:
  // The tokens file is looked at again at most every `recheck`.
  explicit TokenStore(const Snapshot<Config>* config, std::chrono::milliseconds recheck = std::chrono::seconds(1));

  // Whether any token is configured (none: the API is open, allowed on loopback only).
  bool Empty();
  // The token whose hash matches `presented`; nullopt when none does.
  std::optional<AuthToken> Find(const std::string& presented);
  // The tokens file's last load error ("" when it loaded).
  std::string FileError();

 private:
  void Refresh();  // REQUIRES: mu_ held

  const Snapshot<Config>* config_;
  const std::chrono::milliseconds recheck_;
  std::mutex mu_;
  std::string path_;                                      // the file loaded last
  std::filesystem::file_time_type mtime_{};
  uintmax_t size_ = 0;
  std::chrono::steady_clock::time_point checked_{};
  std::vector<AuthToken> file_tokens_;
  std::string file_error_;
};

}  // namespace brickcast
