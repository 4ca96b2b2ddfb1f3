#include "brickcast/point_registry.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <sstream>

namespace brickcast {

PointRegistry::PointRegistry(std::shared_ptr<const ClassHierarchy> classes) : classes_(std::move(classes)) {}

void PointRegistry::IndexLocked(const PointInfo& p) {
  const std::string name(LocalName(p.iri));
  auto [it, inserted] = short_names_.try_emplace(name, p.iri);
  if (!inserted && it->second != p.iri) it->second.clear();  // ambiguous: needs the full IRI
  if (!p.timeseries_id.empty()) timeseries_ids_[p.timeseries_id] = p.iri;
}

void PointRegistry::LoadModel(const BrickModel& model) {
  const std::string point_class = BrickClassIri("Point");
  std::unique_lock lock(mu_);
  for (const Entity* e : model.InstancesOf(point_class)) {
    PointInfo& p = points_[e->iri];
    p.iri = e->iri;
    p.brick_class = e->classes.empty() ? "" : e->classes.front();
    p.equipment = model.OwnerOf(e->iri);
    p.unit = e->unit;
    p.timeseries_id = e->timeseries_ids.empty() ? "" : e->timeseries_ids.front();
    p.label = e->label;
    p.in_model = true;
    IndexLocked(p);
  }
  for (auto& [iri, p] : points_) {
    const std::string name(LocalName(iri));
    auto it = short_names_.find(name);
    p.short_name = it != short_names_.end() && it->second == iri ? name : "";
  }
}

bool PointRegistry::Apply(const PointMetadata& m) {
  // Messages describe equipment too ("AHU1 a brick:Air_Handling_Unit"): those are not points.
  // A class the hierarchy does not know is taken as a point's (streams may use their own).
  if (!m.brick_class.empty() && classes_->Knows(m.brick_class) &&
      !classes_->IsA(m.brick_class, BrickClassIri("Point"))) {
    return false;
  }
  std::unique_lock lock(mu_);
  PointInfo& p = points_[m.point];
  const bool fresh = p.iri.empty();
  p.iri = m.point;
  if (!m.brick_class.empty()) p.brick_class = m.brick_class;
  if (!m.equipment.empty()) p.equipment = m.equipment;
  if (!m.unit.empty()) p.unit = m.unit;
  if (!m.timeseries_id.empty()) p.timeseries_id = m.timeseries_id;
  if (!m.label.empty()) p.label = m.label;
  IndexLocked(p);
  if (fresh) {
    const std::string name(LocalName(p.iri));
    p.short_name = short_names_[name] == p.iri ? name : "";
  }
  return true;
}

void PointRegistry::Touch(const std::string& iri) {
  {
    std::shared_lock lock(mu_);
    if (points_.count(iri) > 0) return;
  }
  PointMetadata m;
  m.point = iri;
  Apply(m);
}

size_t PointRegistry::DropStreamPoints(const std::vector<std::string>& iris) {
  std::unique_lock lock(mu_);
  size_t dropped = 0;
  for (const std::string& iri : iris) {
    auto it = points_.find(iri);
    if (it == points_.end() || it->second.in_model) continue;
    const std::string name(LocalName(iri));
    if (auto s = short_names_.find(name); s != short_names_.end() && s->second == iri) short_names_.erase(s);
    if (!it->second.timeseries_id.empty()) timeseries_ids_.erase(it->second.timeseries_id);
    points_.erase(it);
    ++dropped;
  }
  return dropped;
}

std::optional<PointInfo> PointRegistry::Get(std::string_view iri) const {
  std::shared_lock lock(mu_);
  auto it = points_.find(std::string(iri));
  if (it == points_.end()) return std::nullopt;
  return it->second;
}

std::string PointRegistry::Resolve(std::string_view id) const {
  std::shared_lock lock(mu_);
  const std::string key(id);
  if (points_.count(key) > 0) return key;
  if (auto it = timeseries_ids_.find(key); it != timeseries_ids_.end()) return it->second;
  if (auto it = short_names_.find(key); it != short_names_.end()) return it->second;
  return "";
}

std::vector<PointInfo> PointRegistry::List() const {
  std::shared_lock lock(mu_);
  std::vector<PointInfo> out;
  out.reserve(points_.size());
  for (const auto& [iri, p] : points_) out.push_back(p);
  std::sort(out.begin(), out.end(), [](const PointInfo& a, const PointInfo& b) { return a.iri < b.iri; });
  return out;
}

void PointRegistry::CollectMetrics(MetricWriter& w) const {
  w.Gauge("brickcast_registry_points", "Points known from models and streams.", static_cast<double>(size()));
}

size_t PointRegistry::size() const {
  std::shared_lock lock(mu_);
  return points_.size();
}

bool PointRegistry::Normalize(Observation* obs, IngestError* error) const {
  std::string unit = obs->unit;
  std::string cls;
  {
    std::shared_lock lock(mu_);
    auto it = points_.find(obs->point);
    if (it != points_.end()) {
      if (unit.empty()) unit = it->second.unit;
      cls = classes_->Canonical(it->second.brick_class);
    }
  }
  const Quantity expected = cls.empty() ? Quantity::kUnknown : QuantityOfClass(LocalName(cls));
  auto fail = [&](std::string reason, std::string message) {
    *error = IngestError{std::move(reason), std::move(message), 0, 0, obs->point};
    return false;
  };
  Quantity quantity = expected;
  if (unit.empty()) {
    obs->unit.clear();
    obs->si_unit.clear();
  } else {
    const UnitInfo* u = FindUnit(unit);
    if (u == nullptr) return fail("unknown_unit", obs->point + ": unknown unit " + unit);
    // Percent commands and dimensionless 0/1 signals are interchangeable in practice; anything else
    // (a temperature sensor reporting in Pa) is a mapping mistake.
    const bool compatible = expected == Quantity::kUnknown || u->quantity == expected ||
                            (expected == Quantity::kFraction && u->quantity == Quantity::kDimensionless) ||
                            (expected == Quantity::kDimensionless && u->quantity == Quantity::kFraction);
    if (!compatible) {
      return fail("unit_mismatch", obs->point + ": unit " + std::string(u->name) + " measures " +
                                       std::string(QuantityName(u->quantity)) + " but " +
                                       std::string(LocalName(cls)) + " is a " +
                                       std::string(QuantityName(expected)) + " point");
    }
    obs->value = obs->value * u->scale + u->offset;
    obs->unit = std::string(u->name);
    obs->si_unit = std::string(u->si_symbol);
    quantity = u->quantity;
  }
  if (!InPhysicalRange(quantity, obs->value)) {
    std::ostringstream os;
    os << obs->point << ": " << obs->value << " " << obs->si_unit << " is outside the physical range of "
       << QuantityName(quantity);
    return fail("out_of_range", os.str());
  }
  return true;
}

}  // namespace brickcast
