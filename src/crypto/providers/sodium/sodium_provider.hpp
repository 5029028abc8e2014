// SPDX-License-Identifier: Apache-2.0
// The libsodium provider's header is public: include/lockstep/sodium/provider.hpp.
#pragma once

#include "lockstep/sodium/provider.hpp"
