// SPDX-License-Identifier: Apache-2.0
// lockstep net internals — sockets, addresses and TCP framing, shared by the
// server loops and the clients. Nothing here knows the protocol: it moves whole
// engine messages between an Engine and a socket.
// spec: PROTOCOL.md §6.1 (framing)
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
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
// Neither side copies more than it must: complete frames are handed to the
// engine straight from the caller's read buffer (only a frame split across
// reads is gathered in rx_), and the engine writes its messages directly into
// tx_, which keeps its size between writes so it is zero-filled only once.
class Stream {
public:
    explicit Stream(std::size_t max_message) : max_(max_message) {}

    // Frames every message the engine has queued into the output buffer.
    // Err::limit_exceeded: the peer has not been reading for too long.
    Status queue_from(Engine& e);
    // Writes what it can. Err::closed: the socket failed.
    Status write(int fd) noexcept;
    bool pending() const noexcept { return tx_off_ < tx_len_; }

    // Hands each complete frame in (what is buffered from earlier calls, then)
    // `in` to on_message(span) until it returns false; the span is valid during
    // the call only. A trailing partial frame is kept for the next call. After
    // on_message returned false the rest of `in` is dropped: the caller is done
    // with the stream. Err::too_long: a frame over the maximum.
    template <class F>
    Status consume(std::span<const std::uint8_t> in, F&& on_message) {
        // A frame begun in an earlier read: complete it from the front of `in`.
        while (!rx_.empty()) {
            const std::size_t take = std::min(rx_missing(), in.size());
            rx_.insert(rx_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(take));
            in = in.subspan(take);
            if (rx_.size() >= kFrameHeader && frame_len(rx_.data()) > max_) return Err::too_long;
            if (rx_missing() != 0) {
                if (in.empty()) return {};
                continue;  // the header just completed: now the body
            }
            const bool more = on_message(std::span<const std::uint8_t>(rx_).subspan(kFrameHeader));
            rx_.clear();
            if (!more) return {};
        }
        while (in.size() >= kFrameHeader) {
            const std::size_t len = frame_len(in.data());
            if (len > max_) return Err::too_long;
            if (in.size() - kFrameHeader < len) break;
            const bool more = on_message(in.subspan(kFrameHeader, len));
            in = in.subspan(kFrameHeader + len);
            if (!more) return {};
        }
        rx_.assign(in.begin(), in.end());
        return {};
    }

private:
    static std::size_t frame_len(const std::uint8_t* header) noexcept {
        return std::size_t{header[0]} << 8 | header[1];
    }
    // Bytes the buffered partial frame still lacks (counting to the end of its
    // header while that is incomplete).
    std::size_t rx_missing() const noexcept {
        if (rx_.size() < kFrameHeader) return kFrameHeader - rx_.size();
        return kFrameHeader + frame_len(rx_.data()) - rx_.size();
    }

    std::size_t max_;
    std::vector<std::uint8_t> rx_;  // a partial frame (header included), else empty
    std::vector<std::uint8_t> tx_;  // [tx_off_, tx_len_) unsent; the size is only ever grown
    std::size_t tx_off_ = 0, tx_len_ = 0;
};

}  // namespace lockstep::net::detail
