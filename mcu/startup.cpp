// SPDX-License-Identifier: Apache-2.0
// lockstep mcu — minimal startup for the MPS2-AN386 (Cortex-M4) under qemu:
// vector table at address 0, reset handler (copy .data, zero .bss, paint the
// stack, run constructors, call main), fault handlers that report through
// semihosting, and NO heap: every allocator entry point is either a link
// error (see the --wrap list in mcu/CMakeLists.txt) or a trap here.
#include <cstddef>
#include <cstdint>

#include "semihost.hpp"

extern "C" {
extern std::uint32_t __stack_bottom[], __stack_top[];
extern std::uint32_t __data_start[], __data_end[], __data_load[];
extern std::uint32_t __bss_start[], __bss_end[];
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
// The program entry; named through an asm label (ISO C++ forbids calling ::main).
int lockstep_mcu_app_main() __asm__("main");
void Reset_Handler();
[[noreturn]] void lockstep_mcu_reset_body();
void Fault_Handler();
}

namespace mcu {

namespace {
int semihost(int op, const void* arg) noexcept {
    register int r0 asm("r0") = op;
    register const void* r1 asm("r1") = arg;
    asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
constexpr int kSysWrite0 = 0x04;
constexpr int kSysExitExtended = 0x20;
constexpr std::uint32_t kAdpStoppedApplicationExit = 0x20026;

inline std::uintptr_t current_sp() noexcept {
    std::uintptr_t sp;
    asm volatile("mov %0, sp" : "=r"(sp));
    return sp;
}
// Paint [bottom, sp - margin) with the pattern. Always inlined: no frame of its own below sp.
[[gnu::always_inline]] inline void paint_below_sp() noexcept {
    const std::uintptr_t limit = (current_sp() - 64) & ~std::uintptr_t{3};
    for (volatile std::uint32_t* p = __stack_bottom; reinterpret_cast<std::uintptr_t>(p) < limit; ++p) *p = kStackPaint;
}
}  // namespace

void write0(const char* s) noexcept { semihost(kSysWrite0, s); }

[[noreturn]] void exit(int status) noexcept {
    const std::uint32_t block[2] = {kAdpStoppedApplicationExit, static_cast<std::uint32_t>(status)};
    semihost(kSysExitExtended, block);
    for (;;) asm volatile("bkpt 0");  // not reached under qemu
}

[[noreturn]] void fatal(const char* why) noexcept {
    write0("FATAL: ");
    write0(why);
    write0("\n");
    exit(3);
}

std::size_t stack_region_size() noexcept {
    return static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(__stack_top) -
                                    reinterpret_cast<std::uintptr_t>(__stack_bottom));
}

std::size_t stack_high_water() noexcept {
    const volatile std::uint32_t* p = __stack_bottom;
    while (p < __stack_top && *p == kStackPaint) ++p;
    return static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(__stack_top) - reinterpret_cast<std::uintptr_t>(p));
}

void stack_repaint() noexcept { paint_below_sp(); }

}  // namespace mcu

// ---------------------------------------------------------------- no heap
// Nothing here allocates. operator new / malloc / _sbrk are not defined at all:
// the link uses --wrap for them, so any reference is an "undefined reference to
// __wrap_..." link error. operator delete must exist (virtual destructors'
// deleting variants name it in vtables) but can never legitimately run: trap.
void operator delete(void*) noexcept { mcu::fatal("operator delete called (no heap on this target)"); }
void operator delete(void*, std::size_t) noexcept { mcu::fatal("operator delete called (no heap on this target)"); }
void operator delete[](void*) noexcept { mcu::fatal("operator delete[] called (no heap on this target)"); }
void operator delete[](void*, std::size_t) noexcept { mcu::fatal("operator delete[] called (no heap on this target)"); }

extern "C" {
// Pure virtual call: the libstdc++ version pulls in std::terminate and its verbose
// handler (printf, the demangler, malloc). Trap instead.
void __cxa_pure_virtual() { mcu::fatal("pure virtual call"); }
// Static destructors are never run (the program ends through semihosting).
void* __dso_handle = nullptr;
int __aeabi_atexit(void*, void (*)(void*), void*) { return 0; }
int __cxa_atexit(void (*)(void*), void*, void*) { return 0; }
void abort() { mcu::fatal("abort"); }

void Fault_Handler() { mcu::fatal("CPU fault (HardFault/MemManage/BusFault/UsageFault; stack overflow?)"); }
void Default_Handler() { mcu::fatal("unexpected interrupt"); }
// A board that runs a tick timer defines its own (mcu/board_io.cpp).
void SysTick_Handler() __attribute__((weak, alias("Default_Handler")));

[[gnu::naked]] void Reset_Handler() {
    // Naked: no prologue; set up a C environment by hand, then call the body.
    asm volatile(
        "ldr r0, =__stack_top\n"
        "mov sp, r0\n"
        "bl lockstep_mcu_reset_body\n"
        "b .\n");
}

[[noreturn]] void lockstep_mcu_reset_body() {
    for (std::uint32_t *s = __data_load, *d = __data_start; d < __data_end;) *d++ = *s++;
    for (std::uint32_t* d = __bss_start; d < __bss_end;) *d++ = 0;
    mcu::stack_repaint();
    for (auto** f = __init_array_start; f < __init_array_end; ++f) (*f)();
    const int rc = lockstep_mcu_app_main();
    mcu::exit(rc);
}

// Cortex-M vector table: initial SP, reset, then the exception handlers.
using Vector = void (*)();
[[gnu::section(".isr_vector"), gnu::used]] const Vector vector_table[16] = {
    reinterpret_cast<Vector>(__stack_top),  // initial MSP
    Reset_Handler,
    Default_Handler,  // NMI
    Fault_Handler,    // HardFault
    Fault_Handler,    // MemManage
    Fault_Handler,    // BusFault
    Fault_Handler,    // UsageFault
    nullptr, nullptr, nullptr, nullptr,
    Default_Handler,  // SVCall
    Default_Handler,  // DebugMonitor
    nullptr,
    Default_Handler,  // PendSV
    SysTick_Handler,
};
}  // extern "C"
