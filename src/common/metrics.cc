#include "brickcast/metrics.h"

#include <cmath>
#include <cstdio>

namespace brickcast {
namespace {

std::string Escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string LabelText(const MetricLabels& labels, std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (const auto& [k, v] : labels) out += (out.size() > 1 ? "," : "") + k + "=\"" + Escape(v) + "\"";
  if (!extra_name.empty()) out += (out.size() > 1 ? "," : "") + std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  return out + "}";
}

}  // namespace

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

MetricWriter::Family& MetricWriter::FamilyFor(std::string_view name, std::string_view type, std::string_view help) {
  auto [it, fresh] = families_.try_emplace(std::string(name));
  if (fresh) {
    order_.emplace_back(name);
    it->second.type = std::string(type);
    it->second.help = std::string(help);
  }
  return it->second;
}

void MetricWriter::Counter(std::string_view name, std::string_view help, double value, const MetricLabels& labels) {
  FamilyFor(name, "counter", help).lines += std::string(name) + LabelText(labels) + " " + FormatMetricValue(value) + "\n";
}

void MetricWriter::Gauge(std::string_view name, std::string_view help, double value, const MetricLabels& labels) {
  FamilyFor(name, "gauge", help).lines += std::string(name) + LabelText(labels) + " " + FormatMetricValue(value) + "\n";
}

void MetricWriter::Histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                             const std::vector<uint64_t>& cumulative, double sum, uint64_t count,
                             const MetricLabels& labels) {
  Family& f = FamilyFor(name, "histogram", help);
  const std::string n(name);
  for (size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i) {
    char le[32];
    std::snprintf(le, sizeof le, "%g", bounds[i]);
    f.lines += n + "_bucket" + LabelText(labels, "le", le) + " " + std::to_string(cumulative[i]) + "\n";
  }
  f.lines += n + "_bucket" + LabelText(labels, "le", "+Inf") + " " + std::to_string(count) + "\n";
  f.lines += n + "_sum" + LabelText(labels) + " " + FormatMetricValue(sum) + "\n";
  f.lines += n + "_count" + LabelText(labels) + " " + std::to_string(count) + "\n";
}

std::string MetricWriter::Text() const {
  std::string out;
  for (const std::string& name : order_) {
    const Family& f = families_.at(name);
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n" + f.lines;
  }
  return out;
}

void MetricsRegistry::Register(std::string source, Collector collect) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.emplace_back(std::move(source), std::move(collect));
}

std::string MetricsRegistry::PrometheusText() const {
  std::vector<std::pair<std::string, Collector>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collectors = collectors_;
  }
  MetricWriter w;
  for (const auto& [source, collect] : collectors) collect(w);
  return w.Text();
}

}  // namespace brickcast
