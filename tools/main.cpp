// SPDX-License-Identifier: Apache-2.0
// lockstep — the command-line tool: keys and certificates, a server, a client,
// the demo. Every subcommand registers itself from its own file; errors end in
// one line on stderr and a documented exit code (cli.hpp).
#include <csignal>
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli.hpp"
#include "lockstep/version.hpp"

int main(int argc, char** argv) {
    using namespace lockstep::cli;
    // A peer or a cmd: source that goes away must not kill us through SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);

    CLI::App app{"lockstep: a small secure channel for IoT devices (mutually authenticated, encrypted "
                 "request/response over TCP or UDP)",
                 "lockstep"};
    app.require_subcommand(1);
    // The library actually linked, so a shared liblockstep upgrade shows.
    app.set_version_flag("--version", std::string("lockstep ") + lockstep::version());
    app.footer(kExitCodeHelp);
    add_key_commands(app);
    add_device_commands(app);
    add_serve_command(app);
    add_request_command(app);
    add_demo_command(app);

    try {
        app.parse(argc, argv);
        return 0;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        fmt::print(stderr, "error: {} (see --help)\n", e.what());
        return static_cast<int>(Exit::usage);
    } catch (const Failure& f) {
        std::fflush(stdout);
        fmt::print(stderr, "error: {}\n", f.what());
        return static_cast<int>(f.code());
    } catch (const std::exception& e) {
        fmt::print(stderr, "error: internal: {}\n", e.what());
        return static_cast<int>(Exit::internal);
    }
}
