// The metrics registry: one exposition in the Prometheus text format from every module's collector.
#include "brickcast/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_support.h"

namespace brickcast {
namespace {

TEST(MetricsTest, OneHelpAndTypePerFamilyAcrossCollectorsAndLabels) {
  MetricsRegistry r;
  r.Register("a", [](MetricWriter& w) {
    w.Counter("x_total", "Things.", 3, {{"kind", "a"}});
    w.Gauge("depth", "Queue depth.", 7);
  });
  r.Register("b", [](MetricWriter& w) { w.Counter("x_total", "Things.", 4, {{"kind", "b"}}); });
  const std::string text = r.PrometheusText();
  EXPECT_EQ(text,
            "# HELP x_total Things.\n# TYPE x_total counter\nx_total{kind=\"a\"} 3\nx_total{kind=\"b\"} 4\n"
            "# HELP depth Queue depth.\n# TYPE depth gauge\ndepth 7\n");
  EXPECT_EQ(testing::PrometheusTextProblems(text), "");
}

TEST(MetricsTest, ValuesAndLabelsAreWrittenAsPrometheusReadsThem) {
  MetricWriter w;
  w.Gauge("g", "G.", NAN, {{"model", "a \"quoted\"\\name\nnext"}});
  w.Gauge("h", "H.", 0.25);
  w.Counter("c", "C.", 12345678901.0);
  const std::string text = w.Text();
  EXPECT_NE(text.find("g{model=\"a \\\"quoted\\\"\\\\name\\nnext\"} NaN\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h 0.25\n"), std::string::npos) << text;
  EXPECT_NE(text.find("c 12345678901\n"), std::string::npos) << text;
  EXPECT_EQ(FormatMetricValue(INFINITY), "+Inf");
}

TEST(MetricsTest, HistogramHasCumulativeBucketsInfSumAndCount) {
  MetricWriter w;
  w.Histogram("lat_seconds", "Latency.", {0.1, 1}, {2, 5}, 3.5, 6, {{"path", "/x"}});
  EXPECT_EQ(w.Text(),
            "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{path=\"/x\",le=\"0.1\"} 2\nlat_seconds_bucket{path=\"/x\",le=\"1\"} 5\n"
            "lat_seconds_bucket{path=\"/x\",le=\"+Inf\"} 6\nlat_seconds_sum{path=\"/x\"} 3.5\n"
            "lat_seconds_count{path=\"/x\"} 6\n");
  EXPECT_EQ(testing::PrometheusTextProblems(w.Text()), "");
}

}  // namespace
}  // namespace brickcast
