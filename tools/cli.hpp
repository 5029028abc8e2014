// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — what every subcommand shares: exit codes, the one-line error,
// file helpers and byte formatting.
//
// How errors work here: a command throws `Failure(code, text)`; main() catches
// it, prints "error: <text>" as one line on stderr and exits with the code.
// Exceptions are allowed in tools/ only; the library never throws (its errors are values).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace lockstep::cli {

// Exit codes, documented in `lockstep --help` (kExitCodeHelp) and tools/README.md.
enum class Exit : int {
    ok = 0,
    usage = 1,       // bad flag or argument
    file = 2,        // missing / malformed / unsafe key, certificate, PSK or config file
    network = 3,     // peer unreachable, connection refused, cannot bind
    auth = 4,        // authentication or handshake failure
    closed = 5,      // connection closed or timed out during data
    unanswered = 6,  // some requests were not answered
    internal = 70,   // a bug (EX_SOFTWARE)
};
extern const char* const kExitCodeHelp;

class Failure : public std::runtime_error {
public:
    // `what` is printed as one line: control characters (text quoted from a
    // file, such as a parser's view of a bad config) are escaped as \n, \xNN.
    Failure(Exit code, const std::string& what) : std::runtime_error(one_line(what)), code_(code) {}
    static std::string one_line(const std::string& text);
    Exit code() const noexcept { return code_; }

private:
    Exit code_;
};

[[noreturn]] void fail(Exit code, const std::string& what);

using Buf = std::vector<std::uint8_t>;
using ConstSpan = std::span<const std::uint8_t>;

// Bytes that are secret (a PSK): wiped when destroyed, never copied.
class SecretBuf {
public:
    SecretBuf() = default;
    explicit SecretBuf(std::size_t n) : b_(n) {}
    SecretBuf(SecretBuf&& o) noexcept : b_(std::move(o.b_)) {}
    SecretBuf& operator=(SecretBuf&& o) noexcept;
    SecretBuf(const SecretBuf&) = delete;
    SecretBuf& operator=(const SecretBuf&) = delete;
    ~SecretBuf();
    void resize(std::size_t n);  // shrinking wipes the dropped tail
    std::uint8_t* data() noexcept { return b_.data(); }
    std::size_t size() const noexcept { return b_.size(); }
    std::span<std::uint8_t> span() noexcept { return b_; }
    ConstSpan span() const noexcept { return b_; }

private:
    Buf b_;
};

// ---- files. Every failure is Exit::file with a message naming the file and the cause.
// `what` names the file's role in messages ("certificate", "config file", ...).
Buf read_file(const std::string& path, std::size_t max_len, std::string_view what);
// Creates a new public file (mode 0644); refuses to overwrite.
void write_new_file(const std::string& path, ConstSpan data, std::string_view what);
// Refuses when `path` exists ("refusing to overwrite").
void require_absent(const std::string& path);
// For a secret file about to be read: missing, not a regular file, or readable
// by group/others (with the chmod hint) each give one clear Exit::file line.
void check_secret_file(const std::string& path, std::string_view what);

// ---- bytes
std::string hex(ConstSpan b);
// Text as is when it is printable (UTF-8, tabs and newlines allowed), else hex.
bool is_printable(ConstSpan b);
std::string printable_or_hex(ConstSpan b);
inline ConstSpan as_span(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
// "2031-01-02 03:04:05 UTC"
std::string utc_time(std::int64_t unix_seconds);
// The wall clock, in milliseconds since the Unix epoch.
std::int64_t unix_ms();

// ---- subcommands (one file each)
void add_key_commands(CLI::App& app);  // ca init, cert issue, cert show, psk gen (keys_cmd.cpp)
void add_serve_command(CLI::App& app);    // serve_cmd.cpp
void add_request_command(CLI::App& app);  // request_cmd.cpp
void add_demo_command(CLI::App& app);     // demo_cmd.cpp
void add_device_commands(CLI::App& app);  // device ..., cert revoke (device_cmd.cpp; after add_key_commands)

}  // namespace lockstep::cli
