// SPDX-License-Identifier: Apache-2.0
// bench_concurrency — N concurrent connections on loopback (default 100 000;
// --quick 1 000), each sending one request per interval (10 s; --quick 1 s)
// for D seconds (60; --quick 11), re-keys
// included (the default policy: fresh keys every 10 responses), then closing.
//
// How it runs: the program forks. The parent is the server process: one
// net::Server (one epoll loop) on 127.0.0.1 and nothing else, so getrusage()
// of the parent is the server's CPU. The child is the client process: N
// net::AsyncClients on one epoll loop of its own, bound to the source addresses
// 127.0.0.2 .. 127.0.0.(1 + kSources) in turn (one source has ~28 000 ephemeral
// ports towards the server's one port). It opens connections with at
// most kMaxConnecting handshakes in flight (below the server's max_handshakes).
// Once every connection is up and has made its phase-offset requests (see
// kRekeyEvery) — time T0 — each one starts at T0 + a random offset
// in [0, interval) and sends request k at its start + k intervals, or as soon as the engine
// takes one if the previous exchange or a re-key is still under way. Latency runs
// from the moment a request is due and the client gets to it (its timer fired)
// to the response, so a send held back by a re-key counts against it.
// After its D-th response, or when the window ends (T0 + D + 1 s) and it has no
// request outstanding, a connection closes (CLOSE, CLOSE ACK): a machine that
// cannot keep up sends fewer than N x D requests (reported) rather than piling
// them up. The child reports through a pipe: 'R' at T0, 'F' when the first
// connection closes (the window in between has all N active: the server CPU of
// that window is the steady-state figure), then its totals.
//
// Errors: a connection that fails to connect or handshake, closes other than
// by its own acknowledged CLOSE, or misses a response; on the server side
// Counters::errors and Counters::rejected. The target is zero.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <random>
#include <set>
#include <thread>

#include "concurrency.hpp"

using namespace bench;
using namespace bench::concurrency;

namespace {

constexpr std::size_t kBody = 64;             // request and response bodies
constexpr std::uint16_t kMaxData = 1024;      // many connections: a small max_data (spec: PROTOCOL.md §11.13)
constexpr int kMaxConnecting = 128;           // client-side cap on handshakes in flight
std::chrono::seconds g_interval{10};  // between a connection's requests (main sets it)
constexpr int kSources = 8;
// Give up (and count what is left as errors) when the connections are not all up
// after kMaxRamp, or kGrace after the last request should have been answered.
constexpr auto kMaxRamp = std::chrono::seconds(900), kGrace = std::chrono::seconds(30);
constexpr int kMaxEvents = 256;
// The server re-keys after every 10th response (RekeyPolicy's default). Connection i
// makes i % 10 requests before T0, so the connections' epochs are out of phase and
// their re-keys spread evenly over time, as on a long-running server, instead of
// all N falling into the same second.
constexpr int kRekeyEvery = 10;

// What the client process reports (plain data through the pipe).
struct ClientReport {
    std::uint64_t started = 0, established = 0, warmups = 0, requests = 0, responses = 0, clean_closes = 0, rekeys = 0;
    std::uint64_t errors = 0;
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
    double ramp_s = 0, cpu_s = 0, wall_s = 0;
    char first_error[120] = {};
};
constexpr char kAllEstablished = 'R', kFirstFinished = 'F', kDone = 'D';

// ---------------------------------------------------------------- the client process
class Clients {
public:
    Clients(const Config& cfg, std::uint16_t port, long n, int requests, int report_fd)
        : cfg_(cfg), port_(port), n_(n), requests_(requests), out_(report_fd), conns_(static_cast<std::size_t>(n)),
          body_(kBody, 0x33), ep_(::epoll_create1(EPOLL_CLOEXEC)) {
        if (ep_ < 0) die("epoll_create1");
        latencies_.reserve(static_cast<std::size_t>(n) * static_cast<std::size_t>(requests));
    }

