// PointRegistry: what the daemon knows about each point (class, equipment, unit, timeseries id),
// from the static Brick model and from metadata triples in the stream. Resolves the ids users
// type (IRI, short name, timeseries id) and normalises observations to SI units.
// Thread-safe: readers share a lock, updates take it exclusively.
#pragma once

#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "brickcast/brick_model.h"
#include "brickcast/metrics.h"
#include "brickcast/observation.h"
#include "brickcast/units.h"

namespace brickcast {

struct PointInfo {
  std::string iri;
  std::string short_name;  // local name of the IRI, when unique
  std::string brick_class;  // class IRI; empty when unknown
  std::string equipment;    // owning equipment IRI; empty when unknown
  std::string unit;         // QUDT unit IRI; empty when unknown
  std::string timeseries_id;
  std::string label;
  bool in_model = false;  // declared by a static model (vs. learnt from the stream)
};

class PointRegistry {
 public:
  explicit PointRegistry(std::shared_ptr<const ClassHierarchy> classes);

  // Registers every point of the model (entities whose class is a Brick Point, or that have
  // a unit or a timeseries reference).
  void LoadModel(const BrickModel& model);
  // Applies stream metadata; stated fields overwrite, empty fields keep what was known. Metadata of
  // an entity whose class is a known non-Point class (equipment, a location) is not a point's:
  // returns false and registers nothing.
  bool Apply(const PointMetadata& meta);
  // Registers a point seen in the stream without metadata.
  void Touch(const std::string& iri);
  // Forgets points learnt from the stream (their partition moved to another instance); points of
  // the static model stay, as configuration. Returns how many were forgotten.
  size_t DropStreamPoints(const std::vector<std::string>& iris);

  std::optional<PointInfo> Get(std::string_view iri) const;
  // IRI for an IRI, short name or timeseries id; empty when unknown.
  std::string Resolve(std::string_view id) const;
  std::vector<PointInfo> List() const;
  size_t size() const;
  void CollectMetrics(MetricWriter& writer) const;  // points known, for the metrics registry
  const ClassHierarchy& classes() const { return *classes_; }

  // Converts obs.value to SI using the message unit, else the registry's unit for the point.
  // Checks the unit against the point class's quantity and the physical range. On failure fills
  // `error` (reason unknown_unit, unit_mismatch or out_of_range) and returns false.
  bool Normalize(Observation* obs, IngestError* error) const;

 private:
  void IndexLocked(const PointInfo& p);
  std::shared_ptr<const ClassHierarchy> classes_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, PointInfo> points_;         // guarded by mu_
  std::unordered_map<std::string, std::string> short_names_;  // name -> IRI ("" when ambiguous)
  std::unordered_map<std::string, std::string> timeseries_ids_;
};

}  // namespace brickcast
