// The Brick building model: classes and their hierarchy, equipment, points and the relations
// between them, loaded from Turtle files. Answers the questions rules and the API ask: "which
// points of this AHU are Supply_Air_Temperature_Sensors", "which VAVs does AHU1 feed", "the
// Valve_Command of the Heating_Valve part of the Hot_Water_Coil". Loading is single-threaded;
// after loading, const methods are safe from many threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "brickcast/rdf.h"
#include "brickcast/status.h"

namespace brickcast {

// Brick classes and their parents: the built-in table plus an optional ontology file.
class ClassHierarchy {
 public:
  static std::shared_ptr<ClassHierarchy> BuiltIn();

  // Adds rdfs:subClassOf, owl:equivalentClass, brick:isReplacedBy and Brick 1.3 deprecation
  // rules from an ontology file (e.g. Brick_v1.3.0_ontology.ttl).
  Status LoadOntology(const std::string& path);

  // The class a deprecated or alias class stands for; the input when it is current.
  std::string Canonical(std::string_view class_iri) const;
  // True when `cls` is `ancestor` or one of its (transitive) subclasses, after canonicalisation.
  bool IsA(std::string_view cls, std::string_view ancestor) const;
  bool Knows(std::string_view class_iri) const;
  size_t size() const { return parents_.size(); }

 private:
  void AddParent(const std::string& child, const std::string& parent);
  std::unordered_map<std::string, std::vector<std::string>> parents_;
  std::unordered_map<std::string, std::string> replaced_by_;
};

// One subject of the model: equipment, point, location or anything else typed in it.
struct Entity {
  std::string iri;
  std::vector<std::string> classes;  // class IRIs as declared
  std::string label;
  std::string unit;                         // QUDT unit IRI (brick:hasUnit)
  std::vector<std::string> timeseries_ids;  // ref:hasExternalReference/ref:hasTimeseriesId
  std::vector<std::string> points, point_of, parts, part_of, feeds, fed_by, locations;
};

class BrickModel {
 public:
  explicit BrickModel(std::shared_ptr<const ClassHierarchy> classes);

  // Loads a Turtle model file; may be called for several files (they merge).
  Status LoadFile(const std::string& path);
  Status LoadTurtle(std::string_view document, std::string_view source_name);

  const ClassHierarchy& classes() const { return *classes_; }
  const Entity* Find(std::string_view iri) const;
  size_t size() const { return entities_.size(); }

  // Every entity with a class that IsA `class_iri`, sorted by IRI.
  std::vector<const Entity*> InstancesOf(std::string_view class_iri) const;
  bool IsA(const Entity& e, std::string_view class_iri) const;
  bool IsPoint(const Entity& e) const;
  bool IsEquipment(const Entity& e) const;

  // The equipment (or location) a point belongs to (isPointOf / inverse hasPoint); empty if none.
  std::string OwnerOf(std::string_view point_iri) const;
  // The outermost equipment reached by following isPartOf from `iri`.
  std::string RootEquipmentOf(std::string_view iri) const;
  // The air-handling system `iri` (equipment or point) belongs to: the root of the nearest
  // Air_Handling_Unit found upstream along isPartOf and isFedBy (a VAV box -> the AHU that feeds
  // it; a fan -> its AHU); else the root equipment itself. The Kafka partition key: an AHU and
  // everything it feeds land on one instance, which topology-aware rules need.
  std::string SystemOf(std::string_view iri) const;

  // Points of class `point_class` reached from `equipment_iri` by walking hasPart through parts of
  // the classes in `part_path` (in order), then hasPoint. An empty path searches the equipment and
  // all of its parts, recursively.
  std::vector<std::string> ResolvePoints(std::string_view equipment_iri, std::string_view point_class,
                                         const std::vector<std::string>& part_path) const;

  // Entity whose ref:hasTimeseriesId equals `id`; nullptr when none.
  const Entity* FindByTimeseriesId(std::string_view id) const;

 private:
  friend class BrickModelLoader;
  Entity& Get(const std::string& iri);
  std::shared_ptr<const ClassHierarchy> classes_;
  std::unordered_map<std::string, Entity> entities_;
  std::unordered_map<std::string, std::string> by_timeseries_id_;
};

}  // namespace brickcast
