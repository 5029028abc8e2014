// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — shared helpers (see cli.hpp).
#include "cli.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "common/bytes.hpp"

namespace lockstep::cli {

const char* const kExitCodeHelp =
    "Exit codes:\n"
    "  0  success\n"
    "  1  usage: a bad flag or argument\n"
    "  2  file or config error: a missing, malformed or unsafe (group/other-readable)\n"
    "     key, certificate, PSK or config file\n"
    "  3  network: peer unreachable, connection refused, cannot bind\n"
    "  4  authentication or handshake failure: bad certificate, bad signature, bad MAC,\n"
    "     unknown PSK, downgrade, no common parameters\n"
    "  5  connection closed or timed out during data\n"
    "  6  some requests were not answered (the numbers are reported)\n"
    "  70 internal error (a bug; please report it)";

void fail(Exit code, const std::string& what) { throw Failure(code, what); }

std::string Failure::one_line(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\n') out += "\\n";
        else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
        else out += ch;
    }
    return out;
}

SecretBuf& SecretBuf::operator=(SecretBuf&& o) noexcept {
    if (this != &o) {
        secure_wipe(b_.data(), b_.size());
        b_ = std::move(o.b_);
    }
    return *this;
}

SecretBuf::~SecretBuf() { secure_wipe(b_.data(), b_.size()); }

void SecretBuf::resize(std::size_t n) {
    if (n < b_.size()) {
        secure_wipe(b_.data() + n, b_.size() - n);
        b_.resize(n);
    } else {
        // Grow into a fresh buffer so no unwiped copy is left behind by realloc.
        Buf bigger(n);
        if (!b_.empty()) {
            std::memcpy(bigger.data(), b_.data(), b_.size());
            secure_wipe(b_.data(), b_.size());
        }
        b_ = std::move(bigger);
    }
}

namespace {

std::string errno_text(int e) { return std::strerror(e); }

// A descriptor closed on every path.
struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

Buf read_file(const std::string& path, std::size_t max_len, std::string_view what) {
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
    if (f.fd < 0) {
        if (errno == ENOENT) fail(Exit::file, fmt::format("{} {} not found", what, path));
        fail(Exit::file, fmt::format("cannot open {} {}: {}", what, path, errno_text(errno)));
    }
    struct stat st {};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode))
        fail(Exit::file, fmt::format("{} {} is not a regular file", what, path));
    if (static_cast<std::uint64_t>(st.st_size) > max_len)
        fail(Exit::file, fmt::format("{} {} is too large ({} bytes, at most {})", what, path, st.st_size, max_len));
    Buf out(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::read(f.fd, out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(Exit::file, fmt::format("cannot read {} {}: {}", what, path, errno_text(errno)));
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    out.resize(done);
    return out;
}

void write_new_file(const std::string& path, ConstSpan data, std::string_view what) {
    Fd f{::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)};
    if (f.fd < 0) {
        if (errno == EEXIST) fail(Exit::file, fmt::format("{} already exists; refusing to overwrite it", path));
        fail(Exit::file, fmt::format("cannot create {} {}: {}", what, path, errno_text(errno)));
    }
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(f.fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int e = errno;
            ::unlink(path.c_str());
            fail(Exit::file, fmt::format("cannot write {} {}: {}", what, path, errno_text(e)));
        }
        done += static_cast<std::size_t>(n);
    }
}

void require_absent(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0)
        fail(Exit::file, fmt::format("{} already exists; refusing to overwrite it", path));
}

void check_secret_file(const std::string& path, std::string_view what) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) fail(Exit::file, fmt::format("{} {} not found", what, path));
        fail(Exit::file, fmt::format("cannot open {} {}: {}", what, path, errno_text(errno)));
    }
    if (!S_ISREG(st.st_mode)) fail(Exit::file, fmt::format("{} {} is not a regular file", what, path));
    const unsigned mode = st.st_mode & 07777U;
    if ((mode & 077U) != 0) {
        const char* how = (mode & 044U) != 0 ? "readable" : "accessible";
        fail(Exit::file, fmt::format("{} {} is {} by group/others (mode {:04o}); run chmod 600 {}", what, path, how,
                                     mode, path));
    }
    if (::access(path.c_str(), R_OK) != 0)
        fail(Exit::file, fmt::format("cannot read {} {}: {}", what, path, errno_text(errno)));
}

std::string hex(ConstSpan b) {
    static const char* const digits = "0123456789abcdef";
    std::string s;
    s.reserve(b.size() * 2);
    for (std::uint8_t x : b) {
        s.push_back(digits[x >> 4]);
        s.push_back(digits[x & 0x0f]);
    }
    return s;
}

bool is_printable(ConstSpan b) {
    std::size_t i = 0;
    while (i < b.size()) {
        const std::uint8_t c = b[i];
        if (c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
            ++i;
            continue;
        }
        // A well-formed UTF-8 sequence of 2..4 bytes (no overlong lead bytes).
        std::size_t len = 0;
        if (c >= 0xc2 && c <= 0xdf) len = 2;
        else if (c >= 0xe0 && c <= 0xef) len = 3;
        else if (c >= 0xf0 && c <= 0xf4) len = 4;
        else return false;
        if (i + len > b.size()) return false;
        for (std::size_t k = 1; k < len; ++k)
            if ((b[i + k] & 0xc0) != 0x80) return false;
        i += len;
    }
    return true;
}

std::string printable_or_hex(ConstSpan b) {
    if (is_printable(b)) return std::string(reinterpret_cast<const char*>(b.data()), b.size());
    return "hex:" + hex(b);
}

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string utc_time(std::int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    if (::gmtime_r(&t, &tm) == nullptr) return fmt::format("@{}", unix_seconds);
    char buf[40];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return std::string(buf, n);
}

}  // namespace lockstep::cli
