// Size image (b): a device that is only a CLIENT and only uses PSK mode. main
// drives one client engine through the whole API (start, receive, timeouts,
// requests, events, close); the server role and cert mode are never configured,
// so --gc-sections drops whatever of them is unreferenced. What remains is
// what the engine's structure forces in (see docs/FOOTPRINT.md).
// Provider: the INSECURE deterministic test provider (no crypto library here).
#include <new>

#include "crypto/providers/insecure_test/insecure_test_provider.hpp"
#include "lockstep/engine.hpp"
#include "semihost.hpp"

namespace mcu {
void transport_send(const std::uint8_t* msg, std::size_t len) noexcept;
std::size_t transport_recv(std::uint8_t* buf, std::size_t cap) noexcept;
extern std::size_t g_tx_messages, g_tx_bytes;
}  // namespace mcu

namespace {
using namespace lockstep;
constexpr std::uint16_t kMaxData = 256;
alignas(8) std::uint8_t g_ws[Engine::workspace_size(kMaxData)];
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
    Engine& e = *new (g_engine_mem) Engine(cfg, g_ws);

    std::int64_t t = 0;
    int responses = 0;
    std::uint8_t body[16] = {1, 2, 3};
    if (!e.start(now_at(t))) mcu::fatal("start failed");
    for (int step = 0; step < 1000 && !e.is_closed(); ++step) {
        t += 100;
        for (;;) {
            auto n = e.poll_transmit(g_msg);
            if (!n || *n == 0) break;
            mcu::transport_send(g_msg, *n);
        }
        if (std::size_t n = mcu::transport_recv(g_msg, sizeof g_msg)) (void)e.receive({g_msg, n}, now_at(t));
        if (auto d = e.next_deadline(); d && now_at(t).mono >= *d) (void)e.on_timeout(now_at(t));
        Event ev;
        while (e.poll_event(ev))
            if (ev.kind == EventKind::response) ++responses;
        if (e.can_send_request() && responses < 12) (void)e.send_request(body, now_at(t));
        if (responses >= 12) (void)e.close(now_at(t));
    }
    mcu::Line line;
    line.s("lockstep mcu client-psk image: sent ").u(mcu::g_tx_messages).s(" message(s), ").u(mcu::g_tx_bytes)
        .s(" bytes; no peer on qemu, state=").s(state_name(e.state())).print();
    const bool ok = mcu::g_tx_messages >= 1 && e.is_closed();
    e.~Engine();
    return ok ? 0 : 1;
}
