// SPDX-License-Identifier: Apache-2.0
// The device client: lockstep on real cryptography (BearSSL, cross-compiled;
// cert+psk adds libsodium's Ed25519) talking to `lockstep serve` over UDP. The
// link is UART0 with length-framed messages; on qemu tests/mcu/device_e2e.py
// bridges it to the server's UDP port. Credentials and entropy come from host
// files through semihosting (on a product: flash provisioned at manufacture, and
// the TRNG):
//   lockstep-device.psk   the 32-byte PSK (raw); identity "device-1"
//   lockstep-device.seed  32 bytes from the host's CSPRNG, seeding mcu::entropy_fill
// and in mode cert+psk (certificate subject "device-1", server "server.test"):
//   lockstep-device.cert  the device's certificate (wire encoding, as `cert issue` writes it)
//   lockstep-device.key   its Ed25519 private key (the 32-byte RFC 8032 seed)
//   lockstep-device.ca    the CA certificate
// The client runs the handshake, 25 requests (the server re-keys after every
// 10 responses), then closes, and prints one summary line.
// Compiled mode: LS_DEVICE_MODE (lockstep::Mode enumerator name).
#include <new>

#include "board_io.hpp"
#include "crypto/providers/bearssl/bearssl_provider.hpp"
#include "lockstep/engine.hpp"
#include "lockstep/features.hpp"
#if LOCKSTEP_WITH_MODE_CERT_PSK
#include "crypto/providers/sodium/sodium_provider.hpp"
#endif
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
alignas(crypto::bearssl::BearSslProvider) std::uint8_t g_provider_mem[sizeof(crypto::bearssl::BearSslProvider)];
std::uint8_t g_psk[32];
const std::uint8_t kPskId[] = {'d', 'e', 'v', 'i', 'c', 'e', '-', '1'};

std::int64_t g_unix_at_boot_ms = 0;

#if LOCKSTEP_WITH_MODE_CERT_PSK
std::uint8_t g_cert[512], g_ca[512];
const std::string_view kServerNames[] = {"server.test"};
alignas(crypto::sodium::SodiumEd25519Signer) std::uint8_t g_signer_mem[sizeof(crypto::sodium::SodiumEd25519Signer)];

// The certificate modes' credentials: the Ed25519 signer (libsodium) and the two
// certificates; the BearSSL provider verifies through libsodium's Ed25519.
void load_cert_credentials(Config& cfg) {
    const long cert = mcu::host_read_file("lockstep-device.cert", g_cert, sizeof g_cert);
    const long ca = mcu::host_read_file("lockstep-device.ca", g_ca, sizeof g_ca);
    std::uint8_t seed[32];
    if (cert <= 0 || ca <= 0 || mcu::host_read_file("lockstep-device.key", seed, sizeof seed) != 32)
        mcu::fatal("no certificate, CA certificate or 32-byte key seed file");
    auto* signer = new (g_signer_mem) crypto::sodium::SodiumEd25519Signer(seed);
    for (auto& b : seed) b = 0;
    if (!signer->valid()) mcu::fatal("bad key seed");
    cfg.signer = signer;
    cfg.certificate = {g_cert, static_cast<std::size_t>(cert)};
    cfg.ca_certificate = {g_ca, static_cast<std::size_t>(ca)};
    cfg.server_names = kServerNames;
}
constexpr crypto::bearssl::Ed25519VerifyFn kEd25519 = &crypto::sodium::ed25519_verify;
#else
constexpr crypto::bearssl::Ed25519VerifyFn kEd25519 = nullptr;  // no certificates in this build
#endif

Now now() {
    const std::int64_t ms = mcu::mono_ms();
    return Now{Instant{std::chrono::milliseconds(ms)}, UnixTime{std::chrono::milliseconds(g_unix_at_boot_ms + ms)}};
}

// Boot and the engine's construction, in a frame of their own: the seed and
// the Config (the engine keeps a copy) are off the stack while the exchange
// runs, whose deepest call sets the stack high-water mark.
[[gnu::noinline]] Engine& setup() {
    std::uint8_t seed[32];
    if (mcu::host_read_file("lockstep-device.seed", seed, sizeof seed) != 32) mcu::fatal("no 32-byte seed file");
    (void)mcu::entropy_seed(seed);
    for (auto& b : seed) b = 0;
    if (mcu::host_read_file("lockstep-device.psk", g_psk, sizeof g_psk) != 32) mcu::fatal("no 32-byte PSK file");
    mcu::clock_init();
    g_unix_at_boot_ms = std::int64_t{mcu::unix_seconds()} * 1000 - mcu::mono_ms();
    mcu::link_init();

    auto* provider = new (g_provider_mem) crypto::bearssl::BearSslProvider(mcu::entropy_fill, nullptr, kEd25519);
    Config cfg;
    cfg.role = Role::client;
    cfg.provider = provider;
    cfg.modes = {Mode::LS_DEVICE_MODE};
    cfg.suites = {Suite::chacha20poly1305};
    cfg.psk = g_psk;
    cfg.psk_id = kPskId;
    cfg.max_data = kMaxData;
    cfg.policy = Policy::tolerant;  // a datagram link: forged or broken frames are dropped
#if LOCKSTEP_WITH_MODE_CERT_PSK
    load_cert_credentials(cfg);
#endif
    return *new (g_engine_mem) Engine(cfg, g_ws);
}

// The summary line (its 256-byte buffer in this frame, not in main's).
[[gnu::noinline]] void report(int responses, int rekeys, Reason reason, bool acknowledged) {
    mcu::Line line;
    line.s("lockstep device client: responses ").u(static_cast<std::uint32_t>(responses)).s(", re-keys ")
        .u(static_cast<std::uint32_t>(rekeys)).s(", closed reason ").u(static_cast<std::uint32_t>(reason))
        .s(acknowledged ? " acknowledged" : " not acknowledged").s("; stack high-water ")
        .u(static_cast<std::uint32_t>(mcu::stack_high_water())).s(" bytes").print();
}
}  // namespace

int main() {
    Engine& e = setup();
    int sent = 0, responses = 0, rekeys = 0;
    bool closing = false;
    Reason closed_reason = Reason::normal;  // as a default Event's
    bool acknowledged = false;
    static const std::uint8_t kBody[16] = {'t', 'e', 'm', 'p', '?'};
    if (!e.start(now())) mcu::fatal("start failed");
    while (!e.is_closed()) {
        while (!mcu::link_receiving()) {
            auto n = e.poll_transmit(g_msg);
            if (!n || *n == 0) break;
            mcu::link_send(g_msg, *n);
        }
        const Now t = now();  // one reading per turn of the loop
        if (std::size_t n = mcu::link_poll(g_msg, sizeof g_msg)) (void)e.receive({g_msg, n}, t);
        if (auto d = e.next_deadline(); d && t.mono >= *d) (void)e.on_timeout(t);
        Event ev;
        while (e.poll_event(ev)) {
            if (ev.kind == EventKind::response) ++responses;
            if (ev.kind == EventKind::rekeyed) ++rekeys;
            if (ev.kind == EventKind::closed) {
                closed_reason = ev.reason;
                acknowledged = ev.acknowledged;
            }
        }
        if (sent < kRequests && e.can_send_request() && e.send_request(kBody, t)) ++sent;
        if (responses >= kRequests && !closing) closing = static_cast<bool>(e.close(t));
    }
    report(responses, rekeys, closed_reason, acknowledged);
    const bool ok = responses == kRequests && rekeys == 2 && closed_reason == Reason::normal && acknowledged;
    e.~Engine();
    return ok ? 0 : 1;
}
