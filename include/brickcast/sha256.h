// SHA-256 (FIPS 180-4), for content hashes of model files. Pure function.
#pragma once

#include <string>
#include <string_view>

namespace brickcast {

// Lower-case hex digest of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace brickcast
