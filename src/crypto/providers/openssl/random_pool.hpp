// SPDX-License-Identifier: Apache-2.0
// OpenSslProvider's pool for small random requests. The engine asks for a few
// random bytes on every exchange (the DATA ACK's 4-byte nonce, PROTOCOL.md
// §6.7); each RAND_bytes call costs a DRBG generate (~6 700 instructions) and
// a getpid() system call (OpenSSL's fork check). The pool draws 256 bytes at a
// time and hands requests of up to 32 bytes out of them, wiping every byte it
// hands out. It lives in one page of its own, marked MADV_WIPEONFORK: a forked
// child sees the page zeroed, so its count of bytes left is zero and it draws
// from its own (reseeded) DRBG; the parent's bytes are never repeated. Where
// the kernel has no MADV_WIPEONFORK there is no pool (every call draws).
// Not thread-safe (one provider, one thread at a time: crypto.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace lockstep::crypto::openssl::detail {

constexpr std::size_t kPoolBytes = 256;    // drawn at once
constexpr std::size_t kPoolRequest = 32;  // the largest request served from the pool

// A pool page, or null where the page cannot be wiped on fork.
std::uint8_t* random_pool_open() noexcept;
// Wipes and unmaps the page (null: nothing).
void random_pool_close(std::uint8_t* page) noexcept;
// Fills `out` (at most kPoolRequest bytes) from the pool, drawing more first
// when it holds too few; false if that draw failed (`out` untouched).
bool random_pool_take(std::uint8_t* page, std::span<std::uint8_t> out) noexcept;

}  // namespace lockstep::crypto::openssl::detail
