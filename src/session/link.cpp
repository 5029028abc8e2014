// SPDX-License-Identifier: Apache-2.0
// lockstep — the services the handshake layer asks of a connection
// (handshake/link.hpp), defined by the session layer's Conn, the one class
// derived from handshake::Link.
#include "session/conn.hpp"

namespace lockstep::handshake {
namespace {
Conn& conn(Link& l) noexcept { return static_cast<Conn&>(l); }
}  // namespace

Status Link::fail(Err err, const Now& now) noexcept { return Conn::fail(conn(*this), err, now); }
std::uint8_t* Link::new_slot() noexcept { return Conn::keep_slot(conn(*this)).buf; }
Status Link::send_kept(const wire::Inner& meta, std::size_t len, std::uint32_t nonce, bool awaits,
                       const Now& now) noexcept {
    return Conn::send_raw(conn(*this), meta, len, nonce, awaits, now);
}
wire::Inner Link::next_inner(MsgType t, const Now& now) noexcept { return Conn::next_inner(conn(*this), t, now); }
std::uint32_t Link::make_ttl(const Now& now) noexcept { return Conn::make_ttl(conn(*this), now); }
Status Link::check_ttl(std::uint32_t ttl, const Now& now) noexcept { return Conn::check_ttl(conn(*this), ttl, now); }
void Link::accept_rx(std::uint32_t seq, MsgType t, std::uint32_t nonce) noexcept { conn(*this).commit_rx(seq, t, nonce); }
void Link::push_event(const Event& ev) noexcept { Conn::push_event(conn(*this), ev); }
// The receive buffer: scratch() serves the clear HELLO ACK, which arrives as a
// frame, never inside a record, so no plaintext of rx_ is live meanwhile.
Bytes Link::scratch() noexcept { return {conn(*this).rx_, inner_cap_}; }
Status Link::serve_stashed(const Now& now) noexcept { return Conn::process_stash(conn(*this), now); }
void Link::trace_in(const wire::Inner& m, std::size_t wire_len) noexcept {
    Conn::trace(conn(*this), false, m, wire_len, false);
}

}  // namespace lockstep::handshake
