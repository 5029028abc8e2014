// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — `lockstep serve` (see serve.hpp).
#include <algorithm>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "serve.hpp"

namespace lockstep::cli {

namespace {

constexpr int kMaxThreads = 64;

std::string host_port(const std::string& host, std::uint16_t port) {
    return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

void run_serve(CLI::App& sub, ServeArgs& a) {
    apply_config_file(sub, a.conn);
    if (a.tcp_port < 0 && a.udp_port < 0) fail(Exit::usage, "give --tcp PORT and/or --udp PORT (0: an ephemeral port)");
    TraceSink sink(stderr);
    auto rs = make_server(a, a.conn.trace ? &sink : nullptr);
    warn_if_not_forward_secret(rs->setup->config);
    fmt::print("{}\n", rs->listening);
    std::fflush(stdout);
    net::Server::install_signal_handlers();
    auto st = rs->server->run();
    fmt::print("{}\n", server_totals(*rs->server));
    std::fflush(stdout);
    if (!st) fail(Exit::internal, fmt::format("the server stopped with an error: {}", err_name(st.error())));
}

}  // namespace

std::unique_ptr<RunningServer> make_server(const ServeArgs& a, TraceSink* trace) {
    auto rs = std::make_unique<RunningServer>();
    rs->setup = make_engine_setup(Role::server, a.conn);
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

    Source* source = rs->source.get();
    const std::size_t max_data = cfg.max_data;
    net::RequestHandler handler = [source, max_data](std::span<const std::uint8_t> req, const net::PeerInfo&) {
        std::vector<std::uint8_t> out;
        try {
            out = source->respond(req);
        } catch (...) {
            const std::string_view msg = "error: the data source failed\n";
            out.assign(msg.begin(), msg.end());
        }
        if (out.size() > max_data) out.resize(max_data);
        return out;
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
    return fmt::format("stopped: {} connections, {} established, {} requests, {} re-keys, {} rejected, {} errors",
                       c.accepted, c.established, c.requests, c.rekeys, c.rejected, c.errors);
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
    sub->add_option("--cmd-timeout", a->cmd_timeout_ms, "Time limit for a cmd: source in ms")
        ->check(CLI::Range(1, 600'000))
        ->capture_default_str();
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
