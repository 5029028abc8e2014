// SPDX-License-Identifier: Apache-2.0
// The engine built with the device switches of the mcu client image (client
// role, psk mode, no tracer, no key log; include/lockstep/features.hpp): what
// it refuses, what its table holds, and that the client paths it keeps behave.
// This binary links lockstep_engine_client_psk, never the full engine.
#include <gtest/gtest.h>

#include <vector>

#include "crypto/providers/insecure_test/insecure_test_provider.hpp"
#include "handshake/table.hpp"
#include "lockstep/engine.hpp"
#include "lockstep/features.hpp"
#include "wire/wire.hpp"

namespace lockstep {
namespace {

static_assert(features::kClientRole && !features::kServerRole);
static_assert(features::kModePsk && !features::kModeCert && !features::kModeCertPsk && !features::kModePskOnly);
static_assert(!features::kCertModes && features::kAllPsk && features::kAllEcdhe);
static_assert(!features::kTrace && !features::kInsecureKeyLog);
// The predicates are constants in this build.
static_assert(!features::uses_cert(Mode::psk) && features::uses_psk(Mode::psk) && features::uses_ecdhe(Mode::psk));
static_assert(features::is_client(Role::client) && features::is_client(Role::server));
static_assert(!features::is_server(Role::server));

const std::uint8_t kPsk[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                               17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
const std::uint8_t kPskId[] = {'d', 'e', 'v', '-', '1'};

Now at(std::int64_t ms) {
    return Now{Instant{std::chrono::milliseconds(ms)}, UnixTime{std::chrono::milliseconds(1'800'000'000'000 + ms)}};
}

struct Client {
    crypto::insecure::InsecureTestProvider provider{1};
    Config cfg;
    std::vector<std::uint8_t> ws;
    Client() {
        cfg.role = Role::client;
        cfg.provider = &provider;
        cfg.modes = {Mode::psk};
        cfg.psk = kPsk;
        cfg.psk_id = kPskId;
        cfg.max_data = 256;
        ws.resize(Engine::workspace_size(cfg.max_data));
    }
};

Err refused(const Config& cfg) {
    std::vector<std::uint8_t> ws(Engine::workspace_size(cfg.max_data));
    Engine e(cfg, ws);
    EXPECT_TRUE(e.is_closed());
    auto st = e.start(at(0));
    EXPECT_FALSE(st);
    EXPECT_EQ(st.error(), e.last_error());
    std::uint8_t out[64];
    auto n = e.poll_transmit(out);
    EXPECT_TRUE(n && *n == 0) << "a refused engine sends nothing";
    return e.last_error();
}

TEST(ClientPskBuild, RefusesWhatIsNotCompiled) {
    Client c;
    Config server = c.cfg;
    server.role = Role::server;
    EXPECT_EQ(refused(server), Err::unsupported);
    for (Mode m : {Mode::cert, Mode::cert_psk, Mode::psk_only}) {
        Config cfg = c.cfg;
        cfg.modes = {m};
        EXPECT_EQ(refused(cfg), Err::unsupported) << mode_name(m);
        cfg.modes = {Mode::psk, m};  // one mode outside the build is enough
        EXPECT_EQ(refused(cfg), Err::unsupported) << mode_name(m);
    }
    struct Log final : InsecureKeyLog {
        void on_secret(const char*, std::uint32_t, std::span<const std::uint8_t>) noexcept override {}
    } log;
    Config cfg = c.cfg;
    cfg.insecure_key_log = &log;
    EXPECT_EQ(refused(cfg), Err::unsupported);
    EXPECT_EQ(err_category(Err::unsupported), Category::usage);
    EXPECT_STREQ(err_name(Err::unsupported), "unsupported");
}

// The client + psk RAM target (docs/FOOTPRINT.md, Targets): the engine's state
// and its workspace at max_data 256 within 4 KiB on the Cortex-M4, where
// pointers are 4 bytes (Engine::kStateSize counts 48 of them); checked on the
// target too (mcu/client_psk_main.cpp).
constexpr std::size_t kStateSize32 = Engine::kStateSize - 48 * sizeof(void*) + 48 * 4;
static_assert(kStateSize32 + Engine::workspace_size(256) <= 4096, "client + psk RAM target");

TEST(EngineBudget, ClientPskRamWithin4KiBAtMaxData256) {
    EXPECT_EQ(kStateSize32, 1504u);
    // Transmit queue (two records, each behind its length), two kept messages
    // (unpadded: the psk handshake floor), the receive buffer; no stash.
    EXPECT_EQ(Engine::workspace_size(256), 2 * (2 + 612) + 2 * 384 + 526u);
    EXPECT_LE(kStateSize32 + Engine::workspace_size(256), 4096u);
}

// Without certificate modes the padded HELLO is bounded (the transmit queue is
// sized for it): hello_pad_to up to detail::kMaxHelloPadToNoCert.
TEST(ClientPskBuild, PadsItsHelloWithinTheBuildsBound) {
    Client c;
    c.cfg.hello_pad_to = detail::kMaxHelloPadToNoCert + 1;
    EXPECT_EQ(refused(c.cfg), Err::unsupported);

    c.cfg.hello_pad_to = detail::kMaxHelloPadToNoCert;
    c.cfg.policy = Policy::tolerant;
    Engine e(c.cfg, c.ws);
    ASSERT_TRUE(e.start(at(0)));
    std::vector<std::uint8_t> out(Engine::max_message_size(c.cfg.max_data));
    auto n = e.poll_transmit(out);
    ASSERT_TRUE(n);
    ASSERT_EQ(*n, detail::kMaxHelloPadToNoCert);
    auto env = wire::decode_cookie_hello({out.data(), *n});
    ASSERT_TRUE(env);
    auto hello = wire::decode_hello(env->hello);
    ASSERT_TRUE(hello);

    // The longest cookie twice, nothing drained in between: each answer is a
    // padded copy of the HELLO behind the cookie, and both fit the queue.
    const std::vector<std::uint8_t> cookie(wire::kMaxCookie, 0xc5);
    std::uint8_t msg[128];
    for (int i = 0; i < 2; ++i) {
        Writer w(msg);
        wire::encode_cookie({hello->seq, cookie}, w);
        ASSERT_TRUE(w.ok());
        ASSERT_TRUE(e.receive(w.written(), at(10 + i))) << i;
    }
    int copies = 0;
    while ((n = e.poll_transmit(out)) && *n > 0) {
        ++copies;
        EXPECT_EQ(*n, detail::kMaxHelloPadToNoCert);
        env = wire::decode_cookie_hello({out.data(), *n});
        ASSERT_TRUE(env);
        EXPECT_EQ(env->cookie.size(), wire::kMaxCookie);
        EXPECT_TRUE(wire::decode_hello(env->hello));
    }
    EXPECT_EQ(copies, 2);
    EXPECT_FALSE(e.is_closed());
}

TEST(ClientPskBuild, UsageErrorsComeBeforeTheBuildCheck) {
    Client c;
    Config cfg = c.cfg;
    cfg.role = Role::server;
    cfg.provider = nullptr;
    EXPECT_EQ(refused(cfg), Err::invalid_argument);
}

TEST(ClientPskBuild, TableHoldsTheClientRowsOnly) {
    using handshake::kCompiledTransitions;
    using handshake::kTransitions;
    std::size_t client_rows = 0;
    for (const auto& t : kTransitions) client_rows += t.role == Role::client;
    ASSERT_EQ(kCompiledTransitions.size(), client_rows);
    std::size_t i = 0;
    for (const auto& t : kTransitions) {
        if (t.role != Role::client) continue;
        const auto& k = kCompiledTransitions[i++];
        EXPECT_TRUE(k.role == t.role && k.from == t.from && k.msg == t.msg && k.action == t.action &&
                    k.to == t.to && k.alt == t.alt);
    }
    for (int s = 0; s < kStateCount; ++s)
        for (int m = 1; m < kMsgTypeCount; ++m)
            EXPECT_FALSE(handshake::lookup(Role::server, static_cast<State>(s), static_cast<MsgType>(m)));
    EXPECT_TRUE(handshake::lookup(Role::client, State::wait_hello_ack, MsgType::hello_ack));
}

// The client's first steps: HELLO, then a malformed HELLO ACK (dropped under the
// tolerant policy) and the server's clear CLOSE, which ends the attempt.
TEST(ClientPskBuild, SendsHelloAndHandlesScriptedReplies) {
    Client c;
    c.cfg.policy = Policy::tolerant;
    Engine e(c.cfg, c.ws);
    struct Count final : Tracer {
        int calls = 0;
        void on_message(const TraceEntry&) noexcept override { ++calls; }
        void on_fault(Err, bool) noexcept override { ++calls; }
    } tracer;
    e.set_tracer(&tracer);
    ASSERT_TRUE(e.start(at(0)));
    EXPECT_EQ(e.state(), State::wait_hello_ack);
    std::vector<std::uint8_t> out(Engine::max_message_size(c.cfg.max_data));
    auto n = e.poll_transmit(out);
    ASSERT_TRUE(n && *n > 0);
    auto hello = wire::decode_hello({out.data(), *n});
    ASSERT_TRUE(hello);
    EXPECT_EQ(hello->modes.n, 1);
    EXPECT_EQ(hello->modes.v[0], static_cast<std::uint8_t>(Mode::psk));
    EXPECT_EQ(hello->kx, Kx::x25519);
    EXPECT_EQ(hello->psk_id.size(), sizeof kPskId);
    EXPECT_EQ(hello->mac.size(), wire::kMacLen);

    const std::uint8_t bad_ack[] = {static_cast<std::uint8_t>(wire::Frame::hello_ack), 1, 1};
    EXPECT_TRUE(e.receive(bad_ack, at(10)));  // tolerant: dropped before keys exist
    EXPECT_EQ(e.state(), State::wait_hello_ack);

    std::uint8_t close[16];
    Writer w(close);
    wire::encode_clear_close({Reason::no_common_parameters, 0, hello->seq, 0}, w);
    ASSERT_TRUE(w.ok());
    EXPECT_TRUE(e.receive(w.written(), at(20)));
    EXPECT_TRUE(e.is_closed());
    Event ev;
    ASSERT_TRUE(e.poll_event(ev));
    EXPECT_EQ(ev.kind, EventKind::closed);
    EXPECT_TRUE(ev.by_peer);
    EXPECT_EQ(ev.reason, Reason::no_common_parameters);
    EXPECT_EQ(tracer.calls, 0) << "no tracer in this build";
}

// Under the strict policy a server's message to a client is refused with the
// clear CLOSE, as in the full build (the row is absent in both).
TEST(ClientPskBuild, StrictClientRefusesAHello) {
    Client c;
    c.cfg.policy = Policy::strict;
    Engine e(c.cfg, c.ws);
    ASSERT_TRUE(e.start(at(0)));
    std::vector<std::uint8_t> out(Engine::max_message_size(c.cfg.max_data));
    auto n = e.poll_transmit(out);
    ASSERT_TRUE(n && *n > 0);
    std::vector<std::uint8_t> hello(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(*n));
    auto st = e.receive(hello, at(5));
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error(), Err::unexpected_message);
    EXPECT_TRUE(e.is_closed());
    n = e.poll_transmit(out);
    ASSERT_TRUE(n && *n > 0);
    auto cc = wire::decode_clear_close({out.data(), *n});
    ASSERT_TRUE(cc);
    EXPECT_EQ(cc->reason, Reason::unexpected_message);
    EXPECT_FALSE(e.send_response({}, at(6)));
    EXPECT_FALSE(e.can_send_request());
}

}  // namespace
}  // namespace lockstep
