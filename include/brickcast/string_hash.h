// A string hash for unordered containers keyed by std::string that are looked up with a
// std::string_view (C++20 heterogeneous lookup): no temporary std::string per lookup.
#pragma once

#include <functional>
#include <string_view>

namespace brickcast {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace brickcast
