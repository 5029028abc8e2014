// SPDX-License-Identifier: Apache-2.0
// The engine's resource bounds: it does not allocate after
// construction (operator new is replaced for this binary; counting is switched
// on only around engine calls); its state fits 2 KiB; its event queue is bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "crypto/providers/openssl/openssl_provider.hpp"
#include "lockstep/engine.hpp"
#include "session/conn.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
    if (g_counting) ++g_allocs;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace lockstep {
namespace {

struct Psk final : PskStore {
    std::vector<std::uint8_t> key = std::vector<std::uint8_t>(32, 7);
    std::span<const std::uint8_t> find(std::span<const std::uint8_t>) const noexcept override { return key; }
};

// A psk client and server over memory, on a virtual clock.
struct PskPair {
    crypto::openssl::OpenSslProvider pc, ps;
    Psk store;
    const std::uint8_t id[2] = {'i', 'd'};
    Config cc = config(Role::client), sc = config(Role::server);
    std::vector<std::uint8_t> wc = std::vector<std::uint8_t>(Engine::workspace_size(cc.max_data)),
                              wsv = std::vector<std::uint8_t>(Engine::workspace_size(sc.max_data));
    std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(Engine::max_message_size(cc.max_data));
    Engine c{cc, wc}, s{sc, wsv};
    long t = 0;

    Config config(Role r) {
        Config cfg;
        cfg.role = r;
        cfg.provider = r == Role::client ? &pc : &ps;
        cfg.modes = {Mode::psk};
        if (r == Role::client) {
            cfg.psk = store.key;
            cfg.psk_id = id;
        } else {
            cfg.psk_store = &store;
        }
        return cfg;
    }
    Now now() const {
        return Now{Instant{std::chrono::milliseconds(t)}, UnixTime{std::chrono::milliseconds(1'800'000'000'000 + t)}};
    }
    void pump(Engine& from, Engine& to) {
        for (;;) {
            auto n = from.poll_transmit(buf);
            if (!n || *n == 0) break;
            (void)to.receive({buf.data(), *n}, now());
        }
    }
    // The server's events: answer every request with its own body.
    void serve() {
        Event ev;
        while (s.poll_event(ev))
            if (ev.kind == EventKind::request) (void)s.send_response(ev.data, now());
    }
};

TEST(NoAlloc, EngineDoesNotAllocateAfterConstruction) {
    PskPair p;
    std::uint8_t body[64] = {1, 2, 3};
    int responses = 0;
    auto client_events = [&] {
        Event ev;
        while (p.c.poll_event(ev))
            if (ev.kind == EventKind::response) ++responses;
    };

    g_counting = true;
    ASSERT_TRUE(p.s.start(p.now()));
    ASSERT_TRUE(p.c.start(p.now()));
    for (int round = 0; round < 300 && responses < 31; ++round) {
        p.t += 3;
        p.pump(p.c, p.s);
        p.serve();
        p.pump(p.s, p.c);
        client_events();
        if (p.c.can_send_request()) (void)p.c.send_request(body, p.now());
    }
    (void)p.c.close(p.now());
    for (int round = 0; round < 4; ++round) {
        p.pump(p.c, p.s);
        p.pump(p.s, p.c);
        client_events();
        p.serve();
    }
    g_counting = false;

    EXPECT_EQ(responses, 31);
    EXPECT_EQ(p.c.stats().rekeys, 3u);
    EXPECT_TRUE(p.c.is_closed());
    EXPECT_EQ(g_allocs.load(), 0);
}

// Engine state per connection (excluding the workspace): the goal is 2 KiB, missed by
// 64 B on x86-64 since server names, PSK-mixed re-keys, the amplification limit, cookies,
// the certificate policy hook, the per-key limits and the connection ids of roaming
// (docs/PERFORMANCE.md, target 6); at its bound now. The state itself
// (Conn) must not grow past 2112 B; the public Engine is opaque storage of the named
// size Engine::kStateSize, which keeps slack so the state can change without the ABI.
TEST(EngineBudget, StateWithin2112Bytes) {
    EXPECT_LE(sizeof(Conn), 2112u);
    EXPECT_EQ(sizeof(Engine), Engine::kStateSize);
    EXPECT_GE(Engine::kStateSize - sizeof(Conn), 64u) << "keep slack in Engine::kStateSize";
    EXPECT_EQ(alignof(Engine), Engine::kStateAlign);
}

// A caller that stops draining poll_event loses the oldest events, never the
// newest: the final `closed` is still there.
TEST(EngineBudget, UndrainedEventQueueKeepsTheNewest) {
    PskPair p;
    auto run = [&] {  // the client's events are left queued
        for (int round = 0; round < 4; ++round) {
            p.t += 3;
            p.pump(p.c, p.s);
            p.serve();
            p.pump(p.s, p.c);
        }
    };
    ASSERT_TRUE(p.s.start(p.now()));
    ASSERT_TRUE(p.c.start(p.now()));
    run();  // handshake_done
    const std::uint8_t body[4] = {1, 2, 3, 4};
    for (int i = 0; i < 5; ++i) {  // 5 responses
        ASSERT_TRUE(p.c.can_send_request()) << i;
        ASSERT_TRUE(p.c.send_request(body, p.now()));
        run();
    }
    ASSERT_TRUE(p.c.close(p.now()));
    run();
    ASSERT_TRUE(p.c.is_closed());

    std::vector<EventKind> kinds;
    Event ev, last;
    while (p.c.poll_event(ev)) {
        kinds.push_back(ev.kind);
        last = ev;
    }
    ASSERT_EQ(kinds.size(), 4u);  // 7 were queued: handshake_done, 5 responses, closed
    EXPECT_EQ(kinds[0], EventKind::response);
    EXPECT_EQ(kinds[2], EventKind::response);
    EXPECT_EQ(kinds[3], EventKind::closed);
    EXPECT_TRUE(last.acknowledged);
}

}  // namespace
}  // namespace lockstep
