// SPDX-License-Identifier: Apache-2.0
// bench_concurrency --udp — N concurrent UDP connections (default 100 000;
// --quick 2 000) to one net::Server, one exchange each, all open at once.
//
// How it runs: the parent process is the server: one net::Server, UDP only,
// `--threads` loops (default 1), on 127.0.0.1, and nothing else, so its
// getrusage() and VmRSS are the server's. P = ceil(N / kPerProcess) forked
// client processes drive N / P connections each: net::AsyncClients over UDP
// on one epoll loop per process. Each connection has a socket of its own: the
// server tells connections apart by their address until their first record
// carries a connection id, so every connection needs its own source address
// and port (127.0.0.2 .. 127.0.0.(1 + kSources) in turn, ~28 000 ports each);
// a process of 15 000 sockets stays below this machine's hard RLIMIT_NOFILE of
// 20 000. At most kInFlight connections (over all processes, below the
// server's max_handshakes_per_prefix and cookie_threshold) are in their
// handshake or exchange at once.
// A connection: HELLO .. handshake_done (handshake latency, from start()),
// then at once one 64 B request (exchange latency, to its response), then it
// stays open, idle. A process with all its connections up writes 'U'; when
// every process has, the parent reads the server (counters, VmRSS at once and
// again after idle_trim) and writes 'C': each process closes its connections
// (CLOSE, CLOSE ACK), kInFlight at once over all processes, and reports its
// counts and latencies. receive_timeout is 600 s on both sides here, so that
// the first connections are still open when the last one comes up.
// Errors: a connection that fails to come up, to get its response or to close
// with CLOSE ACK; on the server Counters::errors, rejected and evicted.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <thread>

#include "concurrency.hpp"

namespace bench::concurrency {
namespace {

constexpr long kPerProcess = 15000;     // client sockets per process
constexpr long kInFlight = 224;         // over all processes
constexpr int kSources = 8;
constexpr std::size_t kBody = 64;
constexpr std::uint16_t kMaxData = 1024;  // many connections (spec: PROTOCOL.md §11.13)
constexpr auto kReceiveTimeout = std::chrono::seconds(600);
constexpr auto kGiveUp = std::chrono::seconds(900);  // a phase that takes longer ends the run
constexpr char kUp = 'U', kClose = 'C';

struct Report {
    std::uint64_t started = 0, established = 0, answered = 0, clean_closes = 0, errors = 0;
    double cpu_s = 0;
    std::uint64_t handshakes = 0, exchanges = 0;  // then as many latencies (ms, floats) of each follow
    char first_error[120] = {};
};

// One client process: connections [first, first + n).
class Fleet {
public:
    Fleet(const Config& cfg, std::uint16_t port, long first, long n, long in_flight, int control, int report)
        : cfg_(cfg), port_(port), first_(first), n_(n), cap_(in_flight), control_(control), report_(report),
          links_(static_cast<std::size_t>(n)), body_(kBody, 0x33), ep_(::epoll_create1(EPOLL_CLOEXEC)) {
        if (ep_ < 0) die("epoll_create1");
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kControl;
        if (::epoll_ctl(ep_, EPOLL_CTL_ADD, control_, &ev) != 0) die("epoll_ctl");
    }

