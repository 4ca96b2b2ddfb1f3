// A small RFC 4180 CSV reader: quoted fields, doubled quotes, CRLF or LF line ends.
// Header names are trimmed (the LBNL files carry trailing spaces). Not thread-safe.
#pragma once

#include <istream>
#include <string>
#include <vector>

namespace brickcast {

class CsvReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}

  // Reads the next record; false at end of input. Empty lines are skipped.
  bool Next(std::vector<std::string>* fields);
  // 1-based line number of the last record read.
  size_t line() const { return record_line_; }

 private:
  std::istream& in_;
  size_t line_ = 0;
  size_t record_line_ = 0;
};

std::string TrimCopy(const std::string& s);

}  // namespace brickcast
