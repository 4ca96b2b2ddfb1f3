// libFuzzer target: what the Turtle writer writes (IRIs percent-encoded where Turtle forbids a
// character, literals escaped) must read back through Serd as the same IRI and the same literal:
// `convert` and `simulate` rely on it for any point name or label a CSV or mapping brings.
#include <cstring>
#include <string>
#include <vector>

#include "brick/turtle_reader.h"
#include "convert/ttl_writer.h"

namespace {

// Serd accepts only valid UTF-8 in literals and IRIs; the writer's contract is about text.
bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    if (c == 0) return false;  // NUL cannot be written in Turtle
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    if (n == 2 && c < 0xC2) return false;  // overlong
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace brickcast;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t cut = input.find('\x1f');  // unit separator: "name<US>label"
  const std::string name = input.substr(0, cut), label = cut == std::string::npos ? "" : input.substr(cut + 1);
  if (!ValidUtf8(name) || !ValidUtf8(label)) return 0;
  std::string ttl(TurtlePrefixHeader());
  std::string iri_text;
  AppendIri(&iri_text, "urn:fuzz:" + name);
  ttl += iri_text + " <http://www.w3.org/2000/01/rdf-schema#label> ";
  AppendQuoted(&ttl, label);
  ttl += " .\n";
  std::vector<Triple> triples;
  TurtleError error;
  if (!TurtleReader().Parse(ttl, "roundtrip", &triples, &error)) __builtin_trap();  // we wrote it
  if (triples.size() != 1) __builtin_trap();
  if (triples[0].subject.value != iri_text.substr(1, iri_text.size() - 2)) __builtin_trap();
  if (triples[0].object.value != label) __builtin_trap();
  return 0;
}
