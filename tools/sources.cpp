// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — data sources (see sources.hpp).
#include "sources.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "cli.hpp"

namespace lockstep::cli {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::string_view as_text(std::span<const std::uint8_t> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}
Buf text_buf(std::string_view s) { return Buf(s.begin(), s.end()); }

// Parses a whole decimal int; false on anything else.
bool parse_int(std::string_view s, int& out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

// ---------------------------------------------------------------- sensor
// A deterministic random walk (fixed seed): temperature in 0.01 °C steps of at
// most 0.10, humidity in 0.1 % steps of at most 0.5. One new reading per request;
// the history is pre-filled with one reading per second before start.
class SensorSource final : public Source {
public:
    explicit SensorSource(int m) : default_m_(m) {
        const std::int64_t now = unix_ms();
        for (int i = kSensorMaxReadings; i > 0; --i) take(now - std::int64_t{i} * 1000);
    }

    Buf respond(std::span<const std::uint8_t> request) override {
        int m = default_m_;
        std::string_view body = as_text(request);
        while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' ')) body.remove_suffix(1);
        if (!body.empty()) {
            if (body.rfind("m=", 0) != 0 || !parse_int(body.substr(2), m))
                return text_buf("error: unknown request; send an empty body or m=<k> (1..100)\n");
            m = std::clamp(m, 1, kSensorMaxReadings);
        }
        std::lock_guard<std::mutex> lock(mu_);
        take(std::max(unix_ms(), history_.back().t_ms + 1));
        std::string out;
        const std::size_t n = static_cast<std::size_t>(m);
        for (auto it = history_.end() - static_cast<std::ptrdiff_t>(n); it != history_.end(); ++it) {
            const int ta = std::abs(it->temp_centi);
            out += fmt::format("t={} temp={}{}.{:02d} hum={}.{}\n", it->t_ms, it->temp_centi < 0 ? "-" : "", ta / 100,
                               ta % 100, it->hum_deci / 10, it->hum_deci % 10);
        }
        return text_buf(out);
    }

    std::string describe() const override { return fmt::format("simulated sensor (last {} readings)", default_m_); }

private:
    struct Reading {
        std::int64_t t_ms;
        int temp_centi;  // 0.01 °C
        int hum_deci;    // 0.1 %
    };
    void take(std::int64_t t_ms) {
        temp_ += static_cast<int>(rng_() % 21) - 10;
        hum_ += static_cast<int>(rng_() % 11) - 5;
        temp_ = std::clamp(temp_, -4000, 8500);
        hum_ = std::clamp(hum_, 0, 1000);
        history_.push_back(Reading{t_ms, temp_, hum_});
        while (history_.size() > static_cast<std::size_t>(kSensorMaxReadings)) history_.pop_front();
    }

    const int default_m_;
    std::mutex mu_;
    std::deque<Reading> history_;
    std::mt19937 rng_{20'240'611};  // fixed: the same walk every run
    int temp_ = 2150, hum_ = 450;
};

