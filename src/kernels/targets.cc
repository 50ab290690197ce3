#include "kernels/targets.h"

#include <hwy/targets.h>

namespace loom::kernels {

std::vector<int64_t> AvailableTargets() { return hwy::SupportedAndGeneratedTargets(); }

std::string TargetName(int64_t target) { return hwy::TargetName(target); }

int64_t CurrentTarget() { return AvailableTargets().front(); }

ScopedTarget::ScopedTarget(int64_t target) { hwy::SetSupportedTargetsForTest(target); }
ScopedTarget::~ScopedTarget() { hwy::SetSupportedTargetsForTest(0); }

}  // namespace loom::kernels
