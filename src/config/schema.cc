#include "config/schema.h"

#include <sstream>

namespace brickcast::config {
namespace {

std::string TypeName(FieldType t) {
  switch (t) {
    case FieldType::kString: return "string";
    case FieldType::kInteger: return "integer";
    case FieldType::kNumber: return "number";
    case FieldType::kBoolean: return "boolean";
    case FieldType::kStringList: return "array of strings";
    case FieldType::kStringMap: return "object of strings";
    case FieldType::kObject: return "object";
    case FieldType::kObjectList: return "array of objects";
    case FieldType::kObjectMap: return "object of objects";
    case FieldType::kScalar: return "number or string";
  }
  return "?";
}

// JSON pointer escaping (RFC 6901).
std::string Escape(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

bool TypeMatches(FieldType t, const Json& v) {
  switch (t) {
    case FieldType::kString: return v.is_string();
    case FieldType::kInteger: return v.is_number_integer();
    case FieldType::kNumber: return v.is_number();
    case FieldType::kBoolean: return v.is_boolean();
    case FieldType::kStringList:
      if (!v.is_array()) return false;
      for (const auto& e : v) {
        if (!e.is_string()) return false;
      }
      return true;
    case FieldType::kStringMap:
      if (!v.is_object()) return false;
      for (const auto& [k, e] : v.items()) {
        if (!e.is_string()) return false;
      }
      return true;
    case FieldType::kObject:
    case FieldType::kObjectMap: return v.is_object();
    case FieldType::kObjectList: return v.is_array();
    case FieldType::kScalar: return v.is_number() || v.is_string();
  }
  return false;
}

void ApplyField(const Field& f, const Json& v, const std::string& ptr, Json* out, std::vector<std::string>* errors) {
  if (!TypeMatches(f.type, v)) {
    errors->push_back(ptr + ": expected " + TypeName(f.type));
    return;
  }
  switch (f.type) {
    case FieldType::kObject:
      ApplySchema(*f.child, v, ptr, out, errors);
      return;
    case FieldType::kObjectList: {
      *out = Json::array();
      for (size_t i = 0; i < v.size(); ++i) {
        const std::string p = ptr + "/" + std::to_string(i);
        if (!v[i].is_object()) {
          errors->push_back(p + ": expected object");
          continue;
        }
        Json e;
        ApplySchema(*f.child, v[i], p, &e, errors);
        out->push_back(std::move(e));
      }
      break;
    }
    case FieldType::kObjectMap: {
      *out = Json::object();
      for (const auto& [k, e] : v.items()) {
        const std::string p = ptr + "/" + Escape(k);
        Json in = e;
        if (e.is_string() && !f.child->string_shorthand.empty()) in = Json{{f.child->string_shorthand, e}};
        if (!in.is_object()) {
          errors->push_back(p + ": expected object");
          continue;
        }
        Json eff;
        ApplySchema(*f.child, in, p, &eff, errors);
        (*out)[k] = std::move(eff);
      }
      break;
    }
    default:
      *out = v;
  }
  if (f.check) {
    std::string why = f.check(v);
    if (!why.empty()) errors->push_back(ptr + ": " + why);
  }
}

}  // namespace

void ApplySchema(const Schema& schema, const Json& in, const std::string& pointer, Json* out,
                 std::vector<std::string>* errors) {
  *out = Json::object();
  if (!in.is_object()) {
    errors->push_back((pointer.empty() ? "/" : pointer) + ": expected object");
    return;
  }
  for (const auto& [k, v] : in.items()) {
    bool known = false;
    for (const Field& f : schema.fields) known = known || f.key == k;
    if (!known) {
      std::string hint;
      for (const Field& f : schema.fields) {
        if (!hint.empty()) hint += ", ";
        hint += f.key;
      }
      errors->push_back(pointer + "/" + Escape(k) + ": unknown key (allowed: " + hint + ")");
    }
  }
  for (const Field& f : schema.fields) {
    const std::string ptr = pointer + "/" + Escape(f.key);
    Json eff;
    if (in.contains(f.key) && !in.at(f.key).is_null()) {
      ApplyField(f, in.at(f.key), ptr, &eff, errors);
    } else if (f.required) {
      errors->push_back(ptr + ": required");
      continue;
    } else if (f.type == FieldType::kObject) {
      ApplySchema(*f.child, Json::object(), ptr, &eff, errors);
    } else {
      eff = f.default_value;
    }
    (*out)[f.key] = std::move(eff);
  }
}

void ParseWithSchema(std::string_view text, const Schema& schema, Json* out, std::vector<std::string>* errors) {
  Json in;
  try {
    in = Json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const Json::exception& e) {  // parse_error, and out_of_range for a number that overflows
    errors->push_back(std::string("not valid JSON: ") + e.what());
    return;
  }
  ApplySchema(schema, in, "", out, errors);
}

Status ErrorsToStatus(const std::string& what, const std::vector<std::string>& errors) {
  if (errors.empty()) return Status::Ok();
  std::string msg = what + ": " + std::to_string(errors.size()) + (errors.size() == 1 ? " error:" : " errors:");
  for (const auto& e : errors) msg += "\n  " + e;
  return Status::InvalidArgument(msg);
}

void RedactSecrets(const Schema& schema, Json* value) {
  if (value == nullptr || !value->is_object()) return;
  for (const Field& f : schema.fields) {
    if (!value->contains(f.key)) continue;
    Json& v = (*value)[f.key];
    if (f.secret && f.type == FieldType::kStringMap && v.is_object()) {
      // A pass-through property map: redact the values whose names look sensitive.
      for (auto& [k, e] : v.items()) {
        if (k.find("password") != std::string::npos || k.find("secret") != std::string::npos ||
            k.find("token") != std::string::npos || k.find("ssl.key.pem") != std::string::npos ||
            k.find("sasl.jaas") != std::string::npos || k.find("oauthbearer.config") != std::string::npos)
          e = "<secret>";
      }
    } else if (f.secret && !v.is_null() && !(v.is_string() && v.get<std::string>().empty())) {
      v = "<secret>";
    } else if (f.type == FieldType::kObject) {
      RedactSecrets(*f.child, &v);
    } else if (f.type == FieldType::kObjectList && v.is_array()) {
      for (auto& e : v) RedactSecrets(*f.child, &e);
    } else if (f.type == FieldType::kObjectMap && v.is_object()) {
      for (auto& [k, e] : v.items()) RedactSecrets(*f.child, &e);
    }
  }
}

void DescribeSchema(const Schema& schema, const std::string& prefix, std::string* out) {
  for (const Field& f : schema.fields) {
    const std::string key = prefix + f.key;
    std::ostringstream line;
    line << "| `" << key << "` | " << TypeName(f.type) << " | ";
    if (f.required) line << "required";
    else if (f.type == FieldType::kObject) line << "";
    else line << "`" << f.default_value.dump() << "`";
    line << " | " << f.description << (f.secret ? " (secret: printed as `<secret>`)" : "") << " |\n";
    *out += line.str();
    if (f.child != nullptr && f.child != &schema) {  // a recursive schema (routes) is described once
      const std::string sub = key + (f.type == FieldType::kObject ? "." : f.type == FieldType::kObjectList ? "[]." : ".*.");
      DescribeSchema(*f.child, sub, out);
    }
  }
}

std::function<std::string(const Json&)> OneOf(std::vector<std::string> allowed) {
  return [allowed = std::move(allowed)](const Json& v) -> std::string {
    for (const auto& a : allowed) {
      if (v.is_string() && v.get<std::string>() == a) return "";
    }
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return "must be one of " + list;
  };
}

std::function<std::string(const Json&)> AtLeast(double min) {
  return [min](const Json& v) -> std::string {
    if (v.get<double>() < min) {
      std::ostringstream os;
      os << "must be >= " << min;
      return os.str();
    }
    return "";
  };
}

std::function<std::string(const Json&)> Between(double min, double max) {
  return [min, max](const Json& v) -> std::string {
    const double d = v.get<double>();
    if (d < min || d > max) {
      std::ostringstream os;
      os << "must be between " << min << " and " << max;
      return os.str();
    }
    return "";
  };
}

}  // namespace brickcast::config
