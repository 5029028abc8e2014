// SPDX-License-Identifier: Apache-2.0
// lockstep mcu — Arm semihosting (bkpt 0xab on M-profile) and a tiny text
// formatter: no printf, no heap. qemu: -semihosting-config enable=on,target=native
#pragma once

#include <cstddef>
#include <cstdint>

namespace mcu {

// Prints a NUL-terminated string on the host (SYS_WRITE0).
void write0(const char* s) noexcept;
// Ends the program with this exit status (SYS_EXIT_EXTENDED; qemu passes it through).
[[noreturn]] void exit(int status) noexcept;
// Prints "FATAL: why" and exits with status 3.
[[noreturn]] void fatal(const char* why) noexcept;

// Fixed-size line builder.
class Line {
public:
    Line& s(const char* str) noexcept {
        while (*str && n_ + 1 < sizeof buf_) buf_[n_++] = *str++;
        buf_[n_] = 0;
        return *this;
    }
    // 32-bit on purpose: a 64-bit division would pull libgcc's __aeabi_uldivmod into the image.
    Line& u(std::uint32_t v) noexcept {
        char tmp[21];
        int i = 0;
        do {
            tmp[i++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v);
        while (i && n_ + 1 < sizeof buf_) buf_[n_++] = tmp[--i];
        buf_[n_] = 0;
        return *this;
    }
    void print() noexcept {
        s("\n");
        write0(buf_);
        n_ = 0;
        buf_[0] = 0;
    }

private:
    char buf_[256] = {};
    std::size_t n_ = 0;
};

// Stack measurement: the startup code paints the stack region (from its
// bottom up to just below the reset handler's frame) with kStackPaint.
inline constexpr std::uint32_t kStackPaint = 0xDEADBEEFu;
std::size_t stack_region_size() noexcept;
// Bytes of the stack region ever written (the high-water mark).
std::size_t stack_high_water() noexcept;
// Re-paint the unused part of the stack below the caller (to measure a phase).
void stack_repaint() noexcept;

}  // namespace mcu
