// An alert's state as JSON text: the alert database's rows and the scale-out changelog's records.
#include <nlohmann/json.hpp>

#include "brickcast/alerts.h"

namespace brickcast {
namespace {

using Json = nlohmann::json;

Json AlertToJson(const Alert& a) {
  return Json{{"id", a.id},
              {"rule", a.rule},
              {"equipment", a.equipment},
              {"equipment_class", a.equipment_class},
              {"kind", RuleKindName(a.kind)},
              {"severity", SeverityName(a.severity)},
              {"points", a.points},
              {"state", AlertStateName(a.state)},
              {"predicted", a.predicted},
              {"pending_since", a.pending_since},
              {"starts_at", a.starts_at},
              {"ends_at", a.ends_at},
              {"normal_since", a.normal_since},
              {"last_evaluated", a.last_evaluated},
              {"crossing_time", a.crossing_time},
              {"realised_at", a.realised_at},
              {"was_firing", a.was_firing},
              {"summary", a.summary},
              {"action", a.action},
              {"evidence", a.evidence},
              {"acked_by", a.acked_by},
              {"ack_comment", a.ack_comment},
              {"acked_at", a.acked_at},
              {"transitions", a.transitions}};
}

RuleKind KindFromName(const std::string& s) {
  for (RuleKind k : {RuleKind::kThreshold, RuleKind::kForecastThreshold, RuleKind::kSensorHealth, RuleKind::kResidual,
                     RuleKind::kG36, RuleKind::kExpected}) {
    if (s == RuleKindName(k)) return k;
  }
  return RuleKind::kThreshold;
}

Alert AlertFromJson(const Json& j) {
  Alert a;
  a.id = j.value("id", "");
  a.rule = j.value("rule", "");
  a.equipment = j.value("equipment", "");
  a.equipment_class = j.value("equipment_class", "");
  a.kind = KindFromName(j.value("kind", ""));
  a.severity = ParseSeverity(j.value("severity", "warning")).value_or(Severity::kWarning);
  a.points = j.value("points", std::vector<std::string>{});
  a.state = ParseAlertState(j.value("state", "inactive")).value_or(AlertState::kInactive);
  a.predicted = j.value("predicted", false);
  a.pending_since = j.value("pending_since", int64_t{0});
  a.starts_at = j.value("starts_at", int64_t{0});
  a.ends_at = j.value("ends_at", int64_t{0});
  a.normal_since = j.value("normal_since", int64_t{0});
  a.last_evaluated = j.value("last_evaluated", int64_t{0});
  a.crossing_time = j.value("crossing_time", int64_t{0});
  a.realised_at = j.value("realised_at", int64_t{0});
  a.was_firing = j.value("was_firing", false);
  a.summary = j.value("summary", "");
  a.action = j.value("action", "");
  a.evidence = j.value("evidence", "");
  a.acked_by = j.value("acked_by", "");
  a.ack_comment = j.value("ack_comment", "");
  a.acked_at = j.value("acked_at", int64_t{0});
  a.transitions = j.value("transitions", uint64_t{0});
  return a;
}

}  // namespace

std::string EncodeAlert(const Alert& alert) {
  return AlertToJson(alert).dump(-1, ' ', false, Json::error_handler_t::replace);
}

StatusOr<Alert> DecodeAlert(std::string_view text) {
  const Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("an alert record is not a JSON object");
  try {
    Alert a = AlertFromJson(j);
    if (a.id.empty()) return Status::InvalidArgument("an alert record without an id");
    return a;
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(std::string("an alert record with a field of the wrong type: ") + e.what());
  }
}

}  // namespace brickcast
