// SPDX-License-Identifier: Apache-2.0
// The OpenSSL provider's header is public: include/lockstep/openssl/provider.hpp.
#pragma once

#include "lockstep/openssl/provider.hpp"
