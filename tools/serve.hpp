// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — `lockstep serve`: a lockstep server around a data source.
// The demo runs the same server in-process (make_server).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "lockstep/net.hpp"
#include "registry/cache.hpp"
#include "sources.hpp"
#include "trace.hpp"

namespace lockstep::cli {

struct ServeArgs {
    ConnSettings conn;
    int tcp_port = -1;  // -1: no TCP listener; 0: an ephemeral port
    int udp_port = -1;  // -1: no UDP socket; 0: an ephemeral port
    std::string bind = "127.0.0.1";
    int threads = 1;
    int rekey_after = 10;
    std::string source = "sensor";
    int cmd_timeout_ms = 2000;
    std::string registry;             // sqlite:PATH | postgresql://... ("": PSKs from files)
    int registry_staleness_ms = 5000;  // RegistryCache staleness bound
    int registry_cache = 200'000;      // devices cached
    std::string wrap_key;             // key file for wrapped PSKs in the registry
    std::string log_format = "text";  // text | json: trace, fault, status and operator lines
    int status_interval_s = 60;       // a status line every this many seconds (0: none)
    std::string metrics;              // HOST:PORT of the Prometheus endpoint ("": none)
};

// A bound server and everything it borrows.
struct RunningServer {
    std::unique_ptr<EngineSetup> setup;
    std::unique_ptr<registry::RegistryCache> registry;  // serve --registry
    std::unique_ptr<Source> source;
    std::unique_ptr<net::Server> server;
    // "listening tcp=127.0.0.1:40001 udp=127.0.0.1:40002" (the real ports)
    std::string listening;
};

// Loads the credentials, makes the source, binds (Exit::network if it cannot).
// trace: where trace lines go (nullptr: no trace).
std::unique_ptr<RunningServer> make_server(const ServeArgs& a, TraceSink* trace);

// Registers the `serve` subcommand and its options (bound to `a`, which must
// outlive `app`) without a callback; add_serve_command (cli.hpp) adds the run.
CLI::App* add_serve_options(CLI::App& app, ServeArgs& a);

// One line for stdout when the server has stopped.
std::string server_totals(const net::Server& s);

}  // namespace lockstep::cli
