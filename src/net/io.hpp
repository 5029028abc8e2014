// SPDX-License-Identifier: Apache-2.0
// lockstep net internals — sockets, addresses and TCP framing, shared by the
// server loops and the clients. Nothing here knows the protocol: it moves whole
// engine messages between an Engine and a socket.
// spec: PROTOCOL.md §6.1 (framing)
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <array>
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

// An address as a map key, built without formatting it: family, port and
// address bytes (IPv6: and the scope id). Equal keys, equal addresses.
struct AddressKey {
    std::array<std::uint64_t, 3> w{};
    bool operator==(const AddressKey&) const noexcept = default;
};
AddressKey key_of(const Address& a) noexcept;
// Seeded once per process (peers choose their addresses, not the table's layout).
struct AddressKeyHash {
    std::size_t operator()(const AddressKey& k) const noexcept;
};

// host:port to an address (numeric or by name). passive: for bind().
Result<Address> resolve(const std::string& host, std::uint16_t port, bool passive);
// A non-blocking, close-on-exec socket; TCP ones get TCP_NODELAY.
Result<Fd> open_socket(int family, Transport t) noexcept;
void set_nodelay(int fd) noexcept;

// Sends every message a client engine has queued, one datagram each; its
// records of epoch >= 1 behind its connection id (frame 0x19, spec §6.9). A
// datagram the socket refuses (full buffer, ICMP error) is lost, as on the
// network; the engine's timers recover. `to` is null on a connected socket.
Status send_datagrams(Engine& e, int fd, const Address* to, std::span<std::uint8_t> scratch) noexcept;

// Engine workspaces for one server loop: page-aligned slots carved from
// anonymous mappings, so a page the engine never touches takes no memory. A
// slot given back (or discarded while its connection idles) returns its pages
// to the system (MADV_DONTNEED: they read as zero when touched again).
class WorkspacePool {
public:
    explicit WorkspacePool(std::size_t bytes);  // bytes per slot
    ~WorkspacePool();
    WorkspacePool(const WorkspacePool&) = delete;
    WorkspacePool& operator=(const WorkspacePool&) = delete;
    std::span<std::uint8_t> take();  // throws std::bad_alloc
    // The last kHot slots given back keep their pages (the engine wiped them),
    // so a churn of short-lived connections (a flood) neither faults pages in
    // nor gives them back (madvise, a TLB shootdown) per connection.
    void give(std::span<std::uint8_t> slot) noexcept;
    void discard(std::span<std::uint8_t> slot) noexcept;  // pages back, slot still in use
    void discard_hot() noexcept;                           // every kept slot's pages back
    static constexpr std::size_t kHot = 16;

private:
    std::size_t slot_;
    std::vector<std::pair<void*, std::size_t>> maps_;
    std::vector<std::uint8_t*> free_, hot_;  // hot_: resident, taken first
};

// One TCP connection's framing buffers: partial frames in, unsent bytes out.
// Neither side copies more than it must: complete frames are handed to the
// engine straight from the caller's read buffer (only a frame split across
// reads is gathered in rx_), and the engine writes its messages directly into
// the output buffer. That buffer is `shared` when given (one per server loop,
// used by one stream at a time between queue_from and write): what the socket
// does not take is moved into the stream's own backlog, so an idle stream holds
// no buffer. Without `shared` the stream's own buffer keeps its size.
class Stream {
public:
    explicit Stream(std::size_t max_message, std::vector<std::uint8_t>* shared = nullptr)
        : max_(max_message), shared_(shared) {}

    // Frames every message the engine has queued into the output buffer.
    // Err::limit_exceeded: the peer has not been reading for too long.
    Status queue_from(Engine& e);
    // Writes what it can; returns the bytes written. Err::closed: the socket failed.
    Result<std::size_t> write(int fd) noexcept;
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
            if (rx_.capacity() > kKeepRx) std::vector<std::uint8_t>().swap(rx_);  // no large buffer while idle
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
    static constexpr std::size_t kKeepRx = 512;
    // The output buffer: the shared one unless a backlog is waiting (or none is shared).
    std::vector<std::uint8_t>& tx() noexcept { return shared_ && !backlog_ ? *shared_ : tx_; }

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
    std::vector<std::uint8_t>* shared_;
    std::vector<std::uint8_t> tx_;  // own buffer / backlog: [tx_off_, tx_len_) of tx() unsent
    std::size_t tx_off_ = 0, tx_len_ = 0;
    bool backlog_ = false;  // with shared_: unsent bytes live in tx_
};

}  // namespace lockstep::net::detail
