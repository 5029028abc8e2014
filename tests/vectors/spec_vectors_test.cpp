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
#include <tuple>

#include "../support/sim.hpp"
#include "keys/keys.hpp"

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

// Every message on the wire, in order, with its trace fields and bytes.
void print_messages(std::ostringstream& o, Sim& sim) {
    std::size_t ci = 0, si = 0;
    for (const auto& p : sim.wire_log) {
        const bool c2s = p.dir == Dir::c2s;
        const auto& t = c2s ? sim.client().sent.at(ci++) : sim.server().sent.at(si++);
        o << (c2s ? "C->S " : "S->C ") << msg_type_name(t.type) << "  seq=" << t.seq << " ack=" << t.ack
          << " ttl=" << t.ttl << " epoch=" << t.epoch << "  (" << p.bytes.size() << " bytes)\n"
          << block(hex(p.bytes));
    }
}

// One exchange to print. The first (cert, suite 1) is §14's main vector; the
// others cover the other modes, suites, padding and the relative ttl, and also
// print every AEAD nonce (in sealing order per side) and the request bodies.
struct Case {
    Mode mode = Mode::cert;
    Suite suite = Suite::aes256gcm;
    TtlMode ttl = TtlMode::absolute;
    std::uint16_t pad_to = 0;
    bool details = false;  // nonces and bodies
    const char* title = "";
};

std::string generate(const Case& k = {}) {
    auto ca = fixed_ed25519_signer(0x01), sk = fixed_ed25519_signer(0x02), ck = fixed_ed25519_signer(0x03);
    const std::uint32_t nb = 1'700'000'000, na = 1'900'000'000;
    Buf ca_cert = Credentials::issue(*ca, *ca, CertRole::ca, "lockstep test CA", nb, na, 1);
    Buf s_cert = Credentials::issue(*ca, *sk, CertRole::server, "server.test", nb, na, 2);
    Buf c_cert = Credentials::issue(*ca, *ck, CertRole::client, "device-1", nb, na, 3);

    Sim sim({.mode = k.mode, .suite = k.suite, .ttl = k.ttl, .seed = 2026});
    Log clog, slog;
    std::vector<std::string> nonces;
    sim.client_provider().on_seal = [&](crypto::ConstBytes, crypto::ConstBytes n) { nonces.push_back("C " + hex(n)); };
    sim.server_provider().on_seal = [&](crypto::ConstBytes, crypto::ConstBytes n) { nonces.push_back("S " + hex(n)); };
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
        if (k.details) {  // the main vector keeps the default offer
            c->suites = {k.suite};
            c->modes = {k.mode};
            c->pad_to = k.pad_to;
        }
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
    if (k.details) {
        o << "#### " << k.title << "\n\nMode " << mode_name(k.mode) << ", suite " << suite_name(k.suite) << " ("
          << static_cast<int>(k.suite) << "), " << (k.ttl == TtlMode::relative ? "relative" : "absolute")
          << " ttl, pad_to " << k.pad_to << "; the same seeds, certificates, clocks and re-key as above.\n\n```\n";
        if (mode_uses_psk(k.mode))
            o << "psk_id " << hex(test_psk_id()) << "\nPSK    " << hex(test_psk()) << "\n";
        for (int i = 0; i < 2; ++i) o << "request " << i + 1 << " body " << hex(Sim::body(4, static_cast<std::uint8_t>(i))) << "\n";
        for (const auto& e : eph) o << e << "\n";
        o << "AEAD nonces in sealing order (C: client, S: server):\n";
        for (const auto& n : nonces) o << "    " << n << "\n";
        o << "```\n\nMessages:\n\n```\n";
        print_messages(o, sim);
        o << "```\n\nKey schedule values (client side):\n\n```\n";
        for (const auto& [label, v] : clog.items) o << label << "\n" << block(hex(v));
        o << "```\n\n";
        return o.str();
    }
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
    print_messages(o, sim);
    o << "```\n\nKey schedule values (client side; the server derives the same):\n\n```\n";
    for (const auto& [label, v] : clog.items) o << label << "\n" << block(hex(v));
    o << "```\n\nConnection ids (§6.9): HKDF-Expand-Label(c_ap(n), \"cid\", \"\", 8), what a UDP client\n"
         "would send in front of its epoch n records:\n\n```\n";
    for (const auto& [label, v] : clog.items) {
        if (label.find("c ap traffic") == std::string::npos) continue;
        ConnectionId cid{};
        EXPECT_TRUE(keys::connection_id(sim.client_provider(), v, cid));
        o << "cid from " << label << "  " << hex({cid.data(), cid.size()}) << "\n";
    }
    o << "```\n";
    return o.str();
}

const Case kMore[] = {
    {Mode::psk, Suite::chacha20poly1305, TtlMode::absolute, 0, true, "psk, ChaCha20-Poly1305"},
    {Mode::psk_only, Suite::aes256gcm_hmac_sha512, TtlMode::relative, 0, true,
     "psk-only, AES-256-GCM + HMAC-SHA-512, relative ttl"},
    {Mode::cert_psk, Suite::aes256gcm, TtlMode::absolute, 64, true, "cert+psk, AES-256-GCM, padding to 64"},
};

std::string generate_more() {
    std::string out;
    for (const Case& c : kMore) out += generate(c);
    return out;
}

const char* kBegin = "<!-- VECTORS:BEGIN -->\n";
const char* kEnd = "<!-- VECTORS:END -->";
const char* kMoreBegin = "<!-- MORE VECTORS:BEGIN -->\n";
const char* kMoreEnd = "<!-- MORE VECTORS:END -->";

TEST(SpecVectors, ProtocolMdMatchesARegeneratedExchange) {
    const char* over = std::getenv("LOCKSTEP_PROTOCOL_MD");  // another copy of the spec
    const std::string path = over ? over : std::string(LOCKSTEP_SOURCE_DIR) + "/docs/PROTOCOL.md";
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string doc = ss.str();
    // Generating twice gives the same bytes (nothing depends on real randomness).
    const std::string fresh = generate(), more = generate_more();
    ASSERT_EQ(fresh, generate());
    ASSERT_EQ(more, generate_more());
    const bool update = std::getenv("LOCKSTEP_UPDATE_VECTORS") != nullptr;
    for (auto [begin, end, text] : {std::tuple{kBegin, kEnd, &fresh}, std::tuple{kMoreBegin, kMoreEnd, &more}}) {
        const auto b = doc.find(begin), e = doc.find(end);
        ASSERT_NE(b, std::string::npos) << begin;
        ASSERT_NE(e, std::string::npos) << end;
        const std::size_t from = b + std::strlen(begin);
        if (update) doc.replace(from, e - from, *text);
        else EXPECT_EQ(doc.substr(from, e - from), *text)
            << "docs/PROTOCOL.md §14 is out of date; regenerate with LOCKSTEP_UPDATE_VECTORS=1";
    }
    if (update) {
        std::ofstream(path) << doc;
        GTEST_SKIP() << "vectors rewritten in " << path;
    }
}

}  // namespace
}  // namespace lockstep::sim
