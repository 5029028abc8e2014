// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the CLI's TOML config files (`serve --config`, `request --config`),
// read by the same code as the tool: toml++ and the key-to-option mapping of
// tools/config.cpp over the real `serve` and `request` option sets. Any input
// must either apply or fail with the tool's own error (Exit::file, one line);
// any other exception, a crash or a sanitizer report is a finding. (Debian's
// toml++ is a shared library, so coverage guidance reaches our mapping code,
// not the TOML parser's internals.)
#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "request.hpp"
#include "serve.hpp"

using namespace lockstep;
using namespace lockstep::fuzz;

namespace {

template <class Args, class AddOptions>
void apply(std::string_view text, AddOptions add_options) {
    CLI::App app;
    Args args;
    CLI::App* sub = add_options(app, args);
    try {
        cli::apply_config_text(*sub, args.conn, text, "fuzz/config.toml");
    } catch (const cli::Failure& f) {
        const std::string what = f.what();
        require(f.code() == cli::Exit::file, "config error with an exit code other than 2 (file)");
        require(!what.empty(), "config error without a message");
        for (const char ch : what)
            require(static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f, "config error is not one printable line");
    }
}

}  // namespace

LOCKSTEP_FUZZ_ENTRY(config) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    apply<cli::ServeArgs>(text, cli::add_serve_options);
    apply<cli::RequestArgs>(text, cli::add_request_options);
    return 0;
}
