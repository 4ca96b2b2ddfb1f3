#include "brickcast/offline_forecast.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/replay_support.h"
#include "brick/turtle_reader.h"
#include "brickcast/csv_converter.h"
#include "brickcast/daemon.h"
#include "brickcast/units.h"

namespace brickcast {
namespace {

struct TimedMessage {
  UnixMillis time = 0;
  std::string source;
  std::string ttl;
};

StatusOr<std::string> ReadAll(const std::string& path) {
  if (path != "-") return ReadFileToString(path);
  std::ostringstream os;
  os << std::cin.rdbuf();
  return os.str();
}

// Every input message with its newest observation time, in input order.
StatusOr<std::vector<TimedMessage>> ReadMessages(const OfflineForecastOptions& o, const StreamParser& parser) {
  std::vector<TimedMessage> out;
  if (!o.mapping.empty()) {
    auto mapping = LoadCsvMapping(o.mapping);
    if (!mapping.ok()) return mapping.status();
    for (const std::string& f : o.files) {
      std::ifstream file;
      if (f != "-") {
        file.open(f, std::ios::binary);
        if (!file) return Status::NotFound("cannot open " + f);
      }
      ConvertStats stats;
      size_t n = 0;
      Status st = ConvertCsv(*mapping, f == "-" ? std::cin : file, [&](ConvertedMessage&& m) {
        out.push_back(TimedMessage{m.time, f + " row " + std::to_string(++n), std::move(m.ttl)});
      }, &stats);
      if (!st.ok()) return st.WithContext(f);
      for (const auto& e : stats.errors) spdlog::warn("{}: {}", f, e);
    }
    return out;
  }
  MessageKeyer keyer(parser);
  for (const std::string& f : o.files) {
    auto text = ReadAll(f);
    if (!text.ok()) return text.status();
    size_t n = 0;
    for (std::string_view msg : SplitMessages(*text)) {
      out.push_back(TimedMessage{keyer.Summarize(msg).time, f + "#" + std::to_string(++n), std::string(msg)});
    }
  }
  return out;
}

}  // namespace

StatusOr<OfflineForecastResult> RunOfflineForecast(const OfflineForecastOptions& o) {
  const Config& config = o.config;
  if (o.files.empty()) return Status::InvalidArgument("no input files");
  if (!config.forecast.enabled) return Status::InvalidArgument("forecast.enabled is false in the configuration");

  auto classes = ClassHierarchy::BuiltIn();
  if (!config.brick.ontology.empty()) BRICKCAST_RETURN_IF_ERROR(classes->LoadOntology(config.brick.ontology));
  BrickModel model(classes);
  for (const std::string& f : config.brick.models) BRICKCAST_RETURN_IF_ERROR(model.LoadFile(f));
  PointRegistry registry(classes);
  registry.LoadModel(model);
  SeriesStore store(SeriesOptionsFromConfig(config.store));
  StreamParser parser(ParserOptionsFromConfig(config));
  Ingestor ingestor(parser, registry, store, config.ingest.accept_unknown_points, nullptr);

  ForecastService service(store, ForecastOptionsFromConfig(config));
  if (!config.forecast.model.empty()) {
    BRICKCAST_RETURN_IF_ERROR(service.LoadModel(config.forecast.model).WithContext("model"));
  }

  auto messages = ReadMessages(o, parser);
  if (!messages.ok()) return messages.status();
  OfflineForecastResult result;
  result.messages = messages->size();
  for (const TimedMessage& m : *messages) result.data_end = std::max(result.data_end, m.time);
  if (result.data_end == 0) return Status::InvalidArgument("the input holds no observation with a time");
  const int64_t step_ms = config.store.step_seconds * 1000;
  const UnixMillis backtest_from = result.data_end - static_cast<int64_t>(o.backtest_steps) * step_ms;

  BRICKCAST_RETURN_IF_ERROR(service.Start());
  // Before the backtest span the data only fills the windows; inside it, every closed step gets
  // a forecast, scored when its actuals arrive, as live.
  EventBus events;
  ingestor.PublishTo(&events);
  std::atomic<bool> forecasting{false};
  auto to_service = events.Subscribe("forecast", {EventKind<ObservationsApplied>()}, [&](const Event& e) {
    if (forecasting) service.NotifyData(std::get<ObservationsApplied>(e).points);
  });
  for (const TimedMessage& m : *messages) {
    forecasting = m.time >= backtest_from;
    ingestor.IngestMessage(m.ttl, m.source);
    if (forecasting) {
      to_service->Drain();  // the service has seen this message's points
      service.ScanNow();
      service.WaitIdle(std::chrono::seconds(60));
    }
  }
  to_service->Drain();
  service.ScanNow();
  service.WaitIdle(std::chrono::seconds(60));
  to_service.reset();
  service.Stop();

  for (const PointInfo& p : registry.List()) {
    auto f = service.Get(p.iri);
    if (!f) continue;
    OfflineForecast out;
    out.forecast = std::move(*f);
    if (const UnitInfo* u = FindUnit(p.unit)) out.si_unit = std::string(u->si_symbol);
    result.points.push_back(std::move(out));
  }
  result.ingest = ingestor.Counters();
  return result;
}

}  // namespace brickcast
