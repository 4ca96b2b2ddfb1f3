// The Brick model's equipment.
#include "api/api.h"

namespace brickcast {

void AddEquipmentRoutes(Router& router, const ApiServices& s) {
  using Json = nlohmann::json;
  router.Add(Route{
      .method = "GET",
      .path = "/api/v1/equipment",
      .summary = "Equipment of the Brick model with its parts and feeds relations",
      .responses = {{200, "{equipment: [...], count}"}},
      .handler = [s](const HttpRequest&) {
        const std::shared_ptr<const BrickModel> model = s.model->Get();
        Json out = Json::array();
        for (const Entity* e : model->InstancesOf(BrickClassIri("Equipment"))) {
          size_t npoints = 0;
          for (const auto& p : e->points) npoints += model->Find(p) != nullptr;
          out.push_back(Json{{"id", e->iri},
                             {"class", e->classes.empty() ? "" : std::string(LocalName(e->classes.front()))},
                             {"label", e->label},
                             {"points", npoints},
                             {"parts", e->parts},
                             {"part_of", e->part_of},
                             {"feeds", e->feeds},
                             {"fed_by", e->fed_by}});
        }
        return JsonResponse(Json{{"equipment", out}, {"count", out.size()}});
      }});
}

}  // namespace brickcast
