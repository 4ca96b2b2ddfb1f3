#include "brickcast/template_text.h"

#include <algorithm>

namespace brickcast {
namespace {

std::string Trimmed(std::string s) {
  s.erase(0, s.find_first_not_of(' '));
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

}  // namespace

std::string ExpandTemplate(const std::string& tmpl, const std::map<std::string, std::string>& vars,
                           std::string (*escape)(const std::string&)) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = tmpl.find("{{", pos);
    const size_t close = open == std::string::npos ? std::string::npos : tmpl.find("}}", open + 2);
    if (close == std::string::npos) break;
    out += tmpl.substr(pos, open - pos);
    auto it = vars.find(Trimmed(tmpl.substr(open + 2, close - open - 2)));
    out += it == vars.end() ? tmpl.substr(open, close + 2 - open) : escape(it->second);
    pos = close + 2;
  }
  return out + tmpl.substr(pos);
}

std::string CheckTemplate(const std::string& tmpl, const std::vector<std::string>& known) {
  for (size_t pos = tmpl.find("{{"); pos != std::string::npos; pos = tmpl.find("{{", pos + 2)) {
    const size_t close = tmpl.find("}}", pos + 2);
    if (close == std::string::npos) return "'{{' without '}}'";
    const std::string name = Trimmed(tmpl.substr(pos + 2, close - pos - 2));
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto& v : known) list += (list.empty() ? "" : ", ") + v;
      return "unknown variable {{" + name + "}} (known: " + list + ")";
    }
  }
  return "";
}

const std::vector<std::string>& NotifyTemplateVariables() {
  static const std::vector<std::string> kNames = {
      "status", "severity", "rule",    "equipment",     "class",     "site",  "summary", "evidence", "action",
      "link",   "starts_at", "ends_at", "crossing_time", "predicted", "count", "more",    "receiver"};
  return kNames;
}

}  // namespace brickcast
