#include "brickcast/brick_model.h"

#include <algorithm>
#include <deque>
#include <unordered_set>

#include "brick/builtin_classes.h"
#include "brick/turtle_reader.h"

namespace brickcast {
namespace {

void AddUnique(std::vector<std::string>* v, const std::string& s) {
  if (std::find(v->begin(), v->end(), s) == v->end()) v->push_back(s);
}

std::string Brick(std::string_view local) {
  std::string s(kBrickNs);
  s.append(local);
  return s;
}

// Older models use the 1.0.x namespaces; their classes map onto the current namespace by name.
std::string NormalizeClassIri(std::string_view iri) {
  static constexpr std::string_view kOld[] = {"https://brickschema.org/schema/1.0.2/Brick#",
                                              "https://brickschema.org/schema/1.0.3/Brick#",
                                              "https://brickschema.org/schema/1.1/Brick#"};
  for (std::string_view ns : kOld) {
    if (InNamespace(iri, ns)) return Brick(iri.substr(ns.size()));
  }
  return std::string(iri);
}

}  // namespace

const PrefixMap& StandardPrefixes() {
  static const auto* const kMap = new PrefixMap{
      {"brick", std::string(kBrickNs)},
      {"ref", std::string(kBrickRefNs)},
      {"rdf", std::string(kRdfNs)},
      {"rdfs", std::string(kRdfsNs)},
      {"xsd", std::string(kXsdNs)},
      {"owl", std::string(kOwlNs)},
      {"sosa", std::string(kSosaNs)},
      {"qudt", std::string(kQudtNs)},
      {"unit", "http://qudt.org/vocab/unit/"},
  };
  return *kMap;
}

std::string BrickClassIri(std::string_view name) {
  if (name.substr(0, 6) == "brick:") return Brick(name.substr(6));
  if (name.find(':') != std::string_view::npos) return NormalizeClassIri(name);
  return Brick(name);
}

std::string_view LocalName(std::string_view iri) {
  const size_t pos = iri.find_last_of("#/");
  return pos == std::string_view::npos ? iri : iri.substr(pos + 1);
}

// ---------------------------------------------------------------------------------------------
// ClassHierarchy

std::shared_ptr<ClassHierarchy> ClassHierarchy::BuiltIn() {
  auto h = std::make_shared<ClassHierarchy>();
  for (std::string_view row : BuiltinClassTable()) {
    const size_t sp = row.find(' ');
    const std::string child = Brick(row.substr(0, sp));
    size_t pos = sp + 1;
    while (pos <= row.size()) {
      size_t next = row.find(' ', pos);
      if (next == std::string_view::npos) next = row.size();
      std::string_view parent = row.substr(pos, next - pos);
      if (parent != "Class") h->AddParent(child, Brick(parent));
      else h->parents_.try_emplace(child);
      pos = next + 1;
    }
  }
  for (const auto& [from, to] : BuiltinClassAliases()) h->replaced_by_[Brick(from)] = Brick(to);
  return h;
}

void ClassHierarchy::AddParent(const std::string& child, const std::string& parent) {
  AddUnique(&parents_[child], parent);
  parents_.try_emplace(parent);
}

Status ClassHierarchy::LoadOntology(const std::string& path) {
  auto doc = ReadFileToString(path);
  if (!doc.ok()) return doc.status().WithContext("brick ontology");
  const std::string sub_class_of = std::string(kRdfsNs) + "subClassOf";
  const std::string equivalent = std::string(kOwlNs) + "equivalentClass";
  const std::string replaced = Brick("isReplacedBy");
  const std::string construct = "http://www.w3.org/ns/shacl#construct";
  const std::string target = "http://www.w3.org/ns/shacl#targetClass";
  // Brick 1.3 writes deprecations as a SHACL rule whose CONSTRUCT names the replacement:
  // collect (rule node -> replacement) and (rule node -> deprecated class), then join.
  std::unordered_map<std::string, std::string> rule_replacement, rule_target;
  std::unordered_map<std::string, std::string> nested_rule;  // sh:rule blank -> parent shape
  TurtleReader reader(&StandardPrefixes());
  TurtleError error;
  std::vector<Triple> triples;
  if (!reader.Parse(*doc, path, &triples, &error))
    return Status::InvalidArgument("brick ontology " + path + ": " + error.ToString());
  for (const Triple& t : triples) {
    const std::string& p = t.predicate.value;
    if (p == sub_class_of && t.subject.IsIri() && t.object.IsIri() && InNamespace(t.subject.value, kBrickNs) &&
        InNamespace(t.object.value, kBrickNs)) {
      AddParent(t.subject.value, t.object.value);
    } else if ((p == equivalent || p == replaced) && t.subject.IsIri() && t.object.IsIri() &&
               InNamespace(t.subject.value, kBrickNs) && InNamespace(t.object.value, kBrickNs)) {
      if (p == replaced) replaced_by_[t.subject.value] = t.object.value;
      else AddParent(t.subject.value, t.object.value);  // equivalence: treat as a parent link
    } else if (p == "http://www.w3.org/ns/shacl#rule" && !t.subject.IsIri()) {
      nested_rule[t.object.value] = t.subject.value;
    } else if (p == construct && t.object.IsLiteral()) {
      const std::string& q = t.object.value;
      const size_t type_at = q.find("rdf:type <");
      if (type_at != std::string::npos) {
        const size_t start = type_at + 10, end = q.find('>', start);
        if (end != std::string::npos) rule_replacement[t.subject.value] = q.substr(start, end - start);
      }
    } else if (p == target && t.object.IsIri()) {
      rule_target[t.subject.value] = t.object.value;
    }
  }
  for (const auto& [rule, replacement] : rule_replacement) {
    auto parent = nested_rule.find(rule);
    if (parent == nested_rule.end()) continue;
    auto tgt = rule_target.find(parent->second);
    if (tgt != rule_target.end() && tgt->second != replacement) replaced_by_[tgt->second] = replacement;
  }
  return Status::Ok();
}

std::string ClassHierarchy::Canonical(std::string_view class_iri) const {
  std::string c = NormalizeClassIri(class_iri);
  for (int hops = 0; hops < 8; ++hops) {  // replacement chains are short; guard against cycles
    auto it = replaced_by_.find(c);
    if (it == replaced_by_.end()) break;
    c = it->second;
  }
  return c;
}

bool ClassHierarchy::Knows(std::string_view class_iri) const {
  return parents_.count(Canonical(class_iri)) > 0 || parents_.count(NormalizeClassIri(class_iri)) > 0;
}

bool ClassHierarchy::IsA(std::string_view cls, std::string_view ancestor) const {
  const std::string goal = Canonical(ancestor);
  std::deque<std::string> pending{NormalizeClassIri(cls)};
  std::unordered_set<std::string> seen;
  while (!pending.empty()) {
    std::string c = std::move(pending.front());
    pending.pop_front();
    if (!seen.insert(c).second) continue;
    if (c == goal || Canonical(c) == goal) return true;
    for (const std::string& key : {c, Canonical(c)}) {
      auto it = parents_.find(key);
      if (it != parents_.end()) pending.insert(pending.end(), it->second.begin(), it->second.end());
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// BrickModel

BrickModel::BrickModel(std::shared_ptr<const ClassHierarchy> classes) : classes_(std::move(classes)) {}

Entity& BrickModel::Get(const std::string& iri) {
  Entity& e = entities_[iri];
  if (e.iri.empty()) e.iri = iri;
  return e;
}

Status BrickModel::LoadFile(const std::string& path) {
  auto doc = ReadFileToString(path);
  if (!doc.ok()) return doc.status().WithContext("brick model");
  return LoadTurtle(*doc, path);
}

Status BrickModel::LoadTurtle(std::string_view document, std::string_view source_name) {
  static const std::string kHasPoint = Brick("hasPoint"), kIsPointOf = Brick("isPointOf"),
                           kHasPart = Brick("hasPart"), kIsPartOf = Brick("isPartOf"),
                           kFeeds = Brick("feeds"), kIsFedBy = Brick("isFedBy"),
                           kHasLocation = Brick("hasLocation"), kIsLocationOf = Brick("isLocationOf"),
                           kHasUnit = Brick("hasUnit"),
                           kExtRef = std::string(kBrickRefNs) + "hasExternalReference",
                           kTsRef = std::string(kBrickRefNs) + "hasTimeseriesReference",
                           kTsId = std::string(kBrickRefNs) + "hasTimeseriesId";
  // Buffer first: a model that fails to parse must not be half-loaded.
  std::vector<Triple> triples;
  TurtleReader reader(&StandardPrefixes());
  TurtleError error;
  if (!reader.Parse(document, source_name, &triples, &error)) {
    return Status::InvalidArgument("brick model " + std::string(source_name) + ": " + error.ToString());
  }
  std::unordered_map<std::string, std::vector<std::string>> ext_refs;  // entity -> reference nodes
  std::unordered_map<std::string, std::string> ref_ids;                // reference node -> id
  for (const Triple& t : triples) {
    const std::string& p = t.predicate.value;
    const std::string& s = t.subject.value;
    const std::string& o = t.object.value;
    if (p == kRdfType && t.object.IsIri()) {
      if (InNamespace(o, kBrickNs) || InNamespace(o, "https://brickschema.org/schema/1.")) {
        AddUnique(&Get(s).classes, NormalizeClassIri(o));
      }
    } else if (p == kRdfsLabel && t.object.IsLiteral()) {
      if (Get(s).label.empty()) Get(s).label = o;
    } else if (p == kHasUnit && t.object.IsIri()) {
      Get(s).unit = o;
    } else if ((p == kExtRef || p == kTsRef) && t.object.IsNode()) {
      ext_refs[s].push_back(o);
    } else if (p == kTsId && t.object.IsLiteral()) {
      ref_ids[s] = o;
    } else if (t.object.IsNode()) {
      auto link = [&](std::vector<std::string> Entity::*fwd, std::vector<std::string> Entity::*back,
                      const std::string& a, const std::string& b) {
        AddUnique(&(Get(a).*fwd), b);
        AddUnique(&(Get(b).*back), a);
      };
      if (p == kHasPoint) link(&Entity::points, &Entity::point_of, s, o);
      else if (p == kIsPointOf) link(&Entity::point_of, &Entity::points, s, o);
      else if (p == kHasPart) link(&Entity::parts, &Entity::part_of, s, o);
      else if (p == kIsPartOf) link(&Entity::part_of, &Entity::parts, s, o);
      else if (p == kFeeds) link(&Entity::feeds, &Entity::fed_by, s, o);
      else if (p == kIsFedBy) link(&Entity::fed_by, &Entity::feeds, s, o);
      else if (p == kHasLocation) AddUnique(&Get(s).locations, o);
      else if (p == kIsLocationOf) AddUnique(&Get(o).locations, s);
    }
  }
  for (const auto& [entity, refs] : ext_refs) {
    for (const std::string& ref : refs) {
      auto it = ref_ids.find(ref);
      if (it == ref_ids.end()) continue;
      AddUnique(&Get(entity).timeseries_ids, it->second);
      by_timeseries_id_[it->second] = entity;
    }
  }
  return Status::Ok();
}

const Entity* BrickModel::Find(std::string_view iri) const {
  auto it = entities_.find(std::string(iri));
  return it == entities_.end() ? nullptr : &it->second;
}

bool BrickModel::IsA(const Entity& e, std::string_view class_iri) const {
  return std::any_of(e.classes.begin(), e.classes.end(),
                     [&](const std::string& c) { return classes_->IsA(c, class_iri); });
}

bool BrickModel::IsPoint(const Entity& e) const { return IsA(e, Brick("Point")); }
bool BrickModel::IsEquipment(const Entity& e) const { return IsA(e, Brick("Equipment")); }

std::vector<const Entity*> BrickModel::InstancesOf(std::string_view class_iri) const {
  const std::string cls = BrickClassIri(class_iri);
  std::vector<const Entity*> out;
  for (const auto& [iri, e] : entities_) {
    if (IsA(e, cls)) out.push_back(&e);
  }
  std::sort(out.begin(), out.end(), [](const Entity* a, const Entity* b) { return a->iri < b->iri; });
  return out;
}

std::string BrickModel::OwnerOf(std::string_view point_iri) const {
  const Entity* e = Find(point_iri);
  return e == nullptr || e->point_of.empty() ? std::string() : e->point_of.front();
}

std::string BrickModel::RootEquipmentOf(std::string_view iri) const {
  std::string cur(iri);
  for (int depth = 0; depth < 16; ++depth) {  // part chains are shallow; guard against cycles
    const Entity* e = Find(cur);
    if (e == nullptr || e->part_of.empty()) break;
    cur = e->part_of.front();
  }
  return cur;
}

std::string BrickModel::SystemOf(std::string_view iri) const {
  std::string start(iri);
  if (const Entity* e = Find(start); e != nullptr && IsPoint(*e)) {
    const std::string owner = OwnerOf(start);
    if (!owner.empty()) start = owner;
  }
  const std::string root = RootEquipmentOf(start);
  const std::string ahu = BrickClassIri("Air_Handling_Unit");
  std::deque<std::string> pending{root};
  std::unordered_set<std::string> seen{root};
  while (!pending.empty() && seen.size() < 4096) {
    const std::string cur = std::move(pending.front());
    pending.pop_front();
    const Entity* e = Find(cur);
    if (e == nullptr) continue;
    if (IsA(*e, ahu)) return RootEquipmentOf(cur);
    for (const auto* next : {&e->part_of, &e->fed_by}) {
      for (const std::string& n : *next)
        if (seen.insert(n).second) pending.push_back(n);
    }
  }
  return root;
}

namespace {

// Breadth-first from `start`, each entity once; `visit` returns the entities to go on to.
template <typename Visit>
void BreadthFirst(const BrickModel& model, const std::vector<std::string>& start, Visit visit) {
  std::deque<std::string> pending(start.begin(), start.end());
  std::unordered_set<std::string> seen;
  while (!pending.empty()) {
    std::string cur = std::move(pending.front());
    pending.pop_front();
    if (!seen.insert(cur).second) continue;
    if (const Entity* e = model.Find(cur)) {
      for (std::string& next : visit(*e)) pending.push_back(std::move(next));
    }
  }
}

}  // namespace

std::vector<std::string> BrickModel::ResolvePoints(std::string_view equipment_iri, std::string_view point_class,
                                                   const std::vector<std::string>& part_path) const {
  std::vector<std::string> frontier{std::string(equipment_iri)};
  for (const std::string& part_class : part_path) {
    const std::string pc = BrickClassIri(part_class);
    std::vector<std::string> next;
    // A path step may skip intermediate parts: search the whole part tree below each node.
    BreadthFirst(*this, frontier, [&](const Entity& e) {
      std::vector<std::string> deeper;
      for (const std::string& part : e.parts) {
        const Entity* pe = Find(part);
        if (pe != nullptr && IsA(*pe, pc)) AddUnique(&next, part);
        else deeper.push_back(part);
      }
      return deeper;
    });
    frontier = std::move(next);
  }
  const std::string cls = BrickClassIri(point_class);
  std::vector<std::string> out;
  BreadthFirst(*this, frontier, [&](const Entity& e) {
    for (const std::string& p : e.points) {
      const Entity* pe = Find(p);
      if (pe != nullptr && IsA(*pe, cls)) AddUnique(&out, p);
    }
    return part_path.empty() ? e.parts : std::vector<std::string>{};
  });
  std::sort(out.begin(), out.end());
  return out;
}

const Entity* BrickModel::FindByTimeseriesId(std::string_view id) const {
  auto it = by_timeseries_id_.find(std::string(id));
  return it == by_timeseries_id_.end() ? nullptr : Find(it->second);
}

}  // namespace brickcast
