// The built-in Brick class table (see builtin_classes.cc).
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace brickcast {

const std::vector<std::string_view>& BuiltinClassTable();
const std::vector<std::pair<std::string_view, std::string_view>>& BuiltinClassAliases();

}  // namespace brickcast
