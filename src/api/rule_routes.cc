// Rules: what is loaded, where each applies, where not and why, and how its evaluations went.
#include "api/api.h"

namespace brickcast {

void AddRuleRoutes(Router& router, const ApiServices& s) {
  using Json = nlohmann::json;
  router.Add(Route{
      .method = "GET",
      .path = "/api/v1/rules",
      .summary = "Rules with the equipment they apply to, where they do not (missing inputs) and their evaluations",
      .responses = {{200, "{rules, count}"}},
      .handler = [s](const HttpRequest&) {
        Json out = Json::array();
        for (const RuleStatus& st : s.rule_engine->Status()) {
          const RuleSpec& r = *st.rule;
          Json inputs = Json::object();
          for (const RuleInput& in : r.inputs) {
            Json path = Json::array();
            for (const std::string& p : in.path) path.push_back(std::string(LocalName(p)));
            inputs[in.name] = Json{{"class", std::string(LocalName(in.point_class))}, {"path", path}};
          }
          Json not_applicable = Json::array();
          for (const RuleNotApplicable& na : st.not_applicable)
            not_applicable.push_back(Json{{"equipment", na.equipment.empty() ? Json() : Json(na.equipment)},
                                          {"missing", na.missing}});
          out.push_back(Json{{"id", r.id},
                             {"kind", RuleKindName(r.kind)},
                             {"description", r.description},
                             {"severity", SeverityName(r.severity)},
                             {"applies_to", std::string(LocalName(r.applies_to))},
                             {"inputs", inputs},
                             {"for_seconds", r.for_ms / 1000},
                             {"clear_for_seconds", r.clear_for_ms / 1000},
                             {"action", r.action},
                             {"file", r.file},
                             {"applies", st.equipment},
                             {"not_applicable", not_applicable},
                             {"evaluations", st.evaluations},
                             {"faults", st.faults},
                             {"no_data", st.no_data},
                             {"errors", st.errors},
                             {"last_error", st.last_error.empty() ? Json() : Json(st.last_error)},
                             {"last_evaluated", st.last_evaluated == 0 ? Json() : Json(FormatIsoUtc(st.last_evaluated))}});
        }
        return JsonResponse(Json{{"rules", out}, {"count", out.size()}});
      }});
}

}  // namespace brickcast
