// lockstep net internals — sockets, addresses and TCP framing, shared by the
// server loops and the clients. Nothing here knows the protocol: it moves whole
// engine messages between an Engine and a socket.
// spec: PROTOCOL.md §6.1 (framing)
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lockstep/net.hpp"

namespace lockstep::net::detail {

// An owned file descriptor, closed on destruction.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    void reset() noexcept;

private:
    int fd_ = -1;
};

struct Address {
    sockaddr_storage ss{};
    socklen_t len = 0;
    const sockaddr* sa() const noexcept { return reinterpret_cast<const sockaddr*>(&ss); }
    std::string str() const;  // "127.0.0.1:40123", "[::1]:40123"
    std::uint16_t port() const noexcept;
};

// host:port to an address (numeric or by name). passive: for bind().
Result<Address> resolve(const std::string& host, std::uint16_t port, bool passive);
// A non-blocking, close-on-exec socket; TCP ones get TCP_NODELAY.
Result<Fd> open_socket(int family, Transport t) noexcept;
void set_nodelay(int fd) noexcept;

// Sends every message the engine has queued, one datagram each. A datagram the
// socket refuses (full buffer, ICMP error) is lost, as on the network; the
// engine's timers recover. `to` is null on a connected socket.
Status send_datagrams(Engine& e, int fd, const Address* to, std::span<std::uint8_t> scratch) noexcept;

// One TCP connection's framing buffers: partial frames in, unsent bytes out.
class Stream {
public:
    explicit Stream(std::size_t max_message) : max_(max_message) {}

    // Frames every message the engine has queued into the output buffer.
    // Err::limit_exceeded: the peer has not been reading for too long.
    Status queue_from(Engine& e);
    // Writes what it can. Err::closed: the socket failed.
    Status write(int fd) noexcept;
    bool pending() const noexcept { return tx_off_ < tx_.size(); }

    // Appends received bytes and hands each complete frame to on_message(span)
    // until it returns false. Err::too_long: a frame over the maximum.
    template <class F>
    Status consume(std::span<const std::uint8_t> in, F&& on_message) {
        rx_.insert(rx_.end(), in.begin(), in.end());
        std::size_t off = 0;
        Status st;
        while (rx_.size() - off >= kFrameHeader) {
            const std::size_t len = std::size_t{rx_[off]} << 8 | rx_[off + 1];
            if (len > max_) {
                st = Err::too_long;
                break;
            }
            if (rx_.size() - off - kFrameHeader < len) break;
            const bool more = on_message(std::span<const std::uint8_t>(rx_.data() + off + kFrameHeader, len));
            off += kFrameHeader + len;
            if (!more) break;
        }
        rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(off));
        return st;
    }

private:
    std::size_t max_;
    std::vector<std::uint8_t> rx_, tx_;
    std::size_t tx_off_ = 0;
};

}  // namespace lockstep::net::detail