    void run() {
        const TimePoint give_up = Clock::now() + kGiveUp;
        epoll_event evs[256];
        for (;;) {
            if (!closing_)
                while (next_ < n_ && busy_ < cap_) open(static_cast<std::size_t>(next_++));
            else
                while (next_ < n_ && busy_ < cap_) close(links_[static_cast<std::size_t>(next_++)]);
            if (next_ == n_ && busy_ == 0) {
                if (closing_) break;
                if (!up_) {
                    up_ = true;
                    write_all(report_, &kUp, 1);
                }
            }
            if (Clock::now() > give_up) break;
            const int k = ::epoll_wait(ep_, evs, 256, wait_ms());
            if (k < 0 && errno != EINTR) die("epoll_wait");
            for (int i = 0; i < k; ++i) {
                const std::uint64_t id = evs[i].data.u64;
                if (id == kControl) {
                    char m = 0;
                    if (!read_full(control_, &m, 1) || m != kClose) die("the server process is gone");
                    closing_ = true;
                    next_ = 0;
                    continue;
                }
                Link& l = links_[id];
                if (l.a) (void)l.a->on_readable();
                settle(l);
            }
            fire_timers();
        }
        for (Link& l : links_)
            if (l.a) fail(l, "still open when the run ended");
        if (!up_) write_all(report_, &kUp, 1);  // the parent waits for it before the report
        r_.cpu_s = cpu_seconds(RUSAGE_SELF);
        std::vector<float> hs, ex;
        for (const Link& l : links_) {
            if (l.hs_ms >= 0) hs.push_back(l.hs_ms);
            if (l.ex_ms >= 0) ex.push_back(l.ex_ms);
        }
        r_.handshakes = hs.size();
        r_.exchanges = ex.size();
        write_all(report_, &r_, sizeof r_);
        write_all(report_, hs.data(), hs.size() * sizeof(float));
        write_all(report_, ex.data(), ex.size() * sizeof(float));
    }

private:
    static constexpr std::uint64_t kControl = ~std::uint64_t{0};
    enum class Phase : std::uint8_t { handshake, exchange, open, closing, done };
    struct Link {
        std::unique_ptr<net::AsyncClient> a;
        Phase phase = Phase::handshake;
        TimePoint t0{};
        float hs_ms = -1, ex_ms = -1;        // latencies, once measured
        std::optional<std::int64_t> timer;  // key in timers_
    };

    std::size_t index(const Link& l) const { return static_cast<std::size_t>(&l - links_.data()); }
    static float ms_since(TimePoint t) { return static_cast<float>(seconds_since(t) * 1e3); }

    void open(std::size_t i) {
        Link& l = links_[i];
        l.a = std::make_unique<net::AsyncClient>(cfg_, net::Transport::udp);
        ++r_.started;
        ++busy_;
        l.t0 = Clock::now();
        const std::string source = "127.0.0." + std::to_string(2 + (first_ + static_cast<long>(i)) % kSources);
        if (!l.a->start("127.0.0.1", port_, source)) return fail(l, "start failed");
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        if (::epoll_ctl(ep_, EPOLL_CTL_ADD, l.a->fd(), &ev) != 0) return fail(l, "epoll_ctl");
        settle(l);
    }

    void close(Link& l) {
        if (!l.a || l.phase != Phase::open) return;
        ++busy_;
        l.phase = Phase::closing;
        (void)l.a->engine().close(net::clock_now());
        (void)l.a->flush();
        settle(l);
    }

    void settle(Link& l) {
        Event ev;
        while (l.a && l.a->poll_event(ev)) on_event(l, ev);
        if (l.a) arm(l);
    }

    void on_event(Link& l, const Event& ev) {
        switch (ev.kind) {
            case EventKind::handshake_done:
                ++r_.established;
                l.hs_ms = ms_since(l.t0);
                l.phase = Phase::exchange;
                l.t0 = Clock::now();
                if (!l.a->engine().send_request(body_, net::clock_now())) return fail(l, "send_request failed");
                (void)l.a->flush();
                break;
            case EventKind::response:
                if (l.phase != Phase::exchange) break;
                ++r_.answered;
                l.ex_ms = ms_since(l.t0);
                l.phase = Phase::open;
                --busy_;
                break;
            case EventKind::closed:
                if (l.phase == Phase::closing && ev.acknowledged && !ev.by_peer) {
                    ++r_.clean_closes;
                    --busy_;
                    finish(l);
                } else {
                    char why[120];
                    std::snprintf(why, sizeof why, "closed in phase %d: reason %s, by_peer %d, error %s",
                                  static_cast<int>(l.phase), reason_name(ev.reason), ev.by_peer, err_name(ev.error));
                    fail(l, why);
                }
                break;
            case EventKind::rekeyed:
            case EventKind::request: break;
        }
    }

