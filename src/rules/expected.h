// Expected-behaviour detectors (expected.cc): internal to src/rules.
#pragma once

#include <memory>

#include "brickcast/rules.h"

namespace brickcast {

std::unique_ptr<Condition> MakeExpectedCondition(std::shared_ptr<const RuleSpec> rule);

}  // namespace brickcast
