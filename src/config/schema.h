// A declarative config schema, in the spirit of fluent-bit's config_map: one table per section
// gives each key its type, default, description and checks. The same table validates user JSON
// (all errors at once, each with its JSON pointer), fills defaults, redacts secrets and prints the
// reference documentation. Internal to config/; other modules see only the typed Config.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "brickcast/status.h"

namespace brickcast::config {

using Json = nlohmann::ordered_json;

struct Schema;

enum class FieldType {
  kString,
  kInteger,
  kNumber,
  kBoolean,
  kStringList,
  kStringMap,       // object of string values
  kObject,          // nested schema
  kObjectList,      // array of objects of `child` schema
  kObjectMap,       // object whose values are objects of `child` schema (or a string shorthand)
  kScalar,          // number or string: a quantity with a unit ("5 delta_degF") or a duration ("15m")
};

struct Field {
  std::string key;
  FieldType type;
  Json default_value;  // null: no default (optional or required)
  std::string description;
  const Schema* child = nullptr;
  bool secret = false;
  bool required = false;
  // Extra check on a well-typed value; returns an error message or "".
  std::function<std::string(const Json&)> check;
};

struct Schema {
  std::vector<Field> fields;
  // For kObjectMap entries given as a plain string: the key it fills ("point").
  std::string string_shorthand;
};

// Validates `in` against `schema` and writes the effective value (defaults filled) to `out`.
void ApplySchema(const Schema& schema, const Json& in, const std::string& pointer, Json* out,
                 std::vector<std::string>* errors);

// Parses JSON text (comments allowed) and applies `schema`. A text that is not JSON gives one
// error with the parser's position.
void ParseWithSchema(std::string_view text, const Schema& schema, Json* out, std::vector<std::string>* errors);

// "<what>: 2 errors:\n  /a: ...\n  /b: ..." as InvalidArgument; OK when `errors` is empty.
Status ErrorsToStatus(const std::string& what, const std::vector<std::string>& errors);

// Replaces every secret value with "<secret>".
void RedactSecrets(const Schema& schema, Json* value);

// Markdown reference: one line per key with type, default and description.
void DescribeSchema(const Schema& schema, const std::string& prefix, std::string* out);

// Reusable checks.
std::function<std::string(const Json&)> OneOf(std::vector<std::string> allowed);
std::function<std::string(const Json&)> AtLeast(double min);
std::function<std::string(const Json&)> Between(double min, double max);

}  // namespace brickcast::config
