// SPDX-License-Identifier: Apache-2.0
// The server loop's datagram side (loop.hpp): batched receive, the lookup by
// connection id or address, roaming moves (spec §6.9), strangers and their
// stateless cookies (spec §6.8), and the batched outbox.
#include <cerrno>

#include "net/loop.hpp"
#include "wire/wire.hpp"

namespace lockstep::net::detail {

// Batches of datagrams (recvmmsg) until a batch comes back short.
void Loop::receive_datagrams(Now now) {
    // At most kDatagramsPerWake per wake-up: a flood must not starve TCP
    // and the timers (level-triggered: the rest wakes epoll_wait again).
    for (int taken = 0; taken < kDatagramsPerWake;) {
        for (auto& h : in_hdr_) h.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        const int got = ::recvmmsg(udp_.get(), in_hdr_.data(), kDatagramBatch, MSG_DONTWAIT, nullptr);
        if (got < 0 && errno == EINTR) continue;
        for (int i = 0; i < got; ++i) {
            const mmsghdr& h = in_hdr_[static_cast<std::size_t>(i)];
            Address& from = in_from_[static_cast<std::size_t>(i)];
            s_.tally.received(Transport::udp, h.msg_len);
            from.len = h.msg_hdr.msg_namelen;
            on_datagram({static_cast<const std::uint8_t*>(h.msg_hdr.msg_iov->iov_base), h.msg_len}, from, now);
        }
        if (got < static_cast<int>(kDatagramBatch)) return;
        taken += got;
    }
}

// A record behind a connection id finds its connection by the id, from
// any address; anything else (or an id we do not know) by the address.
// Only a record that opens moves a connection to a new address. spec §6.9
void Loop::on_datagram(std::span<const std::uint8_t> msg, const Address& from, Now now) {
    // The address as a key, not as text: formatted only for what keeps it
    // (a new connection, a move) and for log lines.
    const AddressKey key = key_of(from);
    Conn* found = nullptr;
    if (!msg.empty() && msg[0] == static_cast<std::uint8_t>(wire::Frame::cid_record)) {
        auto r = wire::decode_cid_record(msg);
        if (!r) return dropped(from, err_name(r.error()), now);
        msg = r->record;
        if (auto id = cids_.find(r->cid)) found = conns_.at(*id).get();
    }
    if (found == nullptr)
        if (auto it = udp_peers_.find(key); it != udp_peers_.end()) found = conns_.at(it->second).get();
    if (found == nullptr) {
        if (!stopping_) from_stranger(msg, from, key, now);
        return;
    }
    Conn& c = wake(*found, now);
    const std::uint64_t dropped_before = c.engine.stats().dropped;
    bool moved = false;
    if (key == key_of(c.peer)) (void)c.engine.receive(msg, now);
    else (void)c.engine.receive_moved(msg, now, moved);
    if (c.engine.stats().dropped != dropped_before)  // unauthenticated: no effect, but say why (spec §8.6)
        dropped(from, err_name(c.engine.last_drop()), now);
    if (moved) move(c, from, key);
    pump(c, now);
    settle(c);
}

// A log line for a datagram dropped from a connection's address (none built without a log).
void Loop::dropped(const Address& from, const char* why, Now now) {
    if (!s_.opts.log) return;
    log(log_drops_, "udp " + from.str() + ": dropped a datagram (" + why + ")", now);
}

// The client's address changed (a record from the new one opened): send there from now on.
void Loop::move(Conn& c, const Address& to, const AddressKey& key) {
    if (auto it = udp_peers_.find(key_of(c.peer)); it != udp_peers_.end() && it->second == c.id) udp_peers_.erase(it);
    c.address = to.str();
    c.peer = to;
    udp_peers_[key] = c.id;  // the address's newest connection takes its bare datagrams
    ++s_.moved;
}

// Only a HELLO (bare or behind a cookie, spec §6.8) can open a UDP
// connection; anything else from a stranger, or a HELLO that does not
// decode, is dropped and leaves nothing behind.
void Loop::from_stranger(std::span<const std::uint8_t> msg, const Address& from, const AddressKey& key, Now now) {
    auto dropped = [&](const char* why) {
        if (!s_.opts.log) return;  // (no string built per dropped datagram)
        log(log_drops_, "udp " + from.str() + ": dropped a datagram from an unknown address (" + why + ")", now);
    };
    if (msg.empty()) return dropped("empty");
    std::span<const std::uint8_t> hello = msg, cookie;
    if (msg[0] == static_cast<std::uint8_t>(wire::Frame::cookie_hello)) {
        auto env = wire::decode_cookie_hello(msg);
        if (!env) return dropped(err_name(env.error()));
        hello = env->hello;
        cookie = env->cookie;
    } else if (msg[0] != static_cast<std::uint8_t>(wire::Frame::hello)) {
        return dropped("not a HELLO");
    }
    auto h = wire::decode_hello(hello);
    if (!h) return dropped(err_name(h.error()));
    // Every step that costs more than this is paid by the sender's prefix.
    const PrefixKey p = prefix(from);
    bool proved = false;
    if (!cookie.empty()) {
        if (!strangers_.take(p, kCookieCost, now.mono)) return dropped("its prefix is over its rate");
        proved = cookies_.verify(from, hello, cookie, now.mono);
    }
    const std::size_t threshold = s_.opts.cookie_threshold;
    const bool busy = threshold == 0 ||
                      (threshold != SIZE_MAX && (s_.half_open[index(Transport::udp)].load() >= threshold ||
                                                 budget_.size(p) >= std::max<std::size_t>(1, threshold / kPrefixCookieShare)));
    if (!proved && (busy || too_small_for_certificate(*h, msg.size())))
        return send_cookie(from, p, hello, h->seq, now);
    if (!strangers_.take(p, kConnectionCost, now.mono)) return dropped("its prefix is over its rate");
    if (!admit(Transport::udp, p, now)) return;
    const std::uint64_t id = next_id_++;
    budget_.add(id, Transport::udp, p, proved ? HalfOpenBudget::proved : HalfOpenBudget::unproved);
    ++s_.accepted;
    Conn& c = add(Transport::udp, id, from.str(), p, now);
    c.peer = from;
    udp_peers_.emplace(key, c.id);
    if (proved) c.engine.set_address_validated();
    (void)c.engine.receive(msg, now);
    if (!proved && c.engine.stats().amplification_held > 0 && c.engine.state() == State::wait_ack) {
        // Its HELLO ACK would send more than 3x what this address sent:
        // ask it to prove the address first, and keep nothing.
        send_cookie(from, p, hello, h->seq, now);
        c.dead = true;
        return settle(c);
    }
    pump(c, now);
    settle(c);
}

// The mode the engine would choose (the client's first that we accept) puts
// our certificate in the HELLO ACK, and 3x the datagram's bytes cannot pay for
// it (spec §8.6): the engine would hold its answer back after the public-key
// work, so the COOKIE goes first.
bool Loop::too_small_for_certificate(const wire::Hello& h, std::size_t received) const noexcept {
    for (std::uint8_t i = 0; i < h.modes.n; ++i) {
        const auto m = static_cast<Mode>(h.modes.v[i]);
        if (cfg_udp_.modes.contains(m))
            return mode_uses_cert(m) && std::size_t{kAmplificationLimit} * received < cfg_udp_.certificate.size();
    }
    return false;
}

void Loop::send_cookie(const Address& to, const PrefixKey& p, std::span<const std::uint8_t> hello, std::uint32_t c0,
                       Now now) {
    if (!strangers_.take(p, kCookieCost, now.mono)) {
        if (s_.opts.log) log(log_drops_, "udp " + to.str() + ": dropped a HELLO (its prefix is over its rate)", now);
        return;
    }
    auto cookie = cookies_.make(to, hello, now.mono);
    if (!cookie) return;
    std::uint8_t out[1 + 4 + 1 + CookieJar::kLen];
    Writer w(out);
    wire::encode_cookie({c0, *cookie}, w);
    if (!w.ok()) return;
    if (::sendto(udp_.get(), out, w.size(), MSG_DONTWAIT, to.sa(), to.len) > 0) s_.tally.sent(Transport::udp, w.size());
    ++s_.cookies;
}

// ------------------------------------------------------------ UDP output
// Every message the engine queued, into the loop's outbox (sent by flush_datagrams).
void Loop::queue_datagrams(Conn& c) {
    const std::size_t max = Engine::max_message_size(cfg_udp_.max_data);
    for (;;) {
        if (out_used_ + max > out_.size() || out_n_ == kOutboxDatagrams) flush_datagrams();
        auto n = c.engine.poll_transmit({out_.data() + out_used_, max});
        if (!n || *n == 0) return;
        out_iov_[out_n_] = {out_.data() + out_used_, *n};
        out_to_[out_n_] = c.peer;
        msghdr& h = out_hdr_[out_n_].msg_hdr;
        h.msg_name = &out_to_[out_n_].ss;
        h.msg_namelen = c.peer.len;
        h.msg_iov = &out_iov_[out_n_];
        h.msg_iovlen = 1;
        out_used_ += *n;
        ++out_n_;
    }
}

// Sends the outbox (sendmmsg). A datagram the socket refuses is lost, as on
// the network; the engines' timers recover.
void Loop::flush_datagrams() noexcept {
    auto& hdr = out_hdr_;  // filled by queue_datagrams
    std::size_t i = 0;
    while (i < out_n_) {
        const int n = ::sendmmsg(udp_.get(), hdr.data() + i, static_cast<unsigned>(out_n_ - i), MSG_NOSIGNAL);
        for (int k = 0; k < n; ++k) s_.tally.sent(Transport::udp, hdr[i + static_cast<std::size_t>(k)].msg_len);
        if (n > 0) i += static_cast<std::size_t>(n);
        else if (n < 0 && errno == EINTR) continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        else ++i;  // this one failed (ICMP error, ...): lost
    }
    out_used_ = out_n_ = 0;
}

}  // namespace lockstep::net::detail
