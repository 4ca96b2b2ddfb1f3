// G36 AHU fault conditions (g36.cc): internal to src/rules.
#pragma once

#include <memory>

#include "brickcast/rules.h"

namespace brickcast {

// G36 operating state 1..5 of the step starting at `t` from the HTG, CLG and ECO inputs; 0 when
// one of them has no data there.
int G36OperatingState(const RuleInputs& in, UnixMillis t, const G36Params& g);

std::unique_ptr<Condition> MakeG36Condition(std::shared_ptr<const RuleSpec> rule);

}  // namespace brickcast
