// SPDX-License-Identifier: Apache-2.0
// The device client: lockstep on real cryptography (libsodium's reference code,
// cross-compiled) talking to `lockstep serve` over UDP. The link is UART0 with
// length-framed messages; on qemu tests/mcu/device_e2e.py bridges it to the
// server's UDP port. Credentials and entropy come from host files through
// semihosting (on a product: flash provisioned at manufacture, and the TRNG):
//   lockstep-device.psk   the 32-byte PSK (raw); identity "device-1"
//   lockstep-device.seed  32 bytes from the host's CSPRNG, seeding mcu::entropy_fill
// The client runs the handshake, 25 requests (the server re-keys after every
// 10 responses), then closes, and prints one summary line.
// Compiled mode: LS_DEVICE_MODE (lockstep::Mode enumerator name).
#include <new>

#include "board_io.hpp"
#include "crypto/providers/sodium/sodium_provider.hpp"
#include "lockstep/engine.hpp"
#include "semihost.hpp"

namespace {
using namespace lockstep;
constexpr std::uint16_t kMaxData = 256;
constexpr int kRequests = 25;
alignas(8) std::uint8_t g_ws[Engine::workspace_size(kMaxData)];
// One buffer for both directions (RAM): a frame arrives over the UART a byte at
// a time across many loop turns, so nothing is sent into it while one is partly in.
alignas(8) std::uint8_t g_msg[Engine::max_message_size(kMaxData)];
alignas(Engine) std::uint8_t g_engine_mem[sizeof(Engine)];
std::uint8_t g_psk[32];
const std::uint8_t kPskId[] = {'d', 'e', 'v', 'i', 'c', 'e', '-', '1'};

std::int64_t g_unix_at_boot_ms = 0;

Now now() {
    const std::int64_t ms = mcu::mono_ms();
    return Now{Instant{std::chrono::milliseconds(ms)}, UnixTime{std::chrono::milliseconds(g_unix_at_boot_ms + ms)}};
}
}  // namespace

int main() {
    std::uint8_t seed[32];
    if (mcu::host_read_file("lockstep-device.seed", seed, sizeof seed) != 32) mcu::fatal("no 32-byte seed file");
    (void)mcu::entropy_seed(seed);
    for (auto& b : seed) b = 0;
    if (mcu::host_read_file("lockstep-device.psk", g_psk, sizeof g_psk) != 32) mcu::fatal("no 32-byte PSK file");
    mcu::clock_init();
    g_unix_at_boot_ms = std::int64_t{mcu::unix_seconds()} * 1000 - mcu::mono_ms();
    mcu::link_init();

    crypto::sodium::SodiumProvider provider(mcu::entropy_fill, nullptr);
    Config cfg;
    cfg.role = Role::client;
    cfg.provider = &provider;
    cfg.modes = {Mode::LS_DEVICE_MODE};
    cfg.suites = {Suite::chacha20poly1305};
    cfg.psk = g_psk;
    cfg.psk_id = kPskId;
    cfg.max_data = kMaxData;
    cfg.policy = Policy::tolerant;  // a datagram link: forged or broken frames are dropped
    Engine& e = *new (g_engine_mem) Engine(cfg, g_ws);

    int sent = 0, responses = 0, rekeys = 0;
    bool closing = false;
    Event closed{};
    std::uint8_t body[16] = {'t', 'e', 'm', 'p', '?'};
    if (!e.start(now())) mcu::fatal("start failed");
    while (!e.is_closed()) {
        while (!mcu::link_receiving()) {
            auto n = e.poll_transmit(g_msg);
            if (!n || *n == 0) break;
            mcu::link_send(g_msg, *n);
        }
        if (std::size_t n = mcu::link_poll(g_msg, sizeof g_msg)) (void)e.receive({g_msg, n}, now());
        if (auto d = e.next_deadline(); d && now().mono >= *d) (void)e.on_timeout(now());
        Event ev;
        while (e.poll_event(ev)) {
            if (ev.kind == EventKind::response) ++responses;
            if (ev.kind == EventKind::rekeyed) ++rekeys;
            if (ev.kind == EventKind::closed) closed = ev;
        }
        if (sent < kRequests && e.can_send_request() && e.send_request(body, now())) ++sent;
        if (responses >= kRequests && !closing) closing = static_cast<bool>(e.close(now()));
    }
    mcu::Line line;
    line.s("lockstep device client: responses ").u(static_cast<std::uint32_t>(responses)).s(", re-keys ")
        .u(static_cast<std::uint32_t>(rekeys)).s(", closed reason ").u(static_cast<std::uint32_t>(closed.reason))
        .s(closed.acknowledged ? " acknowledged" : " not acknowledged").s("; stack high-water ")
        .u(static_cast<std::uint32_t>(mcu::stack_high_water())).s(" bytes").print();
    const bool ok = responses == kRequests && rekeys == 2 && closed.reason == Reason::normal && closed.acknowledged;
    e.~Engine();
    return ok ? 0 : 1;
}
