#include "convert/csv.h"

namespace brickcast {

std::string TrimCopy(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
  return s.substr(b, e - b);
}

bool CsvReader::Next(std::vector<std::string>* fields) {
  fields->clear();
  std::string line;
  while (true) {
    if (!std::getline(in_, line)) return false;
    ++line_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) break;
  }
  record_line_ = line_;
  std::string field;
  bool quoted = false;
  size_t i = 0;
  while (true) {
    if (i == line.size()) {
      if (quoted) {
        // A quoted field spans lines: keep the newline and read on.
        std::string more;
        if (!std::getline(in_, more)) break;
        ++line_;
        if (!more.empty() && more.back() == '\r') more.pop_back();
        field += '\n';
        line = std::move(more);
        i = 0;
        continue;
      }
      break;
    }
    const char c = line[i++];
    if (quoted) {
      if (c == '"' && i < line.size() && line[i] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
    } else {
      field += c;
    }
  }
  fields->push_back(std::move(field));
  return true;
}

}  // namespace brickcast
