// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — the key log file (see key_log.hpp).
#include "key_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "lockstep/net.hpp"

namespace lockstep::cli {

KeyLogFile::KeyLogFile(const std::string& path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) fail(Exit::file, fmt::format("cannot open key log {}: {}", path, std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077U) != 0) {
        ::close(fd_);
        fd_ = -1;
        fail(Exit::file, fmt::format("key log {} is not a regular file of mode 0600; run chmod 600 {}", path, path));
    }
}

KeyLogFile::~KeyLogFile() {
    if (fd_ >= 0) ::close(fd_);
}

void KeyLogFile::write_line(const std::string& line) noexcept {
    // One write per line: with O_APPEND, lines of concurrent writers do not mix.
    (void)!::write(fd_, line.data(), line.size());
}

void KeyLogFile::on_secret(const char* label, std::uint32_t epoch, std::span<const std::uint8_t> value) noexcept {
    try {
        std::string name(label);
        for (char& ch : name) ch = ch == ' ' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        const std::string v = hex(value);
        // A connection's first secret: the initial ecdhe (ECDHE modes) or th2 itself.
        if (name == "ECDHE" && epoch == 0) {
            th2_.clear();
            pending_.clear();
        }
        if (name == "TH2") th2_ = v;
        if (th2_.empty()) {  // not yet known: keep the line until it is
            pending_.push_back({std::move(name), epoch, v});
            return;
        }
        for (const Pending& p : pending_) write_line(fmt::format("{} {} {} {}\n", p.label, th2_, p.epoch, p.value));
        pending_.clear();
        write_line(fmt::format("{} {} {} {}\n", name, th2_, epoch, v));
    } catch (...) {  // out of memory: the line is lost, the connection goes on
    }
}

namespace {
struct NoKeyLog final : InsecureKeyLog {
    void on_secret(const char*, std::uint32_t, std::span<const std::uint8_t>) noexcept override {}
};
}  // namespace

void require_key_log_support(const Config& cfg) {
    NoKeyLog probe_log;
    Config c = cfg;
    c.insecure_key_log = &probe_log;
    const net::Client probe(c, net::Transport::tcp);  // constructs the engine; sends nothing
    if (probe.engine().last_error() == Err::unsupported)
        fail(Exit::usage, "--insecure-key-log: this lockstep is built without the key log (the CMake option "
                          "LOCKSTEP_INSECURE_KEY_LOG, on in Debug builds)");
}

}  // namespace lockstep::cli
