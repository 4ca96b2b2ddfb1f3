// Metrics: one registry, one exposition. Each module registers a collector that reads its own
// counters when /metrics is scraped and writes them through a MetricWriter; the registry writes the
// Prometheus text format (0.0.4) in one place: one HELP and TYPE per family however many
// collectors or label sets write to it, escaped label values, NaN and +Inf spelled as Prometheus
// wants. Modules keep their counters where they are cheapest to update (atomics, counters under
// their own locks); nothing is copied until a scrape.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brickcast {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricWriter {
 public:
  void Counter(std::string_view name, std::string_view help, double value, const MetricLabels& labels = {});
  void Gauge(std::string_view name, std::string_view help, double value, const MetricLabels& labels = {});
  // `cumulative` holds the count at or below each bound (Prometheus buckets); +Inf is `count`.
  void Histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& cumulative, double sum, uint64_t count,
                 const MetricLabels& labels = {});
  std::string Text() const;

 private:
  struct Family {
    std::string type, help;
    std::string lines;
  };
  Family& FamilyFor(std::string_view name, std::string_view type, std::string_view help);
  std::vector<std::string> order_;      // families in order of first appearance
  std::map<std::string, Family> families_;
};

class MetricsRegistry {
 public:
  using Collector = std::function<void(MetricWriter&)>;
  // `source` names the module (for errors and tests). Collectors run on the scraping thread and
  // must be thread-safe.
  void Register(std::string source, Collector collect);
  std::string PrometheusText() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, Collector>> collectors_;  // guarded by mu_
};

// "1.5", "42", "NaN", "+Inf": a sample value in the text format.
std::string FormatMetricValue(double v);

}  // namespace brickcast