// ---------------------------------------------------------------- file
class FileSource final : public Source {
public:
    FileSource(std::string path, std::size_t max) : path_(std::move(path)), max_(max) {}
    Buf respond(std::span<const std::uint8_t>) override {
        const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) return text_buf("error: cannot read the data file\n");
        Buf out(max_);
        std::size_t done = 0;
        while (done < max_) {
            const ssize_t n = ::read(fd, out.data() + done, max_ - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        ::close(fd);
        out.resize(done);
        return out;
    }
    std::string describe() const override { return fmt::format("file {}", path_); }

private:
    std::string path_;
    std::size_t max_;
};

// ---------------------------------------------------------------- command
class CmdSource final : public Source {
public:
    CmdSource(std::string cmd, std::size_t max, milliseconds timeout)
        : cmd_(std::move(cmd)), max_(max), timeout_(timeout) {}
    Buf respond(std::span<const std::uint8_t> request) override;
    std::string describe() const override { return fmt::format("command `{}` (timeout {} ms)", cmd_, timeout_.count()); }

private:
    std::string cmd_;
    std::size_t max_;
    milliseconds timeout_;
};

struct Pipe {
    int fd[2] = {-1, -1};
    ~Pipe() { close_both(); }
    void close_end(int i) {
        if (fd[i] >= 0) ::close(fd[i]);
        fd[i] = -1;
    }
    void close_both() {
        close_end(0);
        close_end(1);
    }
};

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<std::int64_t>(left, 0, 60'000));
}

Buf CmdSource::respond(std::span<const std::uint8_t> request) {
    Pipe in, out;
    if (::pipe2(in.fd, O_CLOEXEC) != 0 || ::pipe2(out.fd, O_CLOEXEC) != 0) return text_buf("error: cannot run the command\n");

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in.fd[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out.fd[1], STDOUT_FILENO);
    // Own process group (so a timeout kills the whole pipeline), default signal
    // dispositions (we ignore SIGPIPE; the command should not), nothing blocked.
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    std::string sh = "sh", dash_c = "-c", cmd = cmd_;
    char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return text_buf("error: cannot run the command\n");
    in.close_end(0);
    out.close_end(1);
    ::fcntl(in.fd[1], F_SETFL, O_NONBLOCK);
    ::fcntl(out.fd[0], F_SETFL, O_NONBLOCK);

    const auto deadline = Clock::now() + timeout_;
    Buf result;
    std::size_t written = 0;
    bool timed_out = false, too_big = false;
    if (request.empty()) in.close_end(1);
    while (out.fd[0] >= 0) {
        pollfd p[2] = {{out.fd[0], POLLIN, 0}, {in.fd[1], POLLOUT, 0}};
        const nfds_t n = in.fd[1] >= 0 ? 2 : 1;
        const int wait = remaining_ms(deadline);
        if (wait == 0) {
            timed_out = true;
            break;
        }
        if (::poll(p, n, wait) < 0 && errno != EINTR) break;
        if (n == 2 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
            const ssize_t w = ::write(in.fd[1], request.data() + written, request.size() - written);
            if (w > 0) written += static_cast<std::size_t>(w);
            if (w < 0 && errno != EAGAIN && errno != EINTR) written = request.size();  // it stopped reading: fine
            if (written == request.size()) in.close_end(1);
        }
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            std::uint8_t buf[4096];
            const ssize_t r = ::read(out.fd[0], buf, sizeof buf);
            if (r == 0) break;  // EOF
            if (r < 0 && errno != EAGAIN && errno != EINTR) break;
            if (r > 0) {
                result.insert(result.end(), buf, buf + r);
                if (result.size() > max_) {
                    too_big = true;
                    break;
                }
            }
        }
    }
    in.close_both();
    out.close_both();

    // Wait (bounded) for the command to exit without reaping it, so its process
    // group id stays ours while we kill whatever it left running.
    siginfo_t info{};
    for (;;) {
        info.si_pid = 0;
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != 0) break;
        if (timed_out || too_big || remaining_ms(deadline) == 0) {
            timed_out = timed_out || !too_big;
            break;
        }
        std::this_thread::sleep_for(milliseconds(5));
    }
    ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }

    if (timed_out) return text_buf(fmt::format("error: command timed out after {} ms\n", timeout_.count()));
    if (too_big) return text_buf(fmt::format("error: command output exceeds {} bytes\n", max_));
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return text_buf(fmt::format("error: command exited with status {}\n", WEXITSTATUS(status)));
    if (WIFSIGNALED(status)) return text_buf(fmt::format("error: command killed by signal {}\n", WTERMSIG(status)));
    return result;
}

}  // namespace

std::unique_ptr<Source> make_source(const std::string& spec, std::size_t max_data, milliseconds cmd_timeout) {
    if (spec == "sensor") return std::make_unique<SensorSource>(kSensorDefaultReadings);
    if (spec.rfind("sensor:", 0) == 0) {
        int m = 0;
        if (!parse_int(std::string_view(spec).substr(7), m) || m < 1 || m > kSensorMaxReadings)
            fail(Exit::usage, fmt::format("--source sensor:m needs m in 1..{} (got '{}')", kSensorMaxReadings, spec));
        return std::make_unique<SensorSource>(m);
    }
    if (spec.rfind("file:", 0) == 0) {
        const std::string path = spec.substr(5);
        if (path.empty()) fail(Exit::usage, "--source file:PATH needs a path");
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) fail(Exit::file, fmt::format("data file {} cannot be read: {}", path, std::strerror(errno)));
        ::close(fd);
        return std::make_unique<FileSource>(path, max_data);
    }
    if (spec.rfind("cmd:", 0) == 0) {
        if (spec.size() == 4) fail(Exit::usage, "--source cmd:COMMAND needs a command");
        if (cmd_timeout.count() <= 0) fail(Exit::usage, "--cmd-timeout must be positive");
        return std::make_unique<CmdSource>(spec.substr(4), max_data, cmd_timeout);
    }
    if (spec.rfind("tcp:", 0) == 0 || spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0) {
        if (cmd_timeout.count() <= 0) fail(Exit::usage, "--cmd-timeout must be positive");
        return spec[0] == 't' ? make_tcp_source(spec, max_data, cmd_timeout)
                              : make_http_source(spec, max_data, cmd_timeout);
    }
    fail(Exit::usage, fmt::format(
                          "unknown --source '{}' (sensor[:m], file:PATH, cmd:COMMAND, tcp:HOST:PORT, http://HOST:PORT/PATH)",
                          spec));
}

}  // namespace lockstep::cli
