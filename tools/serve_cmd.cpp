// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — `lockstep serve` (see serve.hpp).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#ifdef LOCKSTEP_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "net/metrics.hpp"
#include "registry/wrap.hpp"
#include "serve.hpp"
#include "wire/wire.hpp"

namespace lockstep::cli {

namespace {

constexpr int kMaxThreads = 64;
constexpr std::int64_t kExpiryWarningSeconds = 30 * 24 * 3600;

// A server whose own certificate every client would refuse does not start
// (Exit::file); one that expires within 30 days says so.
void check_own_certificate(const EngineSetup& setup, const std::string& path) {
    if (setup.cert.empty()) return;
    auto c = wire::decode_cert(setup.cert);
    if (!c) fail(Exit::file, fmt::format("certificate {} does not decode", path));
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    if (now < c->not_before)
        fail(Exit::file, fmt::format("certificate {} is not valid yet (valid from Unix time {})", path, c->not_before));
    if (now > c->not_after)
        fail(Exit::file, fmt::format("certificate {} has expired (valid until Unix time {})", path, c->not_after));
    if (c->not_after - now < kExpiryWarningSeconds)
        fmt::print(stderr, "warning: certificate {} expires in {} days (Unix time {})\n", path,
                   (c->not_after - now) / 86400, c->not_after);
}

std::string host_port(const std::string& host, std::uint16_t port) {
    return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

// Under systemd (Type=notify; NOTIFY_SOCKET set) readiness and stopping go to the
// service manager; elsewhere sd_notify does nothing.
void notify_service_manager([[maybe_unused]] const std::string& state) {
#ifdef LOCKSTEP_HAVE_SYSTEMD
    sd_notify(0, state.c_str());
#endif
}

// "127.0.0.1:9100" or "[::1]:9100" (--metrics); Exit::usage otherwise.
std::pair<std::string, std::uint16_t> split_host_port(const std::string& s) {
    const auto colon = s.rfind(':');
    std::string host = colon == std::string::npos ? "" : s.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const std::string port = colon == std::string::npos ? "" : s.substr(colon + 1);
    if (host.empty() || port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
        std::stoi(port) > 65535)
        fail(Exit::usage, fmt::format("--metrics {}: give HOST:PORT, e.g. 127.0.0.1:9100", s));
    return {host, static_cast<std::uint16_t>(std::stoi(port))};
}

// A status line (text or JSON) every `interval` until destroyed.
class StatusTicker {
public:
    StatusTicker(const net::Server& server, TraceSink& sink, std::chrono::seconds interval) {
        if (interval.count() == 0) return;
        thread_ = std::thread([this, &server, &sink, interval] {
            std::unique_lock<std::mutex> lock(mu_);
            while (!cv_.wait_for(lock, interval, [this] { return stop_; })) {
                const auto c = server.counters();
                sink.line(sink.json() ? net::status_json(c, unix_ms()) : "lockstep serve: " + net::status_line(c));
            }
        });
    }
    ~StatusTicker() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    StatusTicker(const StatusTicker&) = delete;
    StatusTicker& operator=(const StatusTicker&) = delete;

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

// The device registry as the PSK store and certificate policy, and the
// re-check of live connections (every staleness / 2: a revoked device's
// connection closes within the staleness bound).
void attach_registry(const ServeArgs& a, RunningServer& rs, net::ServerOptions& so) {
    std::vector<std::uint8_t> wrap;
    if (!a.wrap_key.empty()) {
        const Psk wk = load_psk(a.wrap_key);
        if (wk.key.size() != registry::kWrapKeyLen)
            fail(Exit::file, fmt::format("wrap key {} must hold 32 bytes (lockstep psk gen --bytes 32)", a.wrap_key));
        wrap.assign(wk.key.span().begin(), wk.key.span().end());
    }
    registry::CacheOptions co;
    co.capacity = static_cast<std::size_t>(a.registry_cache);
    co.staleness = std::chrono::milliseconds(a.registry_staleness_ms);
    try {
        rs.registry = std::make_unique<registry::RegistryCache>(registry::Registry::open(a.registry), std::move(wrap), co);
    } catch (const registry::RegistryError& e) {
        fail(Exit::file, e.what());
    }
    rs.registry->start();
    Config& cfg = rs.setup->config;
    cfg.psk_store = rs.registry.get();
    cfg.cert_policy = rs.registry.get();
    const registry::RegistryCache* cache = rs.registry.get();
    so.still_allowed = [cache](const net::PeerIdentity& id) {
        if (id.has_cert && !cache->cert_still_allowed(id.cert_serial, id.cert_key_id, id.cert_subject())) return false;
        const auto psk = id.psk_identity();
        return psk.empty() || cache->psk_still_allowed({reinterpret_cast<const char*>(psk.data()), psk.size()});
    };
    so.revalidate_every = std::max(co.staleness / 2, std::chrono::milliseconds(1));
}

void run_serve(CLI::App& sub, ServeArgs& a) {
    apply_config_file(sub, a.conn);
    if (a.tcp_port < 0 && a.udp_port < 0) fail(Exit::usage, "give --tcp PORT and/or --udp PORT (0: an ephemeral port)");
    TraceSink sink(stderr, a.log_format == "json");
    auto rs = make_server(a, a.conn.trace ? &sink : nullptr);
    warn_if_not_forward_secret(rs->setup->config);
    std::unique_ptr<net::MetricsEndpoint> metrics;
    if (!a.metrics.empty()) {
        const auto [host, port] = split_host_port(a.metrics);
        const net::Server* server = rs->server.get();
        auto m = net::MetricsEndpoint::start(host, port, [server] { return net::prometheus_text(server->counters()); });
        if (!m) fail(Exit::network, fmt::format("cannot serve metrics on {} (bad address, or in use)", a.metrics));
        metrics = std::move(*m);
        rs->listening += " metrics=" + host_port(host, metrics->port());
    }
    fmt::print("{}\n", rs->listening);
    std::fflush(stdout);
    net::Server::install_signal_handlers();
    notify_service_manager("READY=1\nSTATUS=" + rs->listening);
    Result<void> st;
    {
        StatusTicker ticker(*rs->server, sink, std::chrono::seconds(a.status_interval_s));
        st = rs->server->run();
    }
    notify_service_manager("STOPPING=1");
    fmt::print("{}\n", server_totals(*rs->server));
    std::fflush(stdout);
    if (!st) fail(Exit::internal, fmt::format("the server stopped with an error: {}", err_name(st.error())));
}

}  // namespace

std::unique_ptr<RunningServer> make_server(const ServeArgs& a, TraceSink* trace) {
    auto rs = std::make_unique<RunningServer>();
    ConnSettings conn = a.conn;
    conn.psk_registry = !a.registry.empty();
    rs->setup = make_engine_setup(Role::server, conn);
    check_own_certificate(*rs->setup, a.conn.cert);
    Config& cfg = rs->setup->config;
    cfg.rekey.after_responses = static_cast<std::uint32_t>(a.rekey_after);
    rs->source = make_source(a.source, cfg.max_data, std::chrono::milliseconds(a.cmd_timeout_ms));

    net::ServerOptions so;
    so.bind = a.bind;
    so.tcp = a.tcp_port >= 0;
    so.udp = a.udp_port >= 0;
    so.tcp_port = static_cast<std::uint16_t>(std::max(a.tcp_port, 0));
    so.udp_port = static_cast<std::uint16_t>(std::max(a.udp_port, 0));
    so.threads = a.threads;
    if (!a.registry.empty()) attach_registry(a, *rs, so);
    if (a.log_format == "json")
        so.log = [](const std::string& line) {
            fmt::print(stderr, "{{\"ts\":{},\"kind\":\"log\",\"message\":{}}}\n", unix_ms(), json_string(line));
        };
    else
        so.log = [](const std::string& line) { fmt::print(stderr, "lockstep serve: {}\n", line); };

    Source* source = rs->source.get();
    net::RequestHandler handler = [source](std::span<const std::uint8_t> req, const net::PeerInfo&,
                                           std::span<std::uint8_t> resp) -> std::size_t {
        std::vector<std::uint8_t> out;
        try {
            out = source->respond(req);
        } catch (...) {
            const std::string_view msg = "error: the data source failed\n";
            out.assign(msg.begin(), msg.end());
        }
        const std::size_t n = std::min(out.size(), resp.size());
        std::copy_n(out.begin(), n, resp.begin());
        return n;
    };
    net::TracerFactory tracers;
    if (trace != nullptr)
        tracers = [trace](const std::string& peer) -> std::unique_ptr<Tracer> {
            return std::make_unique<LineTracer>(*trace, "server " + peer);
        };
    rs->server = std::make_unique<net::Server>(cfg, so, std::move(handler), std::move(tracers));
    auto st = rs->server->bind();
    if (!st) {
        std::string where;
        if (so.tcp) where += fmt::format(" tcp port {}", so.tcp_port);
        if (so.udp) where += fmt::format(" udp port {}", so.udp_port);
        if (st.error() == Err::invalid_argument)
            fail(Exit::network, fmt::format("cannot listen on '{}':{} (bad bind address)", a.bind, where));
        fail(Exit::network, fmt::format("cannot listen on {}:{} (address in use or not permitted)", a.bind, where));
    }
    rs->listening = "listening";
    if (so.tcp) rs->listening += " tcp=" + host_port(a.bind, rs->server->tcp_port());
    if (so.udp) rs->listening += " udp=" + host_port(a.bind, rs->server->udp_port());
    return rs;
}

std::string server_totals(const net::Server& s) {
    const auto c = s.counters();
    return fmt::format(
        "stopped: {} connections, {} established, {} requests, {} re-keys, {} rejected, {} errors, {} revoked",
        c.accepted, c.established, c.requests, c.rekeys, c.rejected, c.errors, c.revoked);
}

CLI::App* add_serve_options(CLI::App& app, ServeArgs& args) {
    ServeArgs* a = &args;
    auto* sub = app.add_subcommand("serve", "Run a lockstep server that answers requests from a data source");
    sub->add_option("--tcp", a->tcp_port, "Listen on this TCP port (0: an ephemeral port)")->check(CLI::Range(0, 65535));
    sub->add_option("--udp", a->udp_port, "Listen on this UDP port (0: an ephemeral port)")->check(CLI::Range(0, 65535));
    sub->add_option("--bind", a->bind, "Address to listen on")->capture_default_str();
    add_conn_options(*sub, a->conn);
    sub->add_option("--threads", a->threads, "Event-loop threads")->check(CLI::Range(1, kMaxThreads))->capture_default_str();
    sub->add_option("--rekey-after", a->rekey_after, "Re-key after this many acknowledged responses (0: never)")
        ->check(CLI::Range(0, 1'000'000))
        ->capture_default_str();
    sub->add_option("--source", a->source,
                    "Data source: sensor[:m] (last m simulated readings, default 5; a request body m=<k> asks "
                    "for k), file:PATH, cmd:COMMAND (run per request, body on stdin, stdout is the response)")
        ->capture_default_str();
    sub->add_option("--registry", a->registry,
                    "Device registry (sqlite:PATH or postgresql://...): PSKs, revoked devices and denied "
                    "certificates, instead of --psk files (lockstep device ...)");
    sub->add_option("--registry-staleness", a->registry_staleness_ms,
                    "Longest time a registry change (a revocation) takes to reach this server, in ms: new "
                    "handshakes see it and live connections of a revoked device close within it")
        ->check(CLI::Range(2, 3'600'000))
        ->capture_default_str();
    sub->add_option("--registry-cache", a->registry_cache, "Devices kept in the registry cache")
        ->check(CLI::Range(1, 100'000'000))
        ->capture_default_str();
    sub->add_option("--wrap-key", a->wrap_key, "Key file (32 bytes, mode 0600) of the PSKs wrapped in the registry");
    sub->add_option("--cmd-timeout", a->cmd_timeout_ms, "Time limit for a cmd: source in ms")
        ->check(CLI::Range(1, 600'000))
        ->capture_default_str();
    sub->add_option("--log-format", a->log_format, "trace, fault, status and operator lines on stderr: text or json "
                                                   "(one JSON object per line)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    sub->add_option("--status-interval", a->status_interval_s,
                    "Print a status line (open and half-open connections, totals) every this many seconds (0: never)")
        ->check(CLI::Range(0, 86'400))
        ->capture_default_str();
    sub->add_option("--metrics", a->metrics,
                    "Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9100; port 0: ephemeral)");
    sub->footer(
        "The server prints one line \"listening tcp=ADDR:PORT udp=ADDR:PORT\" when it is ready and stops "
        "cleanly on SIGINT/SIGTERM (every connection gets CLOSE with reason shutdown)."
        "\n\n" + std::string(kExitCodeHelp));
    return sub;
}

void add_serve_command(CLI::App& app) {
    auto a = std::make_shared<ServeArgs>();
    CLI::App* sub = add_serve_options(app, *a);
    sub->callback([sub, a] { run_serve(*sub, *a); });
}

}  // namespace lockstep::cli