    ClientReport run() {
        const TimePoint t0 = Clock::now();
        give_up_ = t0 + kMaxRamp;
        epoll_event evs[kMaxEvents];
        while (finished_ < n_ && Clock::now() < give_up_) {
            while (next_ < n_ && connecting_ < kMaxConnecting) open(static_cast<std::size_t>(next_++));
            const int k = ::epoll_wait(ep_, evs, kMaxEvents, wait_ms());
            if (k < 0 && errno != EINTR) die("epoll_wait");
            for (int i = 0; i < k; ++i) {
                Conn& c = conns_[evs[i].data.u64];
                if (!c.a) continue;
                if ((evs[i].events & EPOLLOUT) && c.a->want_write()) (void)c.a->flush();
                if (c.a && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))) (void)c.a->on_readable();
                settle(c);
            }
            fire_timers();
            maybe_begin_requests();
            if (requesting_ && !ending_ && Clock::now() >= end_) {
                ending_ = true;  // close every connection not waiting for a response
                for (Conn& c : conns_)
                    if (c.a) settle(c);
            }
        }
        for (Conn& c : conns_)
            if (c.a) fail(c, "still open when the run ended");
        r_.errors += r_.requests - r_.responses;  // unanswered requests (their connections are counted too)
        r_.wall_s = seconds_since(t0);
        r_.cpu_s = cpu_seconds(RUSAGE_SELF);
        r_.p50_ms = percentile(latencies_, 50) / 1e3;
        r_.p99_ms = percentile(latencies_, 99) / 1e3;
        r_.max_ms = latencies_.empty() ? 0 : *std::max_element(latencies_.begin(), latencies_.end()) / 1e3;
        return r_;
    }

