// TurtleReader: the one adapter around Serd. Turns a Turtle document into triples whose IRIs
// are fully expanded (prefixes from the document, then from a default prefix map).
// Not thread-safe: one reader per thread; cheap to construct.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "brickcast/rdf.h"
#include "brickcast/status.h"

namespace brickcast {

struct Term {
  enum class Kind { kIri, kBlank, kLiteral };
  Kind kind = Kind::kIri;
  std::string value;     // IRI, blank node id ("_:b1") or literal lexical form
  std::string datatype;  // literal datatype IRI; empty for plain literals
  std::string lang;

  bool IsIri() const { return kind == Kind::kIri; }
  bool IsLiteral() const { return kind == Kind::kLiteral; }
  bool IsNode() const { return kind != Kind::kLiteral; }
};

struct Triple {
  Term subject, predicate, object;
};

// Where and why a document failed to parse.
struct TurtleError {
  std::string reason;  // "syntax", "undefined_prefix", "bad_iri", "binary"
  unsigned line = 0;
  unsigned column = 0;
  std::string message;

  std::string ToString() const;
};

class TurtleReader {
 public:
  explicit TurtleReader(const PrefixMap* default_prefixes = nullptr)
      : default_prefixes_(default_prefixes) {}

  // Parses `document` and calls `sink` for every triple, in document order. Stops at the first
  // error (strict mode) and returns it; triples already delivered stay delivered, so callers that
  // need all-or-nothing must buffer. `source_name` appears in error messages.
  bool Parse(std::string_view document, std::string_view source_name,
             const std::function<void(Triple&&)>& sink, TurtleError* error);

 private:
  const PrefixMap* default_prefixes_;
};

// Reads a whole file into a string; NotFound / Unavailable on failure.
StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace brickcast
