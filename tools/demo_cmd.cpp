// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — `lockstep demo`: the whole system in one run, through the same
// code paths as the subcommands. In a work directory it makes a CA, a server and
// a client certificate and a PSK; starts a server with the simulated sensor on
// loopback TCP and UDP (ephemeral ports, on a thread of this process); runs 25
// requests over TCP and 25 over UDP in mode cert+psk with the trace of both ends
// (three HELLOs per connection: the handshake and two re-keys), a summary per
// connection and a clean close; then stops the server.
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "keys.hpp"
#include "request.hpp"
#include "serve.hpp"

namespace lockstep::cli {

namespace {

namespace fs = std::filesystem;

constexpr int kDemoRequests = 25;
constexpr int kDemoRekeyAfter = 10;
constexpr int kDemoTimeoutMs = 5000;

struct DemoArgs {
    std::string dir;
    bool keep = false;
};

// Removes the temporary work directory on every path, unless asked to keep it.
struct WorkDir {
    fs::path path;
    bool remove = false;
    ~WorkDir() {
        std::error_code ec;
        if (remove) fs::remove_all(path, ec);
    }
};

// Stops and joins the in-process server on every path.
struct ServerThread {
    RunningServer& rs;
    std::thread th;
    Status result;
    explicit ServerThread(RunningServer& r) : rs(r), th([this] { result = rs.server->run(); }) {}
    ~ServerThread() { stop(); }
    void stop() {
        if (th.joinable()) {
            rs.server->stop();
            th.join();
        }
    }
};

void heading(const std::string& s) {
    fmt::print("\n== {}\n", s);
    std::fflush(stdout);
}

void command(const std::string& s) { fmt::print("$ lockstep {}\n", s); }

void run_demo(const DemoArgs& d) {
    WorkDir wd;
    if (d.dir.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        std::string templ = fmt::format("{}/lockstep-demo-XXXXXX", tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
        if (::mkdtemp(templ.data()) == nullptr) fail(Exit::file, fmt::format("cannot create a directory {}", templ));
        wd.path = templ;
        wd.remove = !d.keep;
    } else {
        wd.path = d.dir;
        std::error_code ec;
        fs::create_directories(wd.path, ec);
        if (ec) fail(Exit::file, fmt::format("cannot create directory {}: {}", d.dir, ec.message()));
    }
    const auto at = [&](const char* name) { return (wd.path / name).string(); };

    fmt::print("lockstep demo: a CA, certificates and a PSK; a server with a simulated sensor; {} requests over "
               "TCP and {} over UDP\nin mode cert+psk, re-keying after every {} responses. Trace format: "
               "[who] snd|rcv <message> <fields>.\n",
               kDemoRequests, kDemoRequests, kDemoRekeyAfter);

    heading(fmt::format("1. Credentials in {}", wd.path.string()));
    const CaInitArgs ca{at("ca"), "lockstep demo CA", "ed25519", 30};
    command(fmt::format("ca init --out {} --subject '{}' --days {}", ca.dir, ca.subject, ca.days));
    ca_init(ca);
    const CertIssueArgs srv{at("ca"), "server", "sensor.demo", at("server"), "ed25519", 30};
    command(fmt::format("cert issue --ca {} --role server --subject {} --out {}", srv.ca_dir, srv.subject, srv.prefix));
    cert_issue(srv);
    const CertIssueArgs cli{at("ca"), "client", "device-1", at("device-1"), "ed25519", 30};
    command(fmt::format("cert issue --ca {} --role client --subject {} --out {}", cli.ca_dir, cli.subject, cli.prefix));
    cert_issue(cli);
    const PskGenArgs psk{at("device-1.psk"), 32, "device-1"};
    command(fmt::format("psk gen --out {} --id {}", psk.out, psk.id));
    psk_gen(psk);

    heading("2. Server: simulated sensor on loopback TCP and UDP");
    ServeArgs sa;
    sa.conn.modes = {"cert+psk"};
    sa.conn.cert = at("server.cert");
    sa.conn.key = at("server.key");
    sa.conn.ca = at("ca");
    sa.conn.psk = at("device-1.psk");
    sa.conn.trace = true;
    sa.tcp_port = 0;
    sa.udp_port = 0;
    sa.rekey_after = kDemoRekeyAfter;
    sa.source = "sensor:5";
    command(fmt::format("serve --tcp 0 --udp 0 --mode cert+psk --cert {} --key {} --ca {} --psk {} --source {} "
                        "--rekey-after {} --trace",
                        sa.conn.cert, sa.conn.key, sa.conn.ca, sa.conn.psk, sa.source, sa.rekey_after));
    TraceSink sink(stdout);
    auto rs = make_server(sa, &sink);
    fmt::print("{}\n", rs->listening);
    std::fflush(stdout);
    ServerThread server(*rs);

    std::uint32_t total_rekeys = 0;
    int step = 3;
    for (const bool udp : {false, true}) {
        RequestArgs ra;
        ra.conn.modes = {"cert+psk"};
        ra.conn.cert = at("device-1.cert");
        ra.conn.key = at("device-1.key");
        ra.conn.ca = at("ca");
        ra.conn.psk = at("device-1.psk");
        ra.conn.server_names = {srv.subject};
        ra.udp = udp;
        ra.tcp = !udp;
        ra.target = fmt::format("127.0.0.1:{}", udp ? rs->server->udp_port() : rs->server->tcp_port());
        ra.count = kDemoRequests;
        ra.body = "m=3";
        ra.timeout_ms = kDemoTimeoutMs;
        const char* tname = udp ? "UDP" : "TCP";
        heading(fmt::format("{}. {}: {} requests in mode cert+psk (trace of both ends)", step++, tname, kDemoRequests));
        command(fmt::format("request {} --{} -n {} --body {} --mode cert+psk --cert {} --key {} --ca {} --psk {} "
                            "--server-name {} --trace --summary",
                            ra.target, udp ? "udp" : "tcp", ra.count, ra.body, ra.conn.cert, ra.conn.key, ra.conn.ca,
                            ra.conn.psk, srv.subject));
        auto setup = make_engine_setup(Role::client, ra.conn);
        std::string last;
        const ClientRun r = run_client(ra, *setup, &sink, [&](int, std::span<const std::uint8_t> b) {
            last = printable_or_hex(b);
        });
        fmt::print("\n-- last response (the sensor's last 3 readings):\n{}", last);
        fmt::print("-- {} connection:\n", tname);
        print_summary(stdout, r);
        std::fflush(stdout);
        check_complete(r);
        if (!r.clean_close) fail(Exit::closed, fmt::format("the {} connection did not close cleanly", tname));
        total_rekeys += r.stats.rekeys;
    }

    heading(fmt::format("{}. Stopping the server", step));
    server.stop();
    fmt::print("{}\n", server_totals(*rs->server));
    if (!server.result) fail(Exit::internal, fmt::format("the server stopped with an error: {}", err_name(server.result.error())));
    fmt::print("\ndemo finished: {} of {} requests answered, {} re-keys, clean closes{}\n", 2 * kDemoRequests,
               2 * kDemoRequests, total_rekeys,
               wd.remove ? "" : fmt::format("; files kept in {}", wd.path.string()));
    std::fflush(stdout);
}

}  // namespace

void add_demo_command(CLI::App& app) {
    auto d = std::make_shared<DemoArgs>();
    auto* sub = app.add_subcommand(
        "demo", "Run the whole system once: credentials, a server with a simulated sensor, 25 requests over TCP "
                "and 25 over UDP (cert+psk) with the trace and a summary");
    sub->add_option("--dir", d->dir, "Work directory, kept (must not hold an earlier demo's files; default: a new temporary "
                                "directory, removed at the end)");
    sub->add_flag("--keep", d->keep, "Keep the temporary work directory");
    sub->callback([d] { run_demo(*d); });
}

}  // namespace lockstep::cli