private:
    enum class Phase : std::uint8_t { connecting, active, closing, done };
    struct Conn {
        std::unique_ptr<net::AsyncClient> a;
        Phase phase = Phase::connecting;
        TimePoint due{};                 // scheduled time of the next request (set at T0)
        std::optional<TimePoint> wanted;  // when the client first tried to send the due request
        int warm = 0;  // phase-offset requests still to make before T0
        int sent = 0, answered = 0;
        bool outstanding = false;
        std::optional<std::int64_t> timer;  // key in timers_
    };

    void open(std::size_t i) {
        Conn& c = conns_[i];
        c.a = std::make_unique<net::AsyncClient>(cfg_, net::Transport::tcp);
        ++r_.started;
        ++connecting_;
        const std::string source = "127.0.0." + std::to_string(2 + i % kSources);
        if (!c.a->start("127.0.0.1", port_, source)) return fail(c, "connect failed");
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.u64 = i;
        if (::epoll_ctl(ep_, EPOLL_CTL_ADD, c.a->fd(), &ev) != 0) return fail(c, "epoll_ctl");
        settle(c);
    }

    // After any call into a connection: its events, a due request, its timer.
    void settle(Conn& c) {
        Event ev;
        while (c.a && c.a->poll_event(ev)) on_event(c, ev);
        if (!c.a) return;
        const TimePoint now = Clock::now();
        const bool ready = c.phase == Phase::active && !c.outstanding;
        // Done: all D requests answered, or the window is over (what is not sent by then is not sent).
        if (ready && requesting_ && (c.sent == requests_ || now >= end_)) return close(c);
        const bool due = ready && requesting_ && c.sent < requests_ && now >= c.due;
        if (due && !c.wanted) c.wanted = now;
        if ((due || (ready && c.warm > 0)) && c.a->engine().can_send_request()) {
            if (!c.a->engine().send_request(body_, net::clock_now())) return fail(c, "send_request failed");
            c.outstanding = true;
            if (c.warm == 0) {
                ++c.sent;
                ++r_.requests;
            }
            (void)c.a->flush();
            while (c.a && c.a->poll_event(ev)) on_event(c, ev);
            if (!c.a) return;
        }
        arm(c);
    }

    void on_event(Conn& c, const Event& ev) {
        const TimePoint now = Clock::now();
        switch (ev.kind) {
            case EventKind::handshake_done:
                c.phase = Phase::active;
                --connecting_;
                ++r_.established;
                c.warm = static_cast<int>((&c - conns_.data()) % kRekeyEvery);
                warming_ += c.warm > 0;
                break;
            case EventKind::response:
                c.outstanding = false;
                if (c.warm > 0) {
                    ++r_.warmups;
                    warming_ -= --c.warm == 0;
                    break;
                }
                latencies_.push_back(std::chrono::duration<double, std::micro>(now - c.wanted.value_or(now)).count());
                c.wanted.reset();
                ++r_.responses;
                ++c.answered;
                c.due += g_interval;
                break;
            case EventKind::rekeyed: ++r_.rekeys; break;
            case EventKind::request: break;
            case EventKind::closed:
                if (c.phase == Phase::closing && ev.acknowledged && !ev.by_peer) {
                    ++r_.clean_closes;
                    finish(c);
                } else {
                    char why[120];
                    std::snprintf(why, sizeof why, "closed in phase %d: reason %s, by_peer %d, ack %d, error %s",
                                  static_cast<int>(c.phase), reason_name(ev.reason), ev.by_peer, ev.acknowledged,
                                  err_name(ev.error));
                    fail(c, why);
                }
                break;
        }
    }

    void close(Conn& c) {
        if (!first_finished_) {
            first_finished_ = true;
            write_all(out_, &kFirstFinished, 1);
        }
        c.phase = Phase::closing;
        (void)c.a->engine().close(net::clock_now());
        (void)c.a->flush();
        Event ev;
        while (c.a && c.a->poll_event(ev)) on_event(c, ev);
        if (c.a) arm(c);
    }

    void fail(Conn& c, const char* why) {
        if (r_.errors++ == 0) std::snprintf(r_.first_error, sizeof r_.first_error, "%s", why);
        finish(c);
    }
    void finish(Conn& c) {
        if (c.phase == Phase::connecting) --connecting_;
        if (c.warm > 0) --warming_;
        c.warm = 0;
        c.phase = Phase::done;
        disarm(c);
        c.a.reset();  // closes the socket, which leaves the epoll set
        ++finished_;
    }

    // One timer per connection: the engine's deadline or the next request, whichever is first.
    void arm(Conn& c) {
        disarm(c);
        std::optional<std::int64_t> at;
        if (auto d = c.a->next_deadline()) at = ms_of(*d);
        // A request that is due but not sent waits for the engine (a re-key under
        // way), which the next message from the server moves on: no timer for it.
        if (requesting_ && c.phase == Phase::active && !c.outstanding && c.sent < requests_ && !c.wanted)
            at = std::min(at.value_or(INT64_MAX), ms_of(c.due));
        if (!at) return;
        c.timer = *at;
        timers_.emplace(*at, &c - conns_.data());
    }
    void disarm(Conn& c) {
        if (c.timer) timers_.erase({*c.timer, &c - conns_.data()});
        c.timer.reset();
    }
    void fire_timers() {
        const std::int64_t now = now_ms();
        while (!timers_.empty() && timers_.begin()->first <= now) {
            Conn& c = conns_[static_cast<std::size_t>(timers_.begin()->second)];
            disarm(c);
            if (auto d = c.a->next_deadline(); d && ms_of(*d) <= now) (void)c.a->on_timer();
            settle(c);
        }
    }
    // T0: every connection is up (or has failed); start the requests.
    void maybe_begin_requests() {
        if (requesting_ || next_ < n_ || connecting_ > 0 || warming_ > 0) return;
        requesting_ = true;
        const TimePoint t0 = Clock::now();
        r_.ramp_s = seconds_since(start_);
        end_ = t0 + requests_ * g_interval + g_interval;  // the last request is due before t0 + D + 1 interval
        give_up_ = end_ + kGrace;
        write_all(out_, &kAllEstablished, 1);
        for (Conn& c : conns_) {
            if (!c.a) continue;
            c.due = t0 + std::chrono::milliseconds(jitter_(rng_));
            arm(c);
        }
    }
    int wait_ms() const { return concurrency::wait_ms(timers_, next_ < n_ && connecting_ < kMaxConnecting); }

    const Config& cfg_;
    std::uint16_t port_;
    long n_;
    int requests_, out_;
    std::vector<Conn> conns_;
    Buf body_;
    int ep_;
    std::set<std::pair<std::int64_t, std::ptrdiff_t>> timers_;  // (ms, connection index)
    long next_ = 0, connecting_ = 0, warming_ = 0, finished_ = 0;
    bool requesting_ = false, ending_ = false, first_finished_ = false;
    std::vector<double> latencies_;  // µs
    std::mt19937 rng_{12345};
    std::uniform_int_distribution<int> jitter_{0, static_cast<int>(g_interval.count()) * 1000 - 1};
    TimePoint start_ = Clock::now(), end_{}, give_up_{};
    ClientReport r_;
};

