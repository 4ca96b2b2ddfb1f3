// Helpers to write Turtle text: IRIs, escaped literals, the standard prefix header.
#pragma once

#include <string>
#include <string_view>

namespace brickcast {

// <iri>, with characters Turtle forbids in IRIs percent-encoded.
void AppendIri(std::string* out, std::string_view iri);
// "lexical" with Turtle string escapes.
void AppendQuoted(std::string* out, std::string_view lexical);
// @prefix lines for brick, xsd, unit, sosa, ref, rdfs.
std::string_view TurtlePrefixHeader();

}  // namespace brickcast
