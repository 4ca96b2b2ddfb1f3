// TurtleReader: the one adapter around Serd. Turns a Turtle document into triples whose IRIs
// are fully expanded (prefixes from the document, then from a default prefix map).
// Cheap to construct; any thread may use its own. Each thread keeps one Serd reader alive between
// documents (creating one per message was a measurable share of the ingest cost).
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

// The triples of one document at a time, kept from one document to the next so that the next
// one's strings reuse the memory of the last: once warm, reading a small message allocates
// nothing per triple. The first `size` triples are the document's.
struct TripleBuffer {
  std::vector<Triple> triples;
  size_t size = 0;
};

class TurtleReader {
 public:
  explicit TurtleReader(const PrefixMap* default_prefixes = nullptr)
      : default_prefixes_(default_prefixes) {}

  // Parses `document` and appends its triples to `out`, in document order. Stops at the first
  // error (strict mode) and returns false with it; `out` then holds the triples read before the
  // error, so callers that need all-or-nothing discard it. `source_name` appears in errors.
  bool Parse(std::string_view document, std::string_view source_name, std::vector<Triple>* out,
             TurtleError* error);
  // The same into a reused buffer: `out` then holds this document's triples only.
  bool Parse(std::string_view document, std::string_view source_name, TripleBuffer* out, TurtleError* error);

 private:
  bool Read(std::string_view document, std::string_view source_name, std::vector<Triple>* out, TripleBuffer* buffer,
            TurtleError* error);
  const PrefixMap* default_prefixes_;
};

// Reads a whole file into a string; NotFound / Unavailable on failure.
StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace brickcast