// ---------------------------------------------------------------- one run
struct RunResult {
    ClientReport c;
    net::Server::Counters s;
    double server_cpu_s = 0, server_wall_s = 0;        // the whole run
    double steady_cpu_s = 0, steady_wall_s = 0;        // all N connections active
    double rss_mb = 0;                                 // server VmRSS growth, all N connections active
    bool child_ok = false;
};

RunResult one_run(long n, int requests, int threads) {
    OnePsk store;
    crypto::openssl::OpenSslProvider provider;
    const ModeCase& psk = mode_cases()[2];
    PairConfig cfg = pair_config(psk, provider, provider, nullptr, nullptr, store, Suite::aes256gcm, kMaxData);
    cfg.s.rekey.after_responses = kRekeyEvery;

    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) die("pipe");
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid < 0) die("fork");
    if (pid == 0) {  // the client process
        ::close(to_child[1]);
        ::close(from_child[0]);
        std::uint16_t port = 0;
        if (!read_full(to_child[0], &port, sizeof port)) _exit(2);
        Clients clients(cfg.c, port, n, requests, from_child[1]);
        const ClientReport r = clients.run();
        write_all(from_child[1], &kDone, 1);
        write_all(from_child[1], &r, sizeof r);
        _exit(0);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);

    net::ServerOptions opts;
    opts.max_connections = static_cast<std::size_t>(n) + 64;
    opts.threads = threads;
    net::Server server(cfg.s, opts,
                       [](std::span<const std::uint8_t>, const net::PeerInfo&, std::span<std::uint8_t> resp) {
                           return fill_response(resp, kBody);
                       });
    if (!server.bind()) die("net::Server::bind");
    RunResult res;
    const long rss0 = vmrss_kib();
    const double cpu0 = cpu_seconds(RUSAGE_SELF);
    const TimePoint t0 = Clock::now();
    std::thread loop([&] { (void)server.run(); });
    const std::uint16_t port = server.tcp_port();
    write_all(to_child[1], &port, sizeof port);

    double steady_cpu0 = 0;
    TimePoint steady_t0{};
    for (char m = 0; read_full(from_child[0], &m, 1);) {
        if (m == kAllEstablished) {
            steady_cpu0 = cpu_seconds(RUSAGE_SELF);
            steady_t0 = Clock::now();
        } else if (m == kFirstFinished && steady_t0 != TimePoint{}) {
            res.steady_cpu_s = cpu_seconds(RUSAGE_SELF) - steady_cpu0;
            res.rss_mb = static_cast<double>(vmrss_kib() - rss0) * 1024 / 1e6;
            res.steady_wall_s = seconds_since(steady_t0);
        } else if (m == kDone) {
            res.child_ok = read_full(from_child[0], &res.c, sizeof res.c);
            break;
        }
    }
    res.server_cpu_s = cpu_seconds(RUSAGE_SELF) - cpu0;
    res.server_wall_s = seconds_since(t0);
    server.stop();
    loop.join();
    res.s = server.counters();
    int status = 0;
    (void)::waitpid(pid, &status, 0);
    res.child_ok = res.child_ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    ::close(to_child[1]);
    ::close(from_child[0]);
    return res;
}

}  // namespace

