// SPDX-License-Identifier: Apache-2.0
// lockstep on a Cortex-M4 (qemu mps2-an386): one full exchange between a client
// and a server engine in the same image — handshake, 12 requests (a re-key
// after 10 responses), close — in psk mode and in cert mode.
//
// Crypto: the INSECURE deterministic test provider (InsecureTestProvider /
// InsecureTestSigner, src/crypto/providers/insecure_test). No crypto library
// exists for this target here; this checks that the ENGINE runs on the target
// without a heap and within a stack budget. It says nothing about real crypto.
//
// Exit status 0 only if, in every mode, all 12 responses arrived (and matched
// their requests), exactly one re-key happened, both sides closed cleanly, and
// the stack high-water mark stayed within kStackBudget. Output via semihosting.
#include <cstring>
#include <new>

#include "crypto/providers/insecure_test/insecure_test_provider.hpp"
#include "handshake/certs.hpp"
#include "lockstep/engine.hpp"
#include "semihost.hpp"

namespace {

using namespace lockstep;
using crypto::insecure::InsecureTestProvider;
using crypto::insecure::InsecureTestSigner;
constexpr std::string_view kServerNames[] = {"server.test"};

constexpr std::size_t kStackBudget = 8 * 1024;  // bytes; checked against the painted stack
constexpr std::uint16_t kMaxData = 256;
constexpr int kRequests = 12;
constexpr std::size_t kWorkspace = Engine::workspace_size(kMaxData);
constexpr std::size_t kMaxMsg = Engine::max_message_size(kMaxData);

// Everything big lives in .bss (static storage), not on the stack or a heap.
alignas(8) std::uint8_t g_ws_client[kWorkspace];
alignas(8) std::uint8_t g_ws_server[kWorkspace];
alignas(8) std::uint8_t g_msg[kMaxMsg];
alignas(Engine) std::uint8_t g_engine_mem[2][sizeof(Engine)];
alignas(InsecureTestSigner) std::uint8_t g_signer_mem[3][sizeof(InsecureTestSigner)];
std::uint8_t g_ca_cert[wire::kMaxCert], g_server_cert[wire::kMaxCert], g_client_cert[wire::kMaxCert];
std::size_t g_ca_len = 0, g_server_len = 0, g_client_len = 0;

const std::uint8_t kPsk[32] = {0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                               0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                               0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a};
const std::uint8_t kPskId[] = {'d', 'e', 'v', '-', '1'};

struct Store final : PskStore {
    std::span<const std::uint8_t> find(std::span<const std::uint8_t> id) const noexcept override {
        if (id.size() == sizeof kPskId && std::memcmp(id.data(), kPskId, sizeof kPskId) == 0) return kPsk;
        return {};
    }
};

Now now_at(std::int64_t t) {
    return Now{Instant{std::chrono::milliseconds(t)}, UnixTime{std::chrono::milliseconds(1'800'000'000'000 + t)}};
}

bool issue(crypto::Provider& p, InsecureTestSigner& issuer, const InsecureTestSigner& key, CertRole role,
           const char* subject, std::uint8_t* out, std::size_t& len) {
    wire::Cert c;
    c.role = role;
    c.key_alg = key.alg();
    c.subject = {reinterpret_cast<const std::uint8_t*>(subject), std::strlen(subject)};
    c.serial = 7;
    c.not_before = 1'700'000'000;
    c.not_after = 1'900'000'000;
    c.pubkey = key.public_key();
    auto n = certs::issue(p, issuer, c, {out, wire::kMaxCert});
    if (!n) return false;
    len = *n;
    return true;
}

struct Outcome {
    int responses = 0, mismatches = 0, handshakes = 0, rekey_events = 0, timeouts = 0;
    std::uint32_t client_rekeys = 0, server_rekeys = 0;
    bool client_closed = false, server_closed = false, clean = false;
    std::uint32_t bytes = 0;
    std::size_t stack = 0;
};

Outcome run(Mode mode, InsecureTestSigner* signers) {
    Outcome o;
    InsecureTestProvider pc(1), ps(2);  // one provider per engine (random() is a counter)
    Store store;
    Config cc, sc;
    cc.role = Role::client;
    sc.role = Role::server;
    cc.provider = &pc;
    sc.provider = &ps;
    cc.modes = {mode};
    sc.modes = {mode};
    cc.max_data = sc.max_data = kMaxData;
    cc.rekey.after_responses = sc.rekey.after_responses = 10;
    if (mode_uses_psk(mode)) {
        cc.psk = kPsk;
        cc.psk_id = kPskId;
        sc.psk_store = &store;
    }
    if (mode_uses_cert(mode)) {
        cc.signer = &signers[2];
        cc.certificate = {g_client_cert, g_client_len};
        cc.ca_certificate = sc.ca_certificate = {g_ca_cert, g_ca_len};
        cc.server_names = kServerNames;
        sc.signer = &signers[1];
        sc.certificate = {g_server_cert, g_server_len};
    }
    Engine* c = new (g_engine_mem[0]) Engine(cc, g_ws_client);
    Engine* s = new (g_engine_mem[1]) Engine(sc, g_ws_server);

    std::int64_t t = 0;
    int sent = 0;
    std::uint8_t body[64];
    auto pump = [&](Engine& from, Engine& to) {
        for (;;) {
            auto n = from.poll_transmit(g_msg);
            if (!n || *n == 0) break;
            o.bytes += *n;
            (void)to.receive({g_msg, *n}, now_at(t));
        }
    };
    auto timers = [&](Engine& e) {  // nothing is lost here, so no deadline should fire; drive it anyway
        if (auto d = e.next_deadline(); d && now_at(t).mono >= *d) {
            ++o.timeouts;
            (void)e.on_timeout(now_at(t));
        }
    };
    auto events = [&](Engine& e) {
        Event ev;
        while (e.poll_event(ev)) {
            switch (ev.kind) {
                case EventKind::handshake_done: ++o.handshakes; break;
                case EventKind::rekeyed: ++o.rekey_events; break;
                case EventKind::request: (void)e.send_response(ev.data, now_at(t)); break;  // echo
                case EventKind::response:
                    // The echo of request number `responses` (first byte = its index).
                    if (ev.data.size() != sizeof body || ev.data[0] != static_cast<std::uint8_t>(o.responses))
                        ++o.mismatches;
                    ++o.responses;
                    break;
                case EventKind::closed:
                    if (&e == c) o.clean = ev.acknowledged;
                    break;
            }
        }
    };

    mcu::stack_repaint();
    if (!s->start(now_at(t)) || !c->start(now_at(t))) mcu::fatal("engine start failed");
    for (int round = 0; round < 400 && o.responses < kRequests; ++round) {
        t += 3;
        pump(*c, *s);
        events(*s);
        pump(*s, *c);
        events(*c);
        timers(*c);
        timers(*s);
        if (sent < kRequests && sent == o.responses && c->can_send_request()) {
            for (std::size_t i = 0; i < sizeof body; ++i) body[i] = static_cast<std::uint8_t>(sent + i);
            if (c->send_request(body, now_at(t))) ++sent;
        }
    }
    (void)c->close(now_at(t));
    for (int round = 0; round < 8 && !(c->is_closed() && s->is_closed()); ++round) {
        t += 3;
        pump(*c, *s);
        events(*s);
        pump(*s, *c);
        events(*c);
    }
    o.stack = mcu::stack_high_water();
    o.client_rekeys = c->stats().rekeys;
    o.server_rekeys = s->stats().rekeys;
    o.client_closed = c->is_closed();
    o.server_closed = s->is_closed();
    c->~Engine();
    s->~Engine();
    return o;
}

}  // namespace

