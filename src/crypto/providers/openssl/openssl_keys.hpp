// SPDX-License-Identifier: Apache-2.0
// The OpenSSL provider's header is public: include/lockstep/openssl/keys.hpp.
#pragma once

#include "lockstep/openssl/keys.hpp"