int main(int argc, char** argv) {
    // --udp: the UDP run; --threads N: the server's loops.
    auto opt = take_options(argc, argv, {"--threads"}, {"--udp"});
    const int threads = std::max(1, std::atoi(opt["--threads"].c_str()));
    Args a = parse_args(argc, argv, "  (--n: connections) [--udp] [--threads N]", 3);
    (void)std::signal(SIGPIPE, SIG_IGN);
    if (opt.count("--udp")) return run_udp(a, a.n > 0 ? a.n : (a.quick ? 2000 : 100000), threads);
    // Over TCP the server holds one descriptor per connection: without --n, N is
    // 100 000 where the hard RLIMIT_NOFILE allows it, else as many as it allows.
    long n = a.n > 0 ? a.n : (a.quick ? 1000 : 100000);
    if (a.n <= 0 && n + 1024 > hard_fd_limit()) {
        n = (hard_fd_limit() - 1024) / 1000 * 1000;
        std::printf("bench_concurrency: the hard RLIMIT_NOFILE (%ld) allows %ld TCP connections, not 100000 "
                    "(the UDP run, --udp, has 100000)\n", hard_fd_limit(), n);
    }
    // Full: one per 10 s for 60 s. Quick: one per second, 11, so each connection re-keys
    // once (at 10) before it closes.
    g_interval = std::chrono::seconds(a.quick ? 1 : 10);
    const int requests = a.quick ? 11 : 6;
    raise_fd_limit(n + 1024);

    std::vector<RunResult> runs;
    for (int r = 0; r < a.runs; ++r) runs.push_back(one_run(n, requests, threads));

    std::printf("\nbench_concurrency: %ld concurrent connections on loopback TCP, 1 request per %lld s each for %lld s, "
                "then CLOSE\n",
                n, static_cast<long long>(g_interval.count()), static_cast<long long>(requests * g_interval.count()));
    note_noise(a);
    std::printf("mode psk (PSK + X25519), suite aes256gcm, max_data %u, %zu B requests and responses, re-key every 10\n"
                "responses (default policy); server: %d net::Server loop(s) in its own process; clients: net::AsyncClient\n"
                "on one epoll loop in a forked process, at most %d handshakes in flight, from %d source addresses\n"
                "127.0.0.2.. (the server: idle_trim 1 s, its default)\n\n",
                kMaxData, kBody, threads, kMaxConnecting, kSources);

    auto col = [&](auto get) {
        std::vector<double> v;
        for (const RunResult& r : runs) v.push_back(static_cast<double>(get(r)));
        return stat_of(v);
    };
    struct Row {
        const char* label;
        const char* key;
        const char* unit;
        Stat st;
    };
    const std::uint64_t expected = static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(requests);
    std::vector<Row> rows = {
        {"connections established", "established", "connections", col([](auto& r) { return r.c.established; })},
        {"phase-offset requests before T0", "offset_requests", "requests", col([](auto& r) { return r.c.warmups; })},
        {"requests sent (timed)", "requests", "requests", col([](auto& r) { return r.c.requests; })},
        {"responses received", "responses", "responses", col([](auto& r) { return r.c.responses; })},
        {"request rate (offered: N per interval)", "request_rate", "requests/s",
         col([&](auto& r) { return static_cast<double>(r.c.requests) / requests / static_cast<double>(g_interval.count()); })},
        {"clean closes (CLOSE ACK)", "clean_closes", "connections", col([](auto& r) { return r.c.clean_closes; })},
        {"errors, client side", "client_errors", "errors", col([](auto& r) { return r.c.errors + !r.child_ok; })},
        {"errors, server Counters::errors", "server_errors", "errors", col([](auto& r) { return r.s.errors; })},
        {"rejected, server Counters::rejected", "server_rejected", "connections",
         col([](auto& r) { return r.s.rejected; })},
        {"latency p50", "latency_p50", "ms", col([](auto& r) { return r.c.p50_ms; })},
        {"latency p99", "latency_p99", "ms", col([](auto& r) { return r.c.p99_ms; })},
        {"latency max", "latency_max", "ms", col([](auto& r) { return r.c.max_ms; })},
        {"re-keys, server Counters::rekeys", "server_rekeys", "rekeys", col([](auto& r) { return r.s.rekeys; })},
        {"re-keys, client rekeyed events", "client_rekeys", "rekeys", col([](auto& r) { return r.c.rekeys; })},
        {"server CPU, whole run (user+sys)", "server_cpu_total", "s", col([](auto& r) { return r.server_cpu_s; })},
        {"server wall time, whole run", "server_wall", "s", col([](auto& r) { return r.server_wall_s; })},
        {"server CPU, all N active (% of a core)", "server_cpu_steady", "%",
         col([](auto& r) { return r.steady_wall_s > 0 ? 100 * r.steady_cpu_s / r.steady_wall_s : 0; })},
        {"server CPU, whole run (% of a core)", "server_cpu_run", "%",
         col([](auto& r) { return 100 * r.server_cpu_s / r.server_wall_s; })},
        {"client CPU, whole run (% of a core)", "client_cpu_run", "%",
         col([](auto& r) { return r.c.wall_s > 0 ? 100 * r.c.cpu_s / r.c.wall_s : 0; })},
        {"ramp: all connections established", "ramp", "s", col([](auto& r) { return r.c.ramp_s; })},
        {"server RSS, all N active (VmRSS delta)", "server_rss", "MB", col([](auto& r) { return r.rss_mb; })},
        {"server RSS per connection", "server_rss_per_conn", "B",
         col([&](auto& r) { return r.rss_mb * 1e6 / static_cast<double>(n); })},
    };
    std::printf("%-40s %14s %27s\n", "metric", "median", "[min..max]");
    rule(84);
    for (const Row& r : rows) {
        std::printf("%-40s %14.1f  [%11.1f..%11.1f] %s\n", r.label, r.st.median, r.st.min, r.st.max, r.unit);
        json_metric(a, std::string("concurrency/") + std::to_string(n) + "/" + r.key, r.st.median, kNaN, "", kNaN,
                    r.unit, r.st);
    }
    std::uint64_t errors = 0;
    for (const RunResult& r : runs) {
        errors += r.c.errors + !r.child_ok + r.s.errors + r.s.rejected;
        if (r.c.first_error[0]) std::printf("first client error of a run: %s\n", r.c.first_error);
    }
    std::printf("\nexpected per run: %ld connections, %llu requests and responses, ~%llu re-keys (every 10th response)\n",
                n, static_cast<unsigned long long>(expected), static_cast<unsigned long long>(expected / 10));
    std::printf("target: zero errors over %d run(s): %llu -> %s\n", a.runs, static_cast<unsigned long long>(errors),
                errors == 0 ? "MET" : "MISSED");
    const double rss = col([](auto& r) { return r.rss_mb; }).median;
    std::printf("target: server RSS <= 1 GB with all N connections: %.0f MB -> %s\n", rss, rss <= 1000 ? "MET" : "MISSED");
    return errors == 0 ? 0 : 1;
}
