// Rules: what is loaded, where each applies, where not and why, and how its evaluations went.
#include <cmath>

#include "api/api.h"

namespace brickcast {

namespace {

// Where the rule applies, with the point each input reads there (the dashboard draws a rule's
// limit on the charts of the points it reads).
nlohmann::json Bindings(const RuleStatus& st) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < st.equipment.size(); ++i)
    out.push_back({{"equipment", st.equipment[i]}, {"points", i < st.points.size() ? st.points[i] : std::map<std::string, std::string>{}}});
  return out;
}

// A threshold rule's constant limit on one input, in SI units; null for other rules.
nlohmann::json Limit(const RuleSpec& r) {
  const bool constant = (r.kind == RuleKind::kThreshold || r.kind == RuleKind::kForecastThreshold) && r.value.op == 0 &&
                        r.limit_input.empty() && std::isfinite(r.limit);
  if (!constant) return nullptr;
  return {{"input", r.value.a}, {"value", r.limit}, {"direction", r.direction == Direction::kAbove ? "above" : "below"}};
}

}  // namespace

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
                             {"bindings", Bindings(st)},
                             {"limit", Limit(r)},
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
