// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — data sources that front an existing service (see sources.hpp):
//
//   tcp:HOST:PORT   one TCP connection per request. The request is sent as a frame
//                   and one frame is read back as the response; a frame is a
//                   big-endian u32 length then that many bytes. The service closes
//                   or keeps the connection as it likes; we close it after the reply.
//   http://HOST:PORT/PATH   the request body POSTed (Content-Type
//                   application/octet-stream) with libcurl; a 2xx response's body is
//                   the response.
//
// Both give up after the source timeout (--cmd-timeout) and answer a short
// "error: ..." text naming the service and the cause (refused, timed out, HTTP
// status, a reply over max_data), so a device learns why and the server never
// waits longer than the timeout. respond() is thread-safe (no shared state).
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "cli.hpp"
#include "sources.hpp"

namespace lockstep::cli {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

Buf text_buf(const std::string& s) { return Buf(s.begin(), s.end()); }

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

class TcpSource final : public Source {
public:
    TcpSource(std::string host, std::string port, std::size_t max, milliseconds timeout)
        : host_(std::move(host)), port_(std::move(port)), max_(max), timeout_(timeout) {}

    std::string describe() const override { return "tcp:" + host_ + ":" + port_; }

    Buf respond(std::span<const std::uint8_t> request) override {
        const auto deadline = Clock::now() + timeout_;
        std::string why;
        Buf out;
        if (exchange(request, deadline, out, why)) return out;
        return text_buf(fmt::format("error: tcp source {}:{}: {}\n", host_, port_, why));
    }

private:
    struct Sock {
        int fd = -1;
        ~Sock() {
            if (fd >= 0) ::close(fd);
        }
    };

    // Waits for `events` on fd until the deadline; false (and why) on a timeout or error.
    static bool wait(int fd, short events, Clock::time_point deadline, std::string& why) {
        for (;;) {
            pollfd p{fd, events, 0};
            const int n = ::poll(&p, 1, remaining_ms(deadline));
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) why = "timed out";
            if (n < 0) why = std::strerror(errno);
            return n > 0;
        }
    }

    bool exchange(std::span<const std::uint8_t> request, Clock::time_point deadline, Buf& out, std::string& why) {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res) != 0 || res == nullptr) {
            why = "cannot resolve the host";
            return false;
        }
        Sock s;
        s.fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        const int rc = s.fd < 0 ? -1 : ::connect(s.fd, res->ai_addr, res->ai_addrlen);
        ::freeaddrinfo(res);
        if (rc != 0 && errno != EINPROGRESS) {
            why = std::strerror(errno);
            return false;
        }
        if (!wait(s.fd, POLLOUT, deadline, why)) return false;
        int err = 0;
        socklen_t len = sizeof err;
        (void)::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            why = std::strerror(err);  // "Connection refused"
            return false;
        }
        Buf frame(4 + request.size());
        const auto n = static_cast<std::uint32_t>(request.size());
        frame[0] = static_cast<std::uint8_t>(n >> 24);
        frame[1] = static_cast<std::uint8_t>(n >> 16);
        frame[2] = static_cast<std::uint8_t>(n >> 8);
        frame[3] = static_cast<std::uint8_t>(n);
        std::copy(request.begin(), request.end(), frame.begin() + 4);
        for (std::size_t off = 0; off < frame.size();) {
            if (!wait(s.fd, POLLOUT, deadline, why)) return false;
            const ssize_t w = ::send(s.fd, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
            if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (w < 0) {
                why = std::strerror(errno);
                return false;
            }
            off += static_cast<std::size_t>(w);
        }
        std::uint8_t head[4];
        if (!read_exact(s.fd, head, 4, deadline, why)) return false;
        const std::uint32_t rlen = std::uint32_t{head[0]} << 24 | std::uint32_t{head[1]} << 16 |
                                   std::uint32_t{head[2]} << 8 | std::uint32_t{head[3]};
        if (rlen > max_) {  // bounded before any allocation
            why = fmt::format("reply of {} bytes exceeds {} bytes", rlen, max_);
            return false;
        }
        out.assign(rlen, 0);
        return read_exact(s.fd, out.data(), rlen, deadline, why);
    }

    static bool read_exact(int fd, std::uint8_t* p, std::size_t n, Clock::time_point deadline, std::string& why) {
        for (std::size_t got = 0; got < n;) {
            if (!wait(fd, POLLIN, deadline, why)) return false;
            const ssize_t r = ::recv(fd, p + got, n - got, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                why = r == 0 ? "the service closed the connection before a whole reply" : std::strerror(errno);
                return false;
            }
            got += static_cast<std::size_t>(r);
        }
        return true;
    }

    std::string host_, port_;
    std::size_t max_;
    milliseconds timeout_;
};

class HttpSource final : public Source {
public:
    HttpSource(std::string url, std::size_t max, milliseconds timeout)
        : url_(std::move(url)), max_(max), timeout_(timeout) {}

    std::string describe() const override { return url_; }

    Buf respond(std::span<const std::uint8_t> request) override {
        struct Sink {
            Buf body;
            std::size_t max;
            bool too_big = false;
        } sink{{}, max_, false};
        CURL* h = curl_easy_init();
        if (h == nullptr) return text_buf(fmt::format("error: http source {}: cannot start a request\n", url_));
        curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/octet-stream");
        curl_easy_setopt(h, CURLOPT_URL, url_.c_str());
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // we are on a server thread
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, reinterpret_cast<const char*>(request.data()));
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.size()));
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, +[](char* p, size_t, size_t n, void* ud) -> size_t {
            auto* s = static_cast<Sink*>(ud);
            if (s->body.size() + n > s->max) {
                s->too_big = true;
                return 0;  // aborts the transfer
            }
            s->body.insert(s->body.end(), p, p + n);
            return n;
        });
        const CURLcode rc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(headers);
        curl_easy_cleanup(h);
        if (sink.too_big) return text_buf(fmt::format("error: http source {}: reply exceeds {} bytes\n", url_, max_));
        if (rc == CURLE_OPERATION_TIMEDOUT)
            return text_buf(fmt::format("error: http source {}: timed out after {} ms\n", url_, timeout_.count()));
        if (rc != CURLE_OK) return text_buf(fmt::format("error: http source {}: {}\n", url_, curl_easy_strerror(rc)));
        if (status < 200 || status > 299) return text_buf(fmt::format("error: http source {}: HTTP status {}\n", url_, status));
        return std::move(sink.body);
    }

private:
    std::string url_;
    std::size_t max_;
    milliseconds timeout_;
};

}  // namespace

std::unique_ptr<Source> make_tcp_source(const std::string& spec, std::size_t max_data, milliseconds timeout) {
    const std::string rest = spec.substr(4);  // HOST:PORT, [V6]:PORT
    const auto colon = rest.rfind(':');
    std::string host = colon == std::string::npos ? "" : rest.substr(0, colon);
    const std::string port = colon == std::string::npos ? "" : rest.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string::npos)
        fail(Exit::usage, fmt::format("--source tcp:HOST:PORT needs a host and a numeric port (got '{}')", spec));
    return std::make_unique<TcpSource>(host, port, max_data, timeout);
}

std::unique_ptr<Source> make_http_source(const std::string& url, std::size_t max_data, milliseconds timeout) {
    static std::once_flag once;  // before any server thread exists (make_source runs first)
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    if (url.size() <= 7) fail(Exit::usage, "--source http://HOST:PORT/PATH needs a host");
    return std::make_unique<HttpSource>(url, max_data, timeout);
}

}  // namespace lockstep::cli
