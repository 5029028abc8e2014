// SPDX-License-Identifier: Apache-2.0
// lockstep mcu — the board link, clock and entropy for the AN386 under qemu (board_io.hpp).
#include "board_io.hpp"
#include "semihost.hpp"

#include <bearssl.h>

#include <cstring>

namespace mcu {
namespace {

// CMSDK APB UART0 (MPS2-AN386 memory map).
struct Uart {
    volatile std::uint32_t data, state, ctrl, intstatus, bauddiv;
};
Uart* const uart0 = reinterpret_cast<Uart*>(0x40004000u);
constexpr std::uint32_t kTxFull = 1u << 0, kRxFull = 1u << 1, kTxEnable = 1u << 0, kRxEnable = 1u << 1;

int semihost(int op, const void* arg) noexcept {
    register int r0 asm("r0") = op;
    register const void* r1 asm("r1") = arg;
    asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
constexpr int kSysOpen = 0x01, kSysClose = 0x02, kSysRead = 0x06, kSysTime = 0x11;

// The Cortex-M SysTick timer, clocked from the CPU clock (25 MHz on the AN386).
struct SysTick {
    volatile std::uint32_t csr, rvr, cvr, calib;
};
SysTick* const systick = reinterpret_cast<SysTick*>(0xE000E010u);
constexpr std::uint32_t kCpuHz = 25'000'000;
constexpr std::uint32_t kTickEnable = 1u << 0, kTickInterrupt = 1u << 1, kTickCpuClock = 1u << 2;


void put(std::uint8_t b) noexcept {
    while (uart0->state & kTxFull) {
    }
    uart0->data = b;
}

volatile std::uint32_t ticks_ms = 0;

// Frame assembly state for link_poll.
std::size_t rx_need = 0, rx_have = 0, rx_hdr = 0;
std::uint8_t rx_len[2];
std::uint32_t rx_last_ms = 0;
constexpr std::uint32_t kFrameGapMs = 250;  // silence inside a frame that ends it

std::uint8_t drbg_key[32];
bool drbg_seeded = false;

}  // namespace

void link_init() noexcept {
    uart0->bauddiv = 16;
    uart0->ctrl = kTxEnable | kRxEnable;
}

void link_send(const std::uint8_t* msg, std::size_t len) noexcept {
    put(static_cast<std::uint8_t>(len >> 8));
    put(static_cast<std::uint8_t>(len));
    for (std::size_t i = 0; i < len; ++i) put(msg[i]);
}

bool link_receiving() noexcept {
    if (rx_hdr != 0 && ticks_ms - rx_last_ms > kFrameGapMs) rx_hdr = 0;  // a frame cut short: dropped
    return rx_hdr != 0;
}

std::size_t link_poll(std::uint8_t* buf, std::size_t cap) noexcept {
    (void)link_receiving();
    while (uart0->state & kRxFull) {
        const auto b = static_cast<std::uint8_t>(uart0->data);
        rx_last_ms = ticks_ms;
        if (rx_hdr < 2) {
            rx_len[rx_hdr++] = b;
            if (rx_hdr == 2) {
                rx_need = static_cast<std::size_t>(rx_len[0]) << 8 | rx_len[1];
                rx_have = 0;
                if (rx_need == 0) rx_hdr = 0;
            }
            continue;
        }
        if (rx_have < cap) buf[rx_have] = b;
        if (++rx_have == rx_need) {
            rx_hdr = 0;
            if (rx_need <= cap) return rx_need;
        }
    }
    return 0;
}

void clock_init() noexcept {
    systick->rvr = kCpuHz / 1000 - 1;
    systick->cvr = 0;
    systick->csr = kTickEnable | kTickInterrupt | kTickCpuClock;
}

std::uint32_t mono_ms() noexcept { return ticks_ms; }
std::uint32_t unix_seconds() noexcept { return static_cast<std::uint32_t>(semihost(kSysTime, nullptr)); }

long host_read_file(const char* path, std::uint8_t* buf, std::size_t cap) noexcept {
    const std::uint32_t open_args[3] = {reinterpret_cast<std::uint32_t>(path), 1 /* "rb" */,
                                        static_cast<std::uint32_t>(std::strlen(path))};
    const int h = semihost(kSysOpen, open_args);
    if (h < 0) return -1;
    const std::uint32_t read_args[3] = {static_cast<std::uint32_t>(h), reinterpret_cast<std::uint32_t>(buf),
                                        static_cast<std::uint32_t>(cap)};
    const int left = semihost(kSysRead, read_args);  // bytes NOT read
    const std::uint32_t close_args[1] = {static_cast<std::uint32_t>(h)};
    (void)semihost(kSysClose, close_args);
    if (left < 0 || static_cast<std::size_t>(left) > cap) return -1;
    return static_cast<long>(cap - static_cast<std::size_t>(left));
}

bool entropy_seed(const std::uint8_t* seed32) noexcept {
    std::memcpy(drbg_key, seed32, sizeof drbg_key);
    drbg_seeded = true;
    return true;
}

bool entropy_fill(void*, std::uint8_t* out, std::size_t len) noexcept {
    if (!drbg_seeded) return false;
    static const std::uint8_t kNonce[12] = {};
    std::uint8_t block[64 + 32];
    while (len > 0) {
        const std::size_t n = len < 64 ? len : 64;
        std::memset(block, 0, sizeof block);  // the keystream XORed onto zeros
        (void)br_chacha20_ct_run(drbg_key, kNonce, 0, block, sizeof block);
        std::memcpy(drbg_key, block, 32);  // the next key; this one is gone
        std::memcpy(out, block + 32, n);
        out += n;
        len -= n;
    }
    std::memset(block, 0, sizeof block);
    return true;
}

}  // namespace mcu

// The 1 ms tick (mono_ms). Under qemu it also wakes the emulator's I/O loop
// every millisecond: qemu 7.2's CMSDK UART model does not tell its character
// backend when the guest has read the receive buffer, so without another
// wake-up the next byte of a frame can wait in the socket indefinitely.
extern "C" void SysTick_Handler() { mcu::ticks_ms = mcu::ticks_ms + 1; }
