// The dashboard's files (web/), compiled into the binary by cmake/embed_assets.cmake: nothing is
// read from disk or fetched at run time.
#pragma once

#include <string_view>
#include <vector>

namespace brickcast {

struct DashboardAsset {
  const char* name;          // "index.html", "app.js", ...
  const char* content_type;
  std::string_view bytes;
};

const std::vector<DashboardAsset>& DashboardAssets();

}  // namespace brickcast
