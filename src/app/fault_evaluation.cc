#include "brickcast/fault_evaluation.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "brickcast/alerts.h"
#include "brickcast/csv_converter.h"
#include "brickcast/daemon.h"
#include "brickcast/rule_engine.h"
#include "convert/csv.h"

namespace brickcast {
namespace {

// Local calendar date (YYYY-MM-DD) and minute of the day of a UTC instant.
std::string LocalDate(UnixMillis t, const TimeZone& zone, int* minute_of_day = nullptr) {
  const int64_t local = t / 1000 + zone.OffsetAtUtc(t / 1000);
  const int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  if (minute_of_day != nullptr) *minute_of_day = static_cast<int>((local - day * 86400) / 60);
  return FormatIsoUtc(day * 86'400'000).substr(0, 10);
}

// The label of each local day: 1 when any row of the day says fault, else 0; days without any
// label are absent.
StatusOr<std::map<std::string, int>> ReadDayLabels(const CsvMapping& m, const std::string& path) {
  if (m.label_column.empty())
    return Status::InvalidArgument("mapping " + m.path + " names no label_column (the fault labels)");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  CsvReader reader(in);
  std::vector<std::string> row;
  if (!reader.Next(&row)) return Status::InvalidArgument(path + ": empty CSV");
  int time_idx = -1, label_idx = -1;
  for (size_t i = 0; i < row.size(); ++i) {
    std::string h = TrimCopy(row[i]);
    if (i == 0 && h.rfind("\xEF\xBB\xBF", 0) == 0) h = h.substr(3);
    if (h == m.time_column) time_idx = static_cast<int>(i);
    if (h == m.label_column) label_idx = static_cast<int>(i);
  }
  if (time_idx < 0 || label_idx < 0)
    return Status::InvalidArgument(path + ": the header lacks '" + (time_idx < 0 ? m.time_column : m.label_column) + "'");
  std::map<std::string, int> labels;
  while (reader.Next(&row)) {
    if (row.size() <= static_cast<size_t>(std::max(time_idx, label_idx))) continue;
    const std::string label = TrimCopy(row[label_idx]);
    if (label.empty()) continue;
    auto t = m.time_format.empty() ? ParseIsoDateTime(row[time_idx], m.zone)
                                   : ParseTimeWithFormat(row[time_idx], m.time_format, m.zone);
    if (!t.ok()) continue;
    const int fault = std::atof(label.c_str()) >= 0.5 ? 1 : 0;
    int& day = labels.try_emplace(LocalDate(*t, m.zone), 0).first->second;
    day = std::max(day, fault);
  }
  return labels;
}

// A scratch directory removed on scope exit (the alert database of one evaluation).
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "brickcast-eval-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

StatusOr<FaultEvaluation> EvaluateFaults(const FaultEvaluationOptions& o) {
  auto mapping = LoadCsvMapping(o.mapping);
  if (!mapping.ok()) return mapping.status();
  auto labels = ReadDayLabels(*mapping, o.data);
  if (!labels.ok()) return labels.status();

  // The converted messages, in file order.
  std::vector<ConvertedMessage> messages;
  {
    std::ifstream csv(o.data, std::ios::binary);
    if (!csv) return Status::NotFound("cannot open " + o.data);
    ConvertStats stats;
    BRICKCAST_RETURN_IF_ERROR(
        ConvertCsv(*mapping, csv, [&](ConvertedMessage&& m) { messages.push_back(std::move(m)); }, &stats)
            .WithContext(o.data));
  }

  const Config& config = o.config;
  auto classes = ClassHierarchy::BuiltIn();
  auto model = std::make_shared<BrickModel>(classes);
  for (const std::string& f : o.brick_models) BRICKCAST_RETURN_IF_ERROR(model->LoadFile(f));
  PointRegistry registry(classes);
  registry.LoadModel(*model);
  SeriesStore store(SeriesOptionsFromConfig(config.store));
  StreamParser parser(ParserOptionsFromConfig(config));
  Ingestor ingestor(parser, registry, store, true, nullptr);

  auto rules = LoadRules(o.rules);
  if (!rules.ok()) return rules.status();

  // Everything runs on data time: the clock follows the replay.
  ManualClock clock(messages.empty() ? 0 : messages.front().time);
  EventBus events;
  ForecastServiceOptions fo = ForecastOptionsFromConfig(config);
  fo.events = &events;
  fo.clock = &clock;
  ForecastService forecasts(store, fo);
  if (!o.forecast_model.empty()) BRICKCAST_RETURN_IF_ERROR(forecasts.LoadModel(o.forecast_model).WithContext("forecast model"));

  ScratchDir scratch;
  if (scratch.path().empty()) return Status::Unavailable("cannot create a temporary directory");
  auto alert_store = OpenSqliteAlertStore(scratch.path() + "/alerts.db");
  if (!alert_store.ok()) return alert_store.status();
  AlertManagerOptions ao;
  ao.clock = &clock;
  ao.events = &events;
  ao.zone = mapping->zone;
  AlertManager alerts(std::move(*alert_store), ao);
  RuleEngine engine(store, [&forecasts](const std::string& p) { return forecasts.Get(p); }, registry, alerts);
  engine.SetRules(*rules, model);

  std::mutex fired_mu;
  std::vector<FiredAlert> fired;
  std::map<std::string, size_t> last_firing;  // alert id -> its latest entry in `fired`
  auto to_rules = events.Subscribe("rules", {EventKind<ForecastProduced>()}, [&engine](const Event& e) {
    engine.OnForecast(std::get<ForecastProduced>(e));
  });
  auto collect = events.Subscribe("evaluation", {EventKind<AlertChanged>()}, [&](const Event& e) {
    const auto& c = std::get<AlertChanged>(e);
    std::lock_guard<std::mutex> lock(fired_mu);
    // A later transition of a predicted episode says whether (and when) the measured value crossed.
    if (auto it = last_firing.find(c.alert); it != last_firing.end() && c.realised_at != 0 &&
                                             fired[it->second].realised_at == 0 && c.realised_at >= fired[it->second].time)
      fired[it->second].realised_at = c.realised_at;
    if (c.to != "firing" || c.from == "no_data" || c.severity == "info") return;
    const RuleSpec* rule = (*rules)->Find(c.rule);
    fired.push_back(FiredAlert{c.rule, rule ? RuleKindName(rule->kind) : "", c.severity, c.predicted, c.data_time,
                               std::string(), c.equipment, c.summary, c.realised_at});
    last_firing[c.alert] = fired.size() - 1;
  });

  // The model's forward passes are most of the run's CPU: by default only the points whose
  // forecasts a rule reads are forecast (what the rules see is the same either way).
  const std::set<std::string> forecast_inputs = engine.ForecastInputs();
  auto to_forecast = [&](const std::vector<std::string>& points) {
    if (o.forecast_all_points) return points;
    std::vector<std::string> read;
    for (const std::string& p : points) {
      if (forecast_inputs.count(p)) read.push_back(p);
    }
    return read;
  };
  BRICKCAST_RETURN_IF_ERROR(forecasts.Start());
  // One message at a time, each step's forecasts and rules done before the next message, so the
  // result does not depend on thread timing.
  for (ConvertedMessage& m : messages) {
    clock.Set(std::max(clock.Now(), m.time));
    IngestReport r = ingestor.IngestMessage(m.ttl, "evaluate-faults");
    if (r.points.empty()) continue;
    if (std::vector<std::string> due = to_forecast(r.points); !due.empty()) {
      forecasts.NotifyData(due);
      forecasts.Tick(std::chrono::seconds(60));
    }
    to_rules->Drain();
    engine.OnObservations(ObservationsApplied{std::move(r.points), r.latest_time, r.earliest_time});
  }
  forecasts.Stop();
  const ModelAccuracy forecast_accuracy = forecasts.Accuracy();
  to_rules->Drain();
  collect->Drain();
  to_rules.reset();
  collect.reset();

  FaultEvaluation out;
  out.messages = messages.size();
  out.rules = (*rules)->rules.size();
  out.bindings = engine.Counters().bindings;
  out.forecast = forecast_accuracy;
  out.forecast_all_points = o.forecast_all_points;
  for (const std::string& point : store.Points()) {
    std::optional<PointForecast> f = forecasts.Get(point);
    if (!f) continue;
    const std::optional<PointInfo> info = registry.Get(point);
    out.forecast_points[point] = FaultEvaluation::PointForecastReport{
        f->accuracy, ServedByName(f->served), info ? std::string(LocalName(info->brick_class)) : ""};
  }
  std::map<std::string, DayResult> days;
  for (const auto& [date, label] : *labels) days[date] = DayResult{date, label, {}};
  std::sort(fired.begin(), fired.end(), [](const FiredAlert& a, const FiredAlert& b) { return a.time < b.time; });
  for (FiredAlert& f : fired) {
    int minute = 0;
    const std::string date = LocalDate(f.time, mapping->zone, &minute);
    char hhmm[16];
    std::snprintf(hhmm, sizeof hhmm, "%02d:%02d", minute / 60, minute % 60);
    f.local_time = hhmm;
    auto [it, created] = days.try_emplace(date, DayResult{date, -1, {}});
    it->second.alerts.push_back(f);
  }
  std::vector<double> leads;
  for (const FiredAlert& f : fired) {
    if (!f.predicted) continue;
    ++out.predicted_fired;
    if (f.realised_at == 0) continue;
    ++out.predicted_realised;
    leads.push_back(static_cast<double>(f.realised_at - f.time) / 60'000.0);
  }
  if (!leads.empty()) {
    std::sort(leads.begin(), leads.end());
    out.median_lead_minutes = leads[(leads.size() - 1) / 2];
  }
  std::vector<int> first_minutes;
  for (auto& [date, d] : days) {
    if (d.label == 1) {
      ++out.fault_days;
      if (d.alarmed()) {
        ++out.detected;
        int minute = 0;
        LocalDate(d.alerts.front().time, mapping->zone, &minute);
        first_minutes.push_back(minute);
        std::set<std::string> kinds;
        for (const FiredAlert& f : d.alerts) kinds.insert(f.predicted ? "predicted" : f.kind);
        for (const std::string& k : kinds) ++out.detected_by_kind[k];
      }
    } else if (d.label == 0) {
      ++out.fault_free_days;
      out.alarmed += d.alarmed();
    }
    out.days.push_back(std::move(d));
  }
  if (!first_minutes.empty()) {
    std::sort(first_minutes.begin(), first_minutes.end());
    const int m = first_minutes[(first_minutes.size() - 1) / 2];
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02d:%02d", m / 60, m % 60);
    out.median_first_alert = buf;
  }
  return out;
}

}  // namespace brickcast
