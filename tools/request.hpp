// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — `lockstep request`: a client that connects, sends N requests,
// prints the responses and closes. The demo runs the same client (run_client).
#pragma once

#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "lockstep/engine.hpp"
#include "trace.hpp"

namespace lockstep::cli {

struct RequestArgs {
    ConnSettings conn;
    std::string target;  // HOST:PORT ([v6addr]:PORT)
    bool tcp = false, udp = false;  // neither: TCP
    int count = 1;
    std::string body, body_file;
    int interval_ms = 0;
    int timeout_ms = 5000;  // every network wait: connect, each response, close
    bool summary = false;
    std::string key_log;  // --insecure-key-log FILE (key_log.hpp)
};

// What happened in one run (possibly over several connections: after a request
// times out or a local fault ends the connection, the client reconnects and goes
// on; when the server closes or cannot be reached, it stops).
struct ClientRun {
    std::string transport;  // "tcp" / "udp"
    std::string target;
    int requests = 0;       // how many were to be sent
    int answered = 0;
    std::vector<int> unanswered;  // 1-based request numbers
    std::vector<std::string> notes;  // why a request went unanswered
    int connections = 0;
    Stats stats{};  // summed over the connections
    Mode mode = Mode::cert;
    Suite suite = Suite::aes256gcm;
    double elapsed_ms = 0, handshake_ms = 0;
    bool clean_close = false;  // the last connection ended with CLOSE / CLOSE ACK
    std::string failure;       // non-empty: the run ended early, and why
};

using ResponseFn = std::function<void(int index, std::span<const std::uint8_t> body)>;

// Runs a whole client session. A first connection that cannot be made throws
// Failure (Exit::network / Exit::auth); anything later is reported in the result.
ClientRun run_client(const RequestArgs& a, EngineSetup& setup, TraceSink* trace, const ResponseFn& on_response);

void print_summary(std::FILE* out, const ClientRun& r);

// Registers the `request` subcommand and its options (bound to `a`, which must
// outlive `app`) without a callback; add_request_command (cli.hpp) adds the run.
CLI::App* add_request_options(CLI::App& app, RequestArgs& a);

// Throws the Failure for an incomplete run: Exit::closed if it ended early,
// Exit::unanswered if it went on but some requests got no response.
void check_complete(const ClientRun& r);

// "3, 7, 9-12"
std::string number_ranges(const std::vector<int>& v);

}  // namespace lockstep::cli
