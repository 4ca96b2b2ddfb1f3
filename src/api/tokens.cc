#include "api/tokens.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "brickcast/sha256.h"

namespace brickcast {
namespace {

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool IsSha256Hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

StatusOr<std::vector<AuthToken>> ParseTokensFile(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return Status::InvalidArgument("expected a JSON array of {name, scope, sha256}");
  std::vector<AuthToken> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string at = "/" + std::to_string(i);
    const nlohmann::json& t = j[i];
    if (!t.is_object()) return Status::InvalidArgument(at + ": expected an object");
    for (const auto& [k, v] : t.items()) {
      if (k != "name" && k != "scope" && k != "sha256")
        return Status::InvalidArgument(at + "/" + k + ": unknown key (name, scope, sha256)");
    }
    AuthToken tok;
    tok.name = t.value("name", "");
    tok.scope = t.value("scope", "read");
    tok.sha256 = t.value("sha256", "");
    if (tok.name.empty()) return Status::InvalidArgument(at + "/name: required");
    if (tok.scope != "read" && tok.scope != "operate" && tok.scope != "admin")
      return Status::InvalidArgument(at + "/scope: read, operate or admin");
    if (!IsSha256Hex(tok.sha256))
      return Status::InvalidArgument(at + "/sha256: 64 lower-case hex digits (brickcast token prints it)");
    out.push_back(std::move(tok));
  }
  return out;
}

std::string NewToken() {
  std::random_device rd;  // the OS's entropy source (getrandom)
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) {
    uint32_t v = rd();
    for (int k = 0; k < 8; ++k, v >>= 4) out.push_back(kHex[v & 15]);
  }
  return out;
}

TokenStore::TokenStore(const Snapshot<Config>* config, std::chrono::milliseconds recheck)
    : config_(config), recheck_(recheck) {}

void TokenStore::Refresh() {
  const std::shared_ptr<const Config> c = config_->Get();
  const std::string& path = c->http.tokens_file;
  const auto now = std::chrono::steady_clock::now();
  if (path == path_ && now - checked_ < recheck_) return;
  checked_ = now;
  if (path.empty()) {
    path_.clear();
    file_tokens_.clear();
    file_error_.clear();
    return;
  }
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path, ec);
  const uintmax_t size = ec ? 0 : std::filesystem::file_size(path, ec);
  if (path == path_ && !ec && mtime == mtime_ && size == size_) return;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  StatusOr<std::vector<AuthToken>> parsed =
      ec || !in ? StatusOr<std::vector<AuthToken>>(Status::NotFound("cannot read " + path))
                : ParseTokensFile(text.str());
  path_ = path;
  mtime_ = mtime;
  size_ = size;
  if (!parsed.ok()) {
    // Keep the last good set: a half-written file must not lock everyone out (or let anyone in).
    file_error_ = path + ": " + parsed.status().message();
    spdlog::error("http.tokens_file {} (keeping the {} tokens loaded before)", file_error_, file_tokens_.size());
    return;
  }
  file_error_.clear();
  file_tokens_ = std::move(*parsed);
  spdlog::info("http.tokens_file {}: {} tokens", path, file_tokens_.size());
}

bool TokenStore::Empty() {
  std::lock_guard<std::mutex> lock(mu_);
  Refresh();
  return config_->Get()->http.tokens.empty() && file_tokens_.empty() && config_->Get()->http.tokens_file.empty();
}

std::optional<AuthToken> TokenStore::Find(const std::string& presented) {
  const std::string hash = Sha256Hex(presented);
  std::lock_guard<std::mutex> lock(mu_);
  Refresh();
  std::optional<AuthToken> found;
  // Every token is compared (no early exit): the time taken does not tell which one matched.
  for (const AuthToken& t : config_->Get()->http.tokens) {
    if (ConstantTimeEquals(t.sha256, hash) && !found) found = t;
  }
  for (const AuthToken& t : file_tokens_) {
    if (ConstantTimeEquals(t.sha256, hash) && !found) found = t;
  }
  return found;
}

std::string TokenStore::FileError() {
  std::lock_guard<std::mutex> lock(mu_);
  Refresh();
  return file_error_;
}

}  // namespace brickcast
