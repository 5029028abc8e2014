// SPDX-License-Identifier: Apache-2.0
// lockstep fuzzing — the list of targets (name = corpus folder = entry point suffix).
#pragma once

#include <cstddef>
#include <cstdint>

#define LOCKSTEP_FUZZ_TARGETS(X) \
    X(hello)                     \
    X(hello_ack)                 \
    X(record)                    \
    X(record_body)               \
    X(clear_close)               \
    X(cert)                      \
    X(certs_verify)              \
    X(engine)                    \
    X(config)

#define LOCKSTEP_FUZZ_DECLARE(name) extern "C" int lockstep_fuzz_##name(const std::uint8_t* data, std::size_t size);
LOCKSTEP_FUZZ_TARGETS(LOCKSTEP_FUZZ_DECLARE)
#undef LOCKSTEP_FUZZ_DECLARE