    void fail(Link& l, const char* why) {
        if (r_.errors++ == 0) std::snprintf(r_.first_error, sizeof r_.first_error, "%s", why);
        if (l.phase == Phase::handshake || l.phase == Phase::exchange || l.phase == Phase::closing) --busy_;
        finish(l);
    }
    void finish(Link& l) {
        l.phase = Phase::done;
        disarm(l);
        l.a.reset();  // closes the socket, which leaves the epoll set
    }

    void arm(Link& l) {
        disarm(l);
        auto d = l.a->next_deadline();
        if (!d) return;
        l.timer = ms_of(*d);
        timers_.emplace(*l.timer, index(l));
    }
    void disarm(Link& l) {
        if (l.timer) timers_.erase({*l.timer, index(l)});
        l.timer.reset();
    }
    void fire_timers() {
        const std::int64_t now = now_ms();
        while (!timers_.empty() && timers_.begin()->first <= now) {
            Link& l = links_[timers_.begin()->second];
            disarm(l);
            (void)l.a->on_timer();
            settle(l);
        }
    }
    int wait_ms() const { return concurrency::wait_ms(timers_, next_ < n_ && busy_ < cap_); }

    const Config& cfg_;
    std::uint16_t port_;
    long first_, n_, cap_;
    int control_, report_;
    std::vector<Link> links_;
    Buf body_;
    int ep_;
    std::set<std::pair<std::int64_t, std::size_t>> timers_;  // (ms, link index)
    long next_ = 0, busy_ = 0;
    bool closing_ = false, up_ = false;
    Report r_;
};

struct UdpRun {
    Report c;  // summed over the client processes
    std::vector<double> hs, ex;  // ms
    net::Server::Counters up, end;
    double ramp_s = 0, ramp_cpu_s = 0, rss_up_mb = 0, rss_idle_mb = 0, close_s = 0;
    bool children_ok = true;
};

UdpRun one_run(long n, int threads, int processes) {
    OnePsk store;
    crypto::openssl::OpenSslProvider provider;
    PairConfig cfg = pair_config(mode_cases()[2], provider, provider, nullptr, nullptr, store, Suite::aes256gcm, kMaxData);
    cfg.c.timers.receive_timeout = cfg.s.timers.receive_timeout = kReceiveTimeout;
    net::ServerOptions opts;
    opts.tcp = false;
    opts.udp = true;
    opts.threads = threads;
    opts.max_connections = static_cast<std::size_t>(n) + 64;
    net::Server server(cfg.s, opts, [](std::span<const std::uint8_t>, const net::PeerInfo&, std::span<std::uint8_t> resp) {
        return fill_response(resp, kBody);
    });
    if (!server.bind()) die("net::Server::bind");
    const long cap = std::max(8L, kInFlight / processes);
    std::vector<int> control, report;
    std::vector<pid_t> pids;
    UdpRun res;
    const long rss0 = vmrss_kib();
    const double cpu0 = cpu_seconds(RUSAGE_SELF);
    std::fflush(stdout);
    const TimePoint t0 = Clock::now();
    for (int p = 0; p < processes; ++p) {
        const long first = n * p / processes, count = n * (p + 1) / processes - first;
        int to[2], from[2];
        if (::pipe2(to, O_CLOEXEC) != 0 || ::pipe2(from, O_CLOEXEC) != 0) die("pipe");
        const pid_t pid = ::fork();
        if (pid < 0) die("fork");
        if (pid == 0) {  // a client process (the server's loop thread starts after the forks)
            ::close(to[1]);
            ::close(from[0]);
            raise_fd_limit(count + 256);
            crypto::openssl::OpenSslProvider own;
            Config c = cfg.c;
            c.provider = &own;
            Fleet(c, server.udp_port(), first, count, cap, to[0], from[1]).run();
            _exit(0);
        }
        ::close(to[0]);
        ::close(from[1]);
        control.push_back(to[1]);
        report.push_back(from[0]);
        pids.push_back(pid);
    }
    std::thread loop([&] { (void)server.run(); });
    for (int fd : report) {
        char m = 0;
        res.children_ok = read_full(fd, &m, 1) && m == kUp && res.children_ok;
    }
    res.ramp_s = seconds_since(t0);
    res.ramp_cpu_s = cpu_seconds(RUSAGE_SELF) - cpu0;
    res.up = server.counters();
    res.rss_up_mb = static_cast<double>(vmrss_kib() - rss0) * 1024 / 1e6;
    std::this_thread::sleep_for(opts.idle_trim + std::chrono::milliseconds(1500));  // every connection trimmed
    res.rss_idle_mb = static_cast<double>(vmrss_kib() - rss0) * 1024 / 1e6;
    const TimePoint t1 = Clock::now();
    for (int fd : control) write_all(fd, &kClose, 1);
    for (int fd : report) {
        Report r;
        if (!read_full(fd, &r, sizeof r)) {
            res.children_ok = false;
            continue;
        }
        std::vector<float> hs(r.handshakes), ex(r.exchanges);
        res.children_ok = read_full(fd, hs.data(), hs.size() * sizeof(float)) &&
                          read_full(fd, ex.data(), ex.size() * sizeof(float)) && res.children_ok;
        res.hs.insert(res.hs.end(), hs.begin(), hs.end());
        res.ex.insert(res.ex.end(), ex.begin(), ex.end());
        res.c.started += r.started;
        res.c.established += r.established;
        res.c.answered += r.answered;
        res.c.clean_closes += r.clean_closes;
        res.c.errors += r.errors;
        res.c.cpu_s += r.cpu_s;
        if (r.first_error[0] && !res.c.first_error[0]) std::memcpy(res.c.first_error, r.first_error, sizeof r.first_error);
    }
    res.close_s = seconds_since(t1);
    server.stop();
    loop.join();
    res.end = server.counters();
    for (pid_t pid : pids) {
        int status = 0;
        res.children_ok = ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                          res.children_ok;
    }
    for (int fd : control) ::close(fd);
    for (int fd : report) ::close(fd);
    return res;
}

}  // namespace

int run_udp(const Args& a, long n, int threads) {
    const int processes = static_cast<int>((n + kPerProcess - 1) / kPerProcess);
    std::vector<UdpRun> runs;
    for (int r = 0; r < a.runs; ++r) runs.push_back(one_run(n, threads, processes));

    std::printf("\nbench_concurrency --udp: %ld concurrent UDP connections on loopback, one exchange each, all open at once\n",
                n);
    note_noise(a);
    std::printf("mode psk (PSK + X25519), suite aes256gcm, max_data %u, %zu B request and response; server: %d "
                "net::Server loop(s),\nUDP only, in its own process (idle_trim 1 s, its default); clients: %d "
                "processes of net::AsyncClients\n(one socket each, sources 127.0.0.2..%d), at most %ld connections "
                "in their handshake or exchange at once\n\n",
                kMaxData, kBody, threads, processes, 1 + kSources, std::max(8L, kInFlight / processes) * processes);
    auto col = [&](auto get) {
        std::vector<double> v;
        for (const UdpRun& r : runs) v.push_back(static_cast<double>(get(r)));
        return stat_of(v);
    };
    const double nd = static_cast<double>(n);
    struct Row {
        const char* label;
        const char* key;
        const char* unit;
        Stat st;
    };
    const std::vector<Row> rows = {
        {"connections established", "established", "connections", col([](auto& r) { return r.c.established; })},
        {"exchanges answered (success)", "answered", "exchanges", col([](auto& r) { return r.c.answered; })},
        {"open at once (server Counters::open)", "open", "connections", col([](auto& r) { return r.up.open; })},
        {"clean closes (CLOSE ACK)", "clean_closes", "connections", col([](auto& r) { return r.c.clean_closes; })},
        {"errors, client side", "client_errors", "errors", col([](auto& r) { return r.c.errors + !r.children_ok; })},
        {"errors, server Counters::errors", "server_errors", "errors", col([](auto& r) { return r.end.errors; })},
        {"rejected + evicted, server", "server_rejected", "connections",
         col([](auto& r) { return r.end.rejected + r.end.evicted; })},
        {"cookies sent, server", "server_cookies", "cookies", col([](auto& r) { return r.end.cookies; })},
        {"ramp: all connections up", "ramp", "s", col([](auto& r) { return r.ramp_s; })},
        {"handshake rate (established / ramp)", "handshake_rate", "handshakes/s",
         col([](auto& r) { return static_cast<double>(r.c.established) / r.ramp_s; })},
        {"handshake latency p50", "handshake_p50", "ms", col([](auto& r) { auto v = r.hs; return percentile(v, 50); })},
        {"handshake latency p99", "handshake_p99", "ms", col([](auto& r) { auto v = r.hs; return percentile(v, 99); })},
        {"exchange latency p50", "exchange_p50", "ms", col([](auto& r) { auto v = r.ex; return percentile(v, 50); })},
        {"exchange latency p99", "exchange_p99", "ms", col([](auto& r) { auto v = r.ex; return percentile(v, 99); })},
        {"server CPU during the ramp (% of a core)", "server_cpu_ramp", "%",
         col([](auto& r) { return 100 * r.ramp_cpu_s / r.ramp_s; })},
        {"server CPU per connection (hs + exchange)", "server_cpu_per_conn", "us",
         col([](auto& r) { return r.c.established ? 1e6 * r.ramp_cpu_s / static_cast<double>(r.c.established) : 0; })},
        {"client CPU, all processes", "client_cpu", "s", col([](auto& r) { return r.c.cpu_s; })},
        {"server RSS, all N up (VmRSS delta)", "server_rss_up", "MB", col([](auto& r) { return r.rss_up_mb; })},
        {"server RSS per connection, all N up", "server_rss_up_per_conn", "B",
         col([&](auto& r) { return r.rss_up_mb * 1e6 / nd; })},
        {"server RSS, all N idle (after idle_trim)", "server_rss_idle", "MB", col([](auto& r) { return r.rss_idle_mb; })},
        {"server RSS per connection, idle", "server_rss_idle_per_conn", "B",
         col([&](auto& r) { return r.rss_idle_mb * 1e6 / nd; })},
        {"closing all N", "close", "s", col([](auto& r) { return r.close_s; })},
    };
    std::printf("%-44s %14s %27s\n", "metric", "median", "[min..max]");
    rule(88);
    for (const Row& r : rows) {
        std::printf("%-44s %14.1f  [%11.1f..%11.1f] %s\n", r.label, r.st.median, r.st.min, r.st.max, r.unit);
        json_metric(a, "concurrency/udp/" + std::to_string(n) + "/" + r.key, r.st.median, kNaN, "", kNaN, r.unit, r.st);
    }
    std::uint64_t errors = 0, missing = 0;
    for (const UdpRun& r : runs) {
        errors += r.c.errors + !r.children_ok + r.end.errors + r.end.rejected + r.end.evicted;
        missing += static_cast<std::uint64_t>(n) - std::min<std::uint64_t>(r.c.answered, static_cast<std::uint64_t>(n));
        if (r.c.first_error[0]) std::printf("first client error of a run: %s\n", r.c.first_error);
    }
    std::printf("\ntarget: all %ld connections up at once, each answered, zero errors, over %d run(s): %llu errors, "
                "%llu unanswered -> %s\n",
                n, a.runs, static_cast<unsigned long long>(errors), static_cast<unsigned long long>(missing),
                errors + missing == 0 ? "MET" : "MISSED");
    const double rss = col([](auto& r) { return r.rss_up_mb; }).median;
    std::printf("target: server RSS <= 1 GB with all N connections: %.0f MB -> %s\n", rss, rss <= 1000 ? "MET" : "MISSED");
    return errors + missing == 0 ? 0 : 1;
}

}  // namespace bench::concurrency