int main() {
    mcu::Line line;
    line.s("lockstep mcu sim: Cortex-M4 (qemu mps2-an386), INSECURE deterministic test provider (not crypto)").print();
    line.s("  sizeof(Engine)=").u(sizeof(Engine)).s(" workspace=").u(kWorkspace).s(" (max_data=").u(kMaxData)
        .s(") max_message=").u(kMaxMsg).s(" stack region=").u(mcu::stack_region_size())
        .s(" budget=").u(kStackBudget).print();

    // Credentials for cert mode, made on the target with the INSECURE signer.
    auto* signers = reinterpret_cast<InsecureTestSigner*>(g_signer_mem);
    new (&signers[0]) InsecureTestSigner(crypto::SigAlg::ed25519, 1);  // CA
    new (&signers[1]) InsecureTestSigner(crypto::SigAlg::ed25519, 2);  // server
    new (&signers[2]) InsecureTestSigner(crypto::SigAlg::ed25519, 3);  // client
    {
        InsecureTestProvider p(0);
        if (!issue(p, signers[0], signers[0], CertRole::ca, "insecure test CA", g_ca_cert, g_ca_len) ||
            !issue(p, signers[0], signers[1], CertRole::server, "server.test", g_server_cert, g_server_len) ||
            !issue(p, signers[0], signers[2], CertRole::client, "device-1", g_client_cert, g_client_len))
            mcu::fatal("certificate issue failed");
    }

    bool ok = true;
    std::size_t worst = 0;
    const Mode modes[] = {Mode::psk, Mode::cert};
    for (Mode m : modes) {
        const Outcome o = run(m, signers);
        const bool pass = o.responses == kRequests && o.mismatches == 0 && o.client_rekeys == 1 &&
                          o.server_rekeys == 1 && o.rekey_events == 2 && o.handshakes == 2 && o.client_closed &&
                          o.server_closed && o.clean && o.timeouts == 0 && o.stack <= kStackBudget;
        ok = ok && pass;
        if (o.stack > worst) worst = o.stack;
        line.s("mode=").s(mode_name(m)).s(" responses=").u(static_cast<std::uint32_t>(o.responses)).s("/")
            .u(kRequests).s(" mismatches=").u(static_cast<std::uint32_t>(o.mismatches))
            .s(" rekeys(client,server)=").u(o.client_rekeys).s(",").u(o.server_rekeys)
            .s(" closed(client,server)=").u(o.client_closed).s(",").u(o.server_closed).s(" clean=").u(o.clean)
            .s(" timeouts=").u(static_cast<std::uint32_t>(o.timeouts)).s(" wire_bytes=").u(o.bytes).s(" stack_high_water=").u(o.stack).s(pass ? " PASS" : " FAIL").print();
    }
    line.s("SUMMARY: ").s(ok ? "PASS" : "FAIL").s(" modes=psk,cert requests=").u(kRequests)
        .s(" rekey_after=10 heap=none stack_high_water=").u(worst).s("/").u(kStackBudget).s(" bytes").print();
    return ok ? 0 : 1;
}
