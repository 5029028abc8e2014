// SPDX-License-Identifier: Apache-2.0
#include "lockstep/version.hpp"

namespace lockstep {

const char* version() noexcept { return kVersionString; }
int version_number() noexcept { return kVersionNumber; }

}  // namespace lockstep
