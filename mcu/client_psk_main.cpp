// SPDX-License-Identifier: Apache-2.0
// Size image (b): a device that is only a CLIENT and only uses PSK mode, on
// the engine built with the client+psk switches (lockstep/features.hpp: no
// server role, no cert modes, no tracer, no key log). main drives one client
// engine through the whole API (start, receive, timeouts, requests, events,
// close). There is no server in this image, so the run on qemu shows the
// client's first steps: HELLO out, then the scripted replies of
// client_psk_transport.cpp (a malformed HELLO ACK, dropped under the tolerant
// policy; a clear CLOSE, which ends the attempt). A full exchange runs in the
// everything image (tests/mcu/sim_main.cpp).
// Provider: the INSECURE deterministic test provider (no crypto library here).
#include <new>

#include "crypto/providers/insecure_test/insecure_test_provider.hpp"
#include "lockstep/engine.hpp"
#include "semihost.hpp"

namespace mcu {
void transport_send(const std::uint8_t* msg, std::size_t len) noexcept;
std::size_t transport_recv(std::uint8_t* buf, std::size_t cap) noexcept;
extern std::size_t g_tx_messages, g_tx_bytes, g_rx_messages;
}  // namespace mcu

namespace {
using namespace lockstep;
constexpr std::uint16_t kMaxData = 256;
alignas(8) std::uint8_t g_ws[Engine::workspace_size(kMaxData)];
// The client + psk RAM target (docs/FOOTPRINT.md, Targets): state + workspace within 4 KiB.
static_assert(Engine::kStateSize + Engine::workspace_size(kMaxData) <= 4096, "client + psk RAM target");
alignas(8) std::uint8_t g_msg[Engine::max_message_size(kMaxData)];
alignas(Engine) std::uint8_t g_engine_mem[sizeof(Engine)];
const std::uint8_t kPsk[32] = {0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                               0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                               0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a};
const std::uint8_t kPskId[] = {'d', 'e', 'v', '-', '1'};

Now now_at(std::int64_t t) {
    return Now{Instant{std::chrono::milliseconds(t)}, UnixTime{std::chrono::milliseconds(1'800'000'000'000 + t)}};
}
}  // namespace

int main() {
    crypto::insecure::InsecureTestProvider provider(1);
    Config cfg;
    cfg.role = Role::client;
    cfg.provider = &provider;
    cfg.modes = {Mode::psk};
    cfg.psk = kPsk;
    cfg.psk_id = kPskId;
    cfg.max_data = kMaxData;
    cfg.policy = Policy::tolerant;  // a datagram radio: forged or broken handshake frames are dropped
    Engine& e = *new (g_engine_mem) Engine(cfg, g_ws);

    std::int64_t t = 0;
    int responses = 0;
    bool dropped_bad_reply = false;
    Event closed{};
    std::uint8_t body[16] = {1, 2, 3};
    if (!e.start(now_at(t))) mcu::fatal("start failed");
    for (int step = 0; step < 1000 && !e.is_closed(); ++step) {
        t += 100;
        for (;;) {
            auto n = e.poll_transmit(g_msg);
            if (!n || *n == 0) break;
            mcu::transport_send(g_msg, *n);
        }
        if (std::size_t n = mcu::transport_recv(g_msg, sizeof g_msg)) {
            (void)e.receive({g_msg, n}, now_at(t));
            if (mcu::g_rx_messages == 1) dropped_bad_reply = e.state() == State::wait_hello_ack;
        }
        if (auto d = e.next_deadline(); d && now_at(t).mono >= *d) (void)e.on_timeout(now_at(t));
        Event ev;
        while (e.poll_event(ev))
            if (ev.kind == EventKind::response) ++responses;
            else if (ev.kind == EventKind::closed) closed = ev;
        if (e.can_send_request() && responses < 12) (void)e.send_request(body, now_at(t));
        if (responses >= 12) (void)e.close(now_at(t));
    }
    mcu::Line line;
    line.s("lockstep mcu client-psk image: sent ").u(static_cast<std::uint32_t>(mcu::g_tx_messages))
        .s(" message(s), ").u(static_cast<std::uint32_t>(mcu::g_tx_bytes)).s(" bytes; scripted replies: ")
        .u(static_cast<std::uint32_t>(mcu::g_rx_messages)).s(", malformed HELLO ACK ")
        .s(dropped_bad_reply ? "dropped" : "NOT dropped").s(", clear CLOSE(reason ").u(static_cast<std::uint32_t>(closed.reason))
        .s(closed.by_peer ? ") from the peer" : ") not from the peer").s(e.is_closed() ? "; closed" : "; NOT closed")
        .print();  // numbers, not names: the name tables would count as engine text
    const bool ok = mcu::g_tx_messages == 1 && mcu::g_rx_messages == 2 && dropped_bad_reply && e.is_closed() &&
                    closed.by_peer && closed.reason == Reason::no_common_parameters;
    e.~Engine();
    return ok ? 0 : 1;
}
