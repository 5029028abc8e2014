// SPDX-License-Identifier: Apache-2.0
// Must NOT link: proves the no-heap rule is a link error (tests/mcu: mcu_no_heap_link_error).
#include <cstdlib>
#include <new>

namespace {
void* volatile g_sink;  // keeps the allocations observable (no new-elision)
}

int main() {
    g_sink = new int(42);
    g_sink = std::malloc(16);
    return 0;
}
