// SPDX-License-Identifier: Apache-2.0
// bench_concurrency's shared pieces: its TCP run (bench_concurrency.cpp) and
// its UDP run (concurrency_udp.cpp) are one program, `--udp` picks the run.
#pragma once

#include <sys/resource.h>

#include "common.hpp"
#include "lockstep/net.hpp"

namespace bench::concurrency {

using TimePoint = Clock::time_point;

// steady_clock in ms, the unit of the engine's Instant. A due time rounds up and
// now rounds down (as net::clock_now() does), so a timer never fires early.
inline std::int64_t ms_of(TimePoint due) {
    return std::chrono::ceil<std::chrono::milliseconds>(due.time_since_epoch()).count();
}
inline std::int64_t ms_of(Instant i) { return i.since_origin.count(); }
inline std::int64_t now_ms() { return ms_of(net::clock_now().mono); }

inline double cpu_seconds(int who) {
    rusage u{};
    (void)::getrusage(who, &u);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return s(u.ru_utime) + s(u.ru_stime);
}

// The hard RLIMIT_NOFILE (raising it needs CAP_SYS_RESOURCE).
inline long hard_fd_limit() {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) != 0) die("getrlimit");
    return r.rlim_max == RLIM_INFINITY ? 1L << 30 : static_cast<long>(r.rlim_max);
}

inline void raise_fd_limit(long want) {
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) != 0) die("getrlimit");
    if (r.rlim_cur >= static_cast<rlim_t>(want)) return;
    if (r.rlim_max < static_cast<rlim_t>(want)) r.rlim_max = static_cast<rlim_t>(want);  // needs root
    r.rlim_cur = static_cast<rlim_t>(want);
    if (::setrlimit(RLIMIT_NOFILE, &r) != 0) {
        std::fprintf(stderr, "bench: cannot raise RLIMIT_NOFILE to %ld (raise ulimit -n, or run as root)\n", want);
        std::exit(1);
    }
}

// Messages between processes over pipes; the other one gone is fatal.
inline void write_all(int fd, const void* p, std::size_t n) {
    if (!write_full(fd, p, n)) die("the other process is gone");
}

// How long a client process's epoll_wait may sleep: not at all while it may
// start more connections, else until its first timer (at most 100 ms).
template <class Timers>
int wait_ms(const Timers& timers, bool start_more) {
    if (start_more) return 0;
    if (timers.empty()) return 100;
    return static_cast<int>(std::clamp<std::int64_t>(timers.begin()->first - now_ms(), 0, 100));
}

// The UDP run (concurrency_udp.cpp): n connections, `threads` server loops.
int run_udp(const Args& a, long n, int threads);

}  // namespace bench::concurrency
