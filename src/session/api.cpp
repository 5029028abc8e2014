// SPDX-License-Identifier: Apache-2.0
// lockstep — the public Engine: opaque storage holding a Conn (conn.hpp);
// every call forwards to it. spec: PROTOCOL.md §10
#include <new>

#include "session/conn.hpp"

namespace lockstep {

Engine::Engine(const Config& cfg, std::span<std::uint8_t> workspace) noexcept {
    new (storage_) Conn(cfg, workspace);
}

Engine::~Engine() {
    Conn::of(*this).~Conn();
    secure_wipe(storage_, sizeof storage_);
}

void Engine::set_tracer(Tracer* t) noexcept { Conn::of(*this).tracer_ = t; }
Status Engine::start(Now now) noexcept { return Conn::of(*this).start(now); }
Status Engine::receive(std::span<const std::uint8_t> message, Now now) noexcept {
    return Conn::of(*this).receive(message, now);
}
Status Engine::on_timeout(Now now) noexcept { return Conn::of(*this).on_timeout(now); }
Status Engine::send_request(std::span<const std::uint8_t> body, Now now) noexcept {
    return Conn::of(*this).send_request(body, now);
}
Status Engine::send_response(std::span<const std::uint8_t> body, Now now) noexcept {
    return Conn::of(*this).send_response(body, now);
}
Status Engine::close(Now now, Reason reason) noexcept { return Conn::of(*this).close(now, reason); }
Result<std::size_t> Engine::poll_transmit(std::span<std::uint8_t> out) noexcept {
    return Conn::of(*this).poll_transmit(out);
}
bool Engine::poll_event(Event& ev) noexcept { return Conn::of(*this).poll_event(ev); }
std::optional<Instant> Engine::next_deadline() const noexcept { return Conn::of(*this).next_deadline(); }

State Engine::state() const noexcept { return Conn::of(*this).state_; }
bool Engine::established() const noexcept { return Conn::of(*this).established(); }
bool Engine::is_closed() const noexcept { return Conn::of(*this).state_ == State::closed; }
bool Engine::can_send_request() const noexcept { return Conn::of(*this).can_send_request(); }
std::uint32_t Engine::epoch() const noexcept { return Conn::of(*this).epoch_; }
Mode Engine::mode() const noexcept { return Conn::of(*this).mode_; }
Suite Engine::suite() const noexcept { return Conn::of(*this).suite_; }
std::span<const std::uint8_t> Engine::peer_subject() const noexcept {
    const Conn& c = Conn::of(*this);
    return {c.peer_subject_, c.peer_subject_len_};
}
const Stats& Engine::stats() const noexcept { return Conn::of(*this).stats_; }
Err Engine::last_error() const noexcept { return Conn::of(*this).fatal_; }
Err Engine::last_drop() const noexcept { return Conn::of(*this).last_drop_; }
std::size_t Engine::live_workspace(std::span<WorkspaceRange, kLiveRanges> out) const noexcept {
    return Conn::of(*this).live_workspace(out);
}
void Engine::set_address_validated() noexcept { Conn::of(*this).address_validated_ = true; }
bool Engine::address_validated() const noexcept { return Conn::of(*this).address_validated_; }
std::size_t Engine::connection_ids(std::span<ConnectionId, 2> out) const noexcept {
    return Conn::of(*this).connection_ids(out);
}
Status Engine::receive_moved(std::span<const std::uint8_t> message, Now now, bool& moved) noexcept {
    return Conn::of(*this).receive_moved(message, now, moved);
}

}  // namespace lockstep
