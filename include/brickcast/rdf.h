// RDF vocabulary shared by the model loader and the stream parser: namespaces, the standard
// prefix map that every document may use without declaring it, and IRI helpers. Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

namespace brickcast {

inline constexpr std::string_view kBrickNs = "https://brickschema.org/schema/Brick#";
inline constexpr std::string_view kBrickRefNs = "https://brickschema.org/schema/Brick/ref#";
inline constexpr std::string_view kRdfNs = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
inline constexpr std::string_view kRdfType = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
inline constexpr std::string_view kRdfsNs = "http://www.w3.org/2000/01/rdf-schema#";
inline constexpr std::string_view kRdfsLabel = "http://www.w3.org/2000/01/rdf-schema#label";
inline constexpr std::string_view kXsdNs = "http://www.w3.org/2001/XMLSchema#";
inline constexpr std::string_view kSosaNs = "http://www.w3.org/ns/sosa/";
inline constexpr std::string_view kQudtNs = "http://qudt.org/schema/qudt/";
inline constexpr std::string_view kOwlNs = "http://www.w3.org/2002/07/owl#";

// prefix name (without ':') -> namespace IRI
using PrefixMap = std::unordered_map<std::string, std::string>;

// brick, ref, rdf, rdfs, xsd, owl, sosa, qudt, unit: always available.
const PrefixMap& StandardPrefixes();

// "brick:Foo" / "Foo" / full IRI -> full Brick class IRI.
std::string BrickClassIri(std::string_view name);

// Text after the last '#' or '/'.
std::string_view LocalName(std::string_view iri);

// True when `iri` starts with `ns`.
inline bool InNamespace(std::string_view iri, std::string_view ns) {
  return iri.size() > ns.size() && iri.substr(0, ns.size()) == ns;
}

}  // namespace brickcast
