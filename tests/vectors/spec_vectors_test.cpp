// SPDX-License-Identifier: Apache-2.0
// PROTOCOL.md §14: a complete exchange (handshake, two requests, a re-key,
// close) with fixed keys and randoms, every message in hex with the
// intermediate secrets. This test regenerates it and fails on any difference
// from the text in docs/PROTOCOL.md. After a deliberate protocol change,
// regenerate with: LOCKSTEP_UPDATE_VECTORS=1 ./spec_vectors_test
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "../support/sim.hpp"

namespace lockstep::sim {
namespace {

std::string hex(crypto::ConstBytes b) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (auto x : b) {
        s += d[x >> 4];
        s += d[x & 15];
    }
    return s;
}

// Wrap long hex at 64 characters per line.
std::string block(const std::string& h) {
    std::string out;
    for (std::size_t i = 0; i < h.size(); i += 64) out += "    " + h.substr(i, 64) + "\n";
    return out.empty() ? "    (empty)\n" : out;
}

class Log final : public InsecureKeyLog {
public:
    std::vector<std::pair<std::string, Buf>> items;
    void on_secret(const char* label, std::uint32_t epoch, std::span<const std::uint8_t> v) noexcept override {
        items.emplace_back(std::string(label) + " (epoch " + std::to_string(epoch) + ")", Buf(v.begin(), v.end()));
    }
};

std::string generate() {
    auto ca = fixed_ed25519_signer(0x01), sk = fixed_ed25519_signer(0x02), ck = fixed_ed25519_signer(0x03);
    const std::uint32_t nb = 1'700'000'000, na = 1'900'000'000;
    Buf ca_cert = Credentials::issue(*ca, *ca, CertRole::ca, "lockstep test CA", nb, na, 1);
    Buf s_cert = Credentials::issue(*ca, *sk, CertRole::server, "server.test", nb, na, 2);
    Buf c_cert = Credentials::issue(*ca, *ck, CertRole::client, "device-1", nb, na, 3);

    Sim sim({.mode = Mode::cert, .suite = Suite::aes256gcm, .seed = 2026});
    Log clog, slog;
    std::vector<std::string> eph;
    sim.client_provider().on_keygen = [&](crypto::ConstBytes priv, crypto::ConstBytes pub) {
        eph.push_back("client X25519 private " + hex(priv) + "\n  public " + hex(pub));
    };
    sim.server_provider().on_keygen = [&](crypto::ConstBytes priv, crypto::ConstBytes pub) {
        eph.push_back("server X25519 private " + hex(priv) + "\n  public " + hex(pub));
    };
    for (Config* c : {&sim.client_cfg(), &sim.server_cfg()}) {
        c->ca_certificate = ca_cert;
        c->insecure_key_log = c == &sim.client_cfg() ? &clog : &slog;
    }
    sim.client_cfg().signer = ck.get();
    sim.client_cfg().certificate = c_cert;
    sim.server_cfg().signer = sk.get();
    sim.server_cfg().certificate = s_cert;
    sim.server_cfg().rekey.after_responses = 2;
    sim.build();
    if (!sim.handshake() || sim.exchange(2, 4) != 2) return "exchange failed";
    sim.run_until([&] { return sim.client().rekeys == 1; });
    if (!sim.close_from_client()) return "close failed";
    // The server logs the same secrets; they must agree.
    if (clog.items.size() != slog.items.size()) return "client and server key logs differ in length";
    for (std::size_t i = 0; i < clog.items.size(); ++i)
        if (clog.items[i] != slog.items[i])
            return "client and server disagree on " + clog.items[i].first;

    std::ostringstream o;
    o << "Mode cert, suite AES-256-GCM (1), Ed25519 keys from fixed seeds, re-key after 2\n"
         "responses, wall clock 1800000001 s at the first message, 5 ms one-way latency.\n\n";
    o << "```\n";
    o << "CA Ed25519 seed      0101010101010101010101010101010101010101010101010101010101010101\n";
    o << "server Ed25519 seed  0202020202020202020202020202020202020202020202020202020202020202\n";
    o << "client Ed25519 seed  0303030303030303030303030303030303030303030303030303030303030303\n";
    o << "CA certificate:\n" << block(hex(ca_cert));
    o << "server certificate:\n" << block(hex(s_cert));
    o << "client certificate:\n" << block(hex(c_cert));
    for (const auto& e : eph) o << e << "\n";
    o << "```\n\nMessages, in the order sent (TCP framing not shown):\n\n```\n";
    std::size_t ci = 0, si = 0;
    for (const auto& p : sim.wire_log) {
        const bool c2s = p.dir == Dir::c2s;
        const auto& t = c2s ? sim.client().sent.at(ci++) : sim.server().sent.at(si++);
        o << (c2s ? "C->S " : "S->C ") << msg_type_name(t.type) << "  seq=" << t.seq << " ack=" << t.ack
          << " ttl=" << t.ttl << " epoch=" << t.epoch << "  (" << p.bytes.size() << " bytes)\n"
          << block(hex(p.bytes));
    }
    o << "```\n\nKey schedule values (client side; the server derives the same):\n\n```\n";
    for (const auto& [label, v] : clog.items) o << label << "\n" << block(hex(v));
    o << "```\n";
    return o.str();
}

const char* kBegin = "<!-- VECTORS:BEGIN -->\n";
const char* kEnd = "<!-- VECTORS:END -->";

TEST(SpecVectors, ProtocolMdMatchesARegeneratedExchange) {
    const char* over = std::getenv("LOCKSTEP_PROTOCOL_MD");  // another copy of the spec
    const std::string path = over ? over : std::string(LOCKSTEP_SOURCE_DIR) + "/docs/PROTOCOL.md";
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string doc = ss.str();
    const auto b = doc.find(kBegin), e = doc.find(kEnd);
    ASSERT_NE(b, std::string::npos);
    ASSERT_NE(e, std::string::npos);
    const std::string fresh = generate();
    const std::string stored = doc.substr(b + std::strlen(kBegin), e - b - std::strlen(kBegin));
    // Generating twice gives the same bytes (nothing depends on real randomness).
    ASSERT_EQ(fresh, generate());
    if (std::getenv("LOCKSTEP_UPDATE_VECTORS")) {
        doc.replace(b + std::strlen(kBegin), e - b - std::strlen(kBegin), fresh);
        std::ofstream(path) << doc;
        GTEST_SKIP() << "vectors rewritten in " << path;
    }
    EXPECT_EQ(stored, fresh) << "docs/PROTOCOL.md §14 is out of date; regenerate with LOCKSTEP_UPDATE_VECTORS=1";
}

}  // namespace
}  // namespace lockstep::sim
