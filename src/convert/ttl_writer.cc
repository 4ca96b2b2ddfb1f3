#include "convert/ttl_writer.h"

#include <cstdio>

namespace brickcast {

void AppendIri(std::string* out, std::string_view iri) {
  out->push_back('<');
  for (char c : iri) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || c == '<' || c == '>' || c == '"' || c == '{' || c == '}' || c == '|' || c == '^' ||
        c == '`' || c == '\\') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out->append(buf);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('>');
}

void AppendQuoted(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default: out->push_back(c);
    }
  }
  out->push_back('"');
}

std::string_view TurtlePrefixHeader() {
  return "@prefix brick: <https://brickschema.org/schema/Brick#> .\n"
         "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
         "@prefix unit: <http://qudt.org/vocab/unit/> .\n"
         "@prefix sosa: <http://www.w3.org/ns/sosa/> .\n";
}

}  // namespace brickcast
