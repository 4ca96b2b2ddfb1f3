// "{{name}}" text templates: receivers' own wording of notifications. Values are escaped by the
// caller's function (HTML, JSON, none), never the template itself, which is the operator's.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace brickcast {

// Replaces each {{name}} (spaces inside the braces allowed) with escape(value); a name not in
// `vars` is left as written.
std::string ExpandTemplate(const std::string& tmpl, const std::map<std::string, std::string>& vars,
                           std::string (*escape)(const std::string&));
// "" when every {{name}} in `tmpl` is one of `known`, else the error.
std::string CheckTemplate(const std::string& tmpl, const std::vector<std::string>& known);
// The variables notification templates may use (the notifiers fill them per alert).
const std::vector<std::string>& NotifyTemplateVariables();

}  // namespace brickcast
