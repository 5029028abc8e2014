// STYLE §4: the engine does not allocate after construction. operator new is
// replaced for this binary; counting is switched on only around engine calls.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "crypto/providers/openssl/openssl_provider.hpp"
#include "lockstep/engine.hpp"

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

TEST(NoAlloc, EngineDoesNotAllocateAfterConstruction) {
    crypto::openssl::OpenSslProvider pc, ps;
    Psk store;
    const std::uint8_t id[] = {'i', 'd'};
    Config cc, sc;
    cc.role = Role::client;
    sc.role = Role::server;
    cc.provider = &pc;
    sc.provider = &ps;
    cc.modes = sc.modes = {Mode::psk};
    cc.psk = store.key;
    cc.psk_id = id;
    sc.psk_store = &store;
    std::vector<std::uint8_t> wc(Engine::workspace_size(cc.max_data)), wsv(Engine::workspace_size(sc.max_data));
    std::vector<std::uint8_t> buf(Engine::max_message_size(cc.max_data));
    std::uint8_t body[64] = {1, 2, 3};
    Engine c(cc, wc), s(sc, wsv);

    long t = 0;
    auto now = [&] { return Now{Instant{std::chrono::milliseconds(t)}, UnixTime{std::chrono::milliseconds(1'800'000'000'000 + t)}}; };
    auto pump = [&](Engine& from, Engine& to) {
        for (;;) {
            auto n = from.poll_transmit(buf);
            if (!n || *n == 0) break;
            (void)to.receive({buf.data(), *n}, now());
        }
    };
    int responses = 0;
    auto events = [&](Engine& e) {
        Event ev;
        while (e.poll_event(ev)) {
            if (ev.kind == EventKind::request) (void)e.send_response(ev.data, now());
            if (ev.kind == EventKind::response) ++responses;
        }
    };

    g_counting = true;
    ASSERT_TRUE(s.start(now()));
    ASSERT_TRUE(c.start(now()));
    for (int round = 0; round < 300 && responses < 31; ++round) {
        t += 3;
        pump(c, s);
        events(s);
        pump(s, c);
        events(c);
        if (c.can_send_request()) (void)c.send_request(body, now());
    }
    (void)c.close(now());
    for (int round = 0; round < 4; ++round) {
        pump(c, s);
        pump(s, c);
        events(c);
        events(s);
    }
    g_counting = false;

    EXPECT_EQ(responses, 31);
    EXPECT_EQ(c.stats().rekeys, 3u);
    EXPECT_TRUE(c.is_closed());
    EXPECT_EQ(g_allocs.load(), 0);
}

}  // namespace
}  // namespace lockstep
