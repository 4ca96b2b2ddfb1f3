// A simulated air-handling system for demos and tests where no real data is at hand
// (`brickcast simulate`, `scripts/run-demo.sh` in a clone without ../shared/data).
//
//   weather + schedule ──> zones (thermal mass, gains, envelope) <── VAV boxes (damper, reheat)
//                              │ return air                            ^ supply air
//                              v                                       │
//   OA damper ──mixing──> heating coil ──> cooling coil ──> supply fan ─┘ (duct static pressure)
//
// One AHU feeding `zones` VAV boxes, each serving one zone. The AHU runs a G36-like supply air
// temperature sequence (heating valve, economizer, cooling valve) with feedforward and an
// integral trim, and a duct static pressure loop on the fan speed; each VAV holds its zone
// between a heating and a cooling set point. The physics is simple on purpose (first-order
// coils and sensors, a lumped zone) but coherent: mixed air lies between outside and return
// air, the coils move the supply air as their valves say, and a fault propagates through the
// loops as it would on a real unit (a stuck cooling valve makes the controller open it fully; a
// fouled filter drives the fan to full speed). Deterministic for a seed.
//
// Faults ("kind[:target][=value][@from[-to]]", times from the start: "6h", "2d", "90m"):
//   sensor_bias:<point>=K       reading offset (points: SAT, MAT, RAT, OAT, DSP, ZAT1..)
//   sensor_drift:<point>=K/day  offset growing from the start of the fault
//   sensor_flatline:<point>     the reading freezes
//   valve_stuck:<heating|cooling>=pos      the valve stays at pos (0..1) whatever its command
//   valve_leak:<heating|cooling>=pos       the valve passes at least pos
//   damper_stuck=pos            the outside air damper stays at pos
//   fan_failure                 the supply fan stops while commanded (status off, no airflow)
//   filter_fouling=x            filter resistance x times its clean value on top (fan works harder)
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "brickcast/status.h"
#include "brickcast/time.h"

namespace brickcast {

enum class SimFaultKind {
  kSensorBias,
  kSensorDrift,
  kSensorFlatline,
  kValveStuck,
  kValveLeak,
  kDamperStuck,
  kFanFailure,
  kFilterFouling,
};

struct SimFault {
  SimFaultKind kind = SimFaultKind::kSensorBias;
  std::string target;  // a point name, "heating"/"cooling", or "" where the kind has none
  double value = 0;
  int64_t from_ms = 0;        // from the start of the simulation
  int64_t to_ms = INT64_MAX;  // exclusive
  std::string spec;           // as given, for labels and logs
};
// Parses "kind[:target][=value][@from[-to]]"; the error names what is wrong.
StatusOr<SimFault> ParseSimFault(const std::string& spec);
// The faults of the shipped demo scenario (documented in the README): each raises its own alert
// within the first simulated day or two.
std::vector<SimFault> DemoScenario();

struct SimulatorOptions {
  UnixMillis start = 0;              // 0: 2026-03-02T00:00:00Z, a Monday in a mild spring
  int64_t duration_ms = 7 * 86'400'000LL;
  int64_t sample_ms = 60'000;        // one message per sample
  int zones = 3;
  uint64_t seed = 1;
  std::string ns = "urn:brickcast:sim#";  // IRI namespace of the equipment and points
  std::vector<SimFault> faults;
};

// One reading: a point (its local name; the IRI is ns + name) and its value in the point's unit.
struct SimReading {
  const char* point;
  double value;
};

class AhuSimulator {
 public:
  explicit AhuSimulator(SimulatorOptions options);

  // The system's Brick model (Turtle): the AHU, its parts and points, the VAVs and zones, with
  // units; `brickcast serve` loads it as a brick model.
  std::string BrickModel() const;
  // Advances one sample; false once the duration is over. `time` is the sample's data time.
  bool Next(UnixMillis* time, std::vector<SimReading>* readings);
  // The sample rendered as one Turtle message of brick:lastKnownValue statements; with
  // `describe`, each point's class, equipment and unit too, as `brickcast convert` writes them
  // (the simulate command describes the points once per simulated hour, so a consumer that joins
  // late learns them without every message carrying them).
  std::string Message(UnixMillis time, const std::vector<SimReading>& readings, bool describe) const;
  // The AHU's IRI: the messages' Kafka key.
  std::string AhuIri() const { return options_.ns + "AHU1"; }
  const SimulatorOptions& options() const { return options_; }

 private:
  struct PointInfo {
    std::string name, brick_class, unit, equipment;
  };
  struct Zone {
    double temp = 21, damper = 0.3, reheat = 0;
  };
  // What the sensors would read, with noise, bias, drift and flatline applied.
  double Sensor(const char* name, double truth, double noise, int64_t elapsed);
  const SimFault* Active(SimFaultKind kind, const std::string& target, int64_t elapsed) const;
  double OutsideAir(UnixMillis t);

  SimulatorOptions options_;
  std::vector<PointInfo> points_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> unit_noise_{0.0, 1.0};
  UnixMillis now_ = 0;
  bool started_ = false;
  // Plant and controller state.
  std::vector<Zone> zones_;
  double sat_ = 13, sat_reported_ = 13, fan_speed_ = 0, integral_ = 0, heat_cmd_ = 0, cool_cmd_ = 0, damper_cmd_ = 0;
  double day_offset_ = 0;  // the day's weather offset, drawn at midnight
  int64_t day_ = -1;
  std::vector<std::pair<std::string, double>> frozen_;  // flatlined sensors' readings
};

}  // namespace brickcast
