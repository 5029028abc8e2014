// SPDX-License-Identifier: Apache-2.0
#include "net/io.hpp"

#include "common/bytes.hpp"
#include "wire/wire.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <random>

namespace lockstep::net {

Now clock_now() noexcept {
    using namespace std::chrono;
    const auto mono = duration_cast<milliseconds>(steady_clock::now().time_since_epoch());
    const auto wall = duration_cast<milliseconds>(system_clock::now().time_since_epoch());
    return Now{Instant{mono}, UnixTime{wall}};
}

Config with_transport_defaults(Config cfg, Transport t) noexcept {
    if (cfg.policy == Policy::transport_default)
        cfg.policy = t == Transport::udp ? Policy::tolerant : Policy::strict;
    if (t != Transport::udp) return cfg;
    if (cfg.timers.resend_timeout == Timers{}.resend_timeout) cfg.timers.resend_timeout = kUdpResendTimeout;
    // A certificate makes the HELLO ACK several times the HELLO: padded, the
    // HELLO earns the server's amplification allowance for it (spec §6.8, §8.6).
    bool cert = false;
    for (std::uint8_t i = 0; i < cfg.modes.count; ++i) cert = cert || mode_uses_cert(cfg.modes.items[i]);
    if (cfg.hello_pad_to == 0 && cert) cfg.hello_pad_to = kUdpHelloPadTo;
    return cfg;
}

namespace detail {

void Fd::reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

std::string Address::str() const {
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(port());
    }
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    std::string s = "[";  // appended, not "[" + ...: GCC 12 -O3 warns (-Wrestrict) on that form
    s += host;
    s += "]:";
    s += std::to_string(port());
    return s;
}

std::uint16_t Address::port() const noexcept {
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
    return 0;
}

AddressKey key_of(const Address& a) noexcept {
    AddressKey k;
    std::uint8_t b[sizeof k.w]{};
    b[0] = static_cast<std::uint8_t>(a.ss.ss_family);
    const std::uint16_t port = a.port();
    b[1] = static_cast<std::uint8_t>(port >> 8);
    b[2] = static_cast<std::uint8_t>(port);
    if (a.ss.ss_family == AF_INET) {
        std::memcpy(b + 4, &reinterpret_cast<const sockaddr_in*>(&a.ss)->sin_addr, 4);
    } else if (a.ss.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.ss);
        std::memcpy(b + 4, &in6->sin6_addr, 16);
        std::memcpy(b + 20, &in6->sin6_scope_id, 4);
    }
    std::memcpy(k.w.data(), b, sizeof b);
    return k;
}

std::size_t AddressKeyHash::operator()(const AddressKey& k) const noexcept {
    static const std::uint64_t seed = []() noexcept -> std::uint64_t {
        try {
            std::random_device rd;
            return std::uint64_t{rd()} << 32 | rd();
        } catch (...) {
            return 0x9e3779b97f4a7c15ULL;  // no entropy source: a fixed seed (as std::hash has)
        }
    }();
    std::uint64_t h = seed;
    for (std::uint64_t x : k.w) {  // multiply-xorshift rounds (splitmix64's finaliser)
        h ^= x;
        h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
        h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
        h ^= h >> 31;
    }
    return static_cast<std::size_t>(h);
}

Result<Address> resolve(const std::string& host, std::uint16_t port, bool passive) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;  // any: only the address is used
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res) != 0 || !res)
        return Err::invalid_argument;
    Address a;
    a.len = static_cast<socklen_t>(std::min<std::size_t>(res->ai_addrlen, sizeof a.ss));
    std::memcpy(&a.ss, res->ai_addr, a.len);
    ::freeaddrinfo(res);
    return a;
}

