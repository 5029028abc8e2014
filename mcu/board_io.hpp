// SPDX-License-Identifier: Apache-2.0
// lockstep mcu — what the device client needs from its board: a byte link to
// the server (here the MPS2 CMSDK UART0, framed), time, and entropy. On a
// product these are the radio or modem driver, an RTC/timer and the TRNG; on
// qemu they are the UART (bridged by tests/mcu/device_e2e.py), the SysTick
// timer, the host's clock read once and a seed file, through semihosting.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mcu {

// UART0 link, each message framed as a 2-byte big-endian length and the bytes.
void link_init() noexcept;
void link_send(const std::uint8_t* msg, std::size_t len) noexcept;
// Polls the UART without blocking; returns a complete message's length (its
// bytes in buf) or 0. Messages longer than cap are read and dropped. A frame
// arrives over many calls: `buf` must not be written between them while
// link_receiving() is true (a partial frame is dropped after 250 ms of silence).
std::size_t link_poll(std::uint8_t* buf, std::size_t cap) noexcept;
bool link_receiving() noexcept;

// Monotonic milliseconds from a 1 ms SysTick interrupt (started by clock_init),
// and Unix seconds from the host through semihosting (read once at start-up:
// a product reads its RTC, or the time its server last confirmed).
void clock_init() noexcept;
std::uint32_t mono_ms() noexcept;
std::uint32_t unix_seconds() noexcept;

// Reads up to `cap` bytes of the host file `path` (semihosting); -1 on error.
long host_read_file(const char* path, std::uint8_t* buf, std::size_t cap) noexcept;

// The entropy hook (crypto::EntropyFn). Seeded once by entropy_seed with 32
// bytes from a true source (here the host's seed file; on a product the TRNG);
// each draw is a ChaCha20 keystream block (BearSSL's br_chacha20_ct_run) whose
// first 32 bytes replace the key (fast key erasure), so earlier outputs cannot
// be recomputed.
bool entropy_seed(const std::uint8_t* seed32) noexcept;
bool entropy_fill(void* ctx, std::uint8_t* out, std::size_t len) noexcept;

}  // namespace mcu