void set_nodelay(int fd) noexcept {
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

Result<Fd> open_socket(int family, Transport t) noexcept {
    const int type = (t == Transport::tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    Fd fd(::socket(family, type, 0));
    if (!fd) return Err::internal;
    if (t == Transport::tcp) set_nodelay(fd.get());
    return fd;
}

Status send_datagrams(Engine& e, int fd, const Address* to, std::span<std::uint8_t> scratch) noexcept {
    if (scratch.size() <= wire::kCidHeadLen) return Err::buffer_too_small;
    for (;;) {
        auto n = e.poll_transmit(scratch.subspan(wire::kCidHeadLen));
        if (!n) return n.error();
        if (*n == 0) return {};
        std::span<const std::uint8_t> d = scratch.subspan(wire::kCidHeadLen, *n);
        // A client's record of its current application epoch goes behind its
        // connection id, so it still finds its connection from a new address
        // (spec §6.9); handshake frames and epoch 0 records go bare.
        ConnectionId cid[2];
        if (e.epoch() > 0 && d.size() > 1 && d[0] == static_cast<std::uint8_t>(wire::Frame::record) &&
            d[1] == static_cast<std::uint8_t>(e.epoch()) && e.connection_ids(cid) == 1) {
            Writer w(scratch.first(wire::kCidHeadLen));
            wire::encode_cid_head(cid[0], w);
            d = scratch.first(wire::kCidHeadLen + *n);
        }
        // Errors mean the datagram is lost; the engine's timers cover that.
        (void)::sendto(fd, d.data(), d.size(), MSG_NOSIGNAL | MSG_DONTWAIT, to ? to->sa() : nullptr, to ? to->len : 0);
    }
}

WorkspacePool::WorkspacePool(std::size_t bytes) {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    slot_ = (bytes + page - 1) / page * page;
}

WorkspacePool::~WorkspacePool() {
    for (auto& [p, len] : maps_) ::munmap(p, len);
}

std::span<std::uint8_t> WorkspacePool::take() {
    if (!hot_.empty()) {
        std::uint8_t* s = hot_.back();
        hot_.pop_back();
        return {s, slot_};
    }
    if (free_.empty()) {
        // A run of slots per mapping: few mappings (vm.max_map_count), nothing resident yet.
        constexpr std::size_t kSlotsPerMap = 64;
        const std::size_t len = slot_ * kSlotsPerMap;
        void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        maps_.emplace_back(p, len);
        free_.reserve(free_.size() + kSlotsPerMap);
        hot_.reserve(kHot);
        for (std::size_t i = kSlotsPerMap; i-- > 0;) free_.push_back(static_cast<std::uint8_t*>(p) + i * slot_);
    }
    std::uint8_t* s = free_.back();
    free_.pop_back();
    return {s, slot_};
}

void WorkspacePool::discard(std::span<std::uint8_t> slot) noexcept {
    (void)::madvise(slot.data(), slot.size(), MADV_DONTNEED);
}

void WorkspacePool::give(std::span<std::uint8_t> slot) noexcept {
    if (hot_.size() < kHot) return hot_.push_back(slot.data());  // capacity reserved in take()
    discard(slot);
    free_.push_back(slot.data());  // capacity reserved in take(): cannot throw
}

void WorkspacePool::discard_hot() noexcept {
    for (std::uint8_t* s : hot_) {
        discard({s, slot_});
        free_.push_back(s);
    }
    hot_.clear();
}

// The most unsent output a connection may hold: far above what the lock-step
// protocol produces unanswered, so reaching it means the peer stopped reading.
static constexpr std::size_t kMaxBacklogFrames = 8;

Status Stream::queue_from(Engine& e) {
    std::vector<std::uint8_t>& b = tx();
    for (;;) {
        // Room for one more frame of the largest size after what is queued.
        const std::size_t need = tx_len_ + kFrameHeader + max_;
        if (b.size() < need) b.resize(need);
        auto n = e.poll_transmit({b.data() + tx_len_ + kFrameHeader, max_});
        if (!n) return n.error();
        if (*n == 0) break;
        b[tx_len_] = static_cast<std::uint8_t>(*n >> 8);
        b[tx_len_ + 1] = static_cast<std::uint8_t>(*n);
        tx_len_ += kFrameHeader + *n;
    }
    if (tx_len_ - tx_off_ > kMaxBacklogFrames * (kFrameHeader + max_)) return Err::limit_exceeded;
    return {};
}

Result<std::size_t> Stream::write(int fd) noexcept {
    std::vector<std::uint8_t>& b = tx();
    std::size_t written = 0;
    while (tx_off_ < tx_len_) {
        const ssize_t n = ::send(fd, b.data() + tx_off_, tx_len_ - tx_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            tx_off_ += static_cast<std::size_t>(n);
            written += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            return Err::closed;
        }
    }
    if (tx_off_ == tx_len_) {
        tx_off_ = tx_len_ = 0;
        if (backlog_) {
            backlog_ = false;
            std::vector<std::uint8_t>().swap(tx_);  // an idle stream holds no buffer
        }
        return written;
    }
    if (shared_ && !backlog_) {  // the shared buffer is the next stream's: keep the rest here
        try {
            tx_.assign(b.begin() + static_cast<std::ptrdiff_t>(tx_off_), b.begin() + static_cast<std::ptrdiff_t>(tx_len_));
        } catch (...) {
            return Err::closed;
        }
        tx_len_ -= tx_off_;
        tx_off_ = 0;
        backlog_ = true;
    }
    return written;
}

}  // namespace detail
}  // namespace lockstep::net
