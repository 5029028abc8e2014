// SPDX-License-Identifier: Apache-2.0
// PROTOCOL.md §14: a complete exchange (handshake, two requests, a re-key,
// close) with fixed keys and randoms, every message in hex with the
// intermediate secrets. This test regenerates it and fails on any difference
// from the text in docs/PROTOCOL.md. §14.1 adds the other modes and suites, §14.2
// RSA-PSS certificates with fixed signatures (rsa_pss_vector.hpp). After a
// deliberate protocol change, regenerate with:
// LOCKSTEP_UPDATE_VECTORS=1 ./spec_vectors_test
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <tuple>

#include "../support/sim.hpp"
#include "keys/keys.hpp"
#include "rsa_pss_vector.hpp"

namespace lockstep::sim {
namespace {

using rsa_vector::hex;

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
    bool rsa = false;       // §14.2: RSA-PSS-2048 keys and certificates, fixed signatures
    const char* flip = "";  // rsa: the signing ("server 0") given with one bit flipped
};

// A case's keys and certificates: Ed25519 from fixed seeds, or the RSA-PSS
// vector's keys, whose signatures are the fixed ones (every signing logged).
struct Creds {
    std::vector<rsa_vector::Signing> signings;
    std::unique_ptr<crypto::Signer> ca, server, client;
    Buf ca_cert, s_cert, c_cert;
    explicit Creds(const Case& k) {
        if (k.rsa) {
            const bool update = std::getenv("LOCKSTEP_UPDATE_VECTORS") != nullptr;
            ca = std::make_unique<rsa_vector::ReplaySigner>("ca", signings, update, k.flip);
            server = std::make_unique<rsa_vector::ReplaySigner>("server", signings, update, k.flip);
            client = std::make_unique<rsa_vector::ReplaySigner>("client", signings, update, k.flip);
        } else {
            ca = fixed_ed25519_signer(0x01), server = fixed_ed25519_signer(0x02), client = fixed_ed25519_signer(0x03);
        }
        const std::uint32_t nb = 1'700'000'000, na = 1'900'000'000;
        ca_cert = Credentials::issue(*ca, *ca, CertRole::ca, "lockstep test CA", nb, na, 1);
        s_cert = Credentials::issue(*ca, *server, CertRole::server, "server.test", nb, na, 2);
        c_cert = Credentials::issue(*ca, *client, CertRole::client, "device-1", nb, na, 3);
    }
};

// One run of a case: both engines configured with fixed inputs, every AEAD
// nonce, sealed plaintext, ephemeral key and logged secret recorded.
struct VectorRun {
    Creds cr;
    Sim sim;
    Log clog, slog;
    std::vector<std::string> nonces, eph;
    std::vector<Buf> sealed;  // every plaintext sealed, both sides
    explicit VectorRun(const Case& k) : cr(k), sim({.mode = k.mode, .suite = k.suite, .ttl = k.ttl, .seed = 2026}) {
        for (auto* p : {&sim.client_provider(), &sim.server_provider()}) {
            const std::string side = p == &sim.client_provider() ? "C " : "S ";
            p->on_seal = [this, side](crypto::ConstBytes, crypto::ConstBytes n) { nonces.push_back(side + hex(n)); };
            p->on_seal_plaintext = [this](crypto::ConstBytes pt) { sealed.emplace_back(pt.begin(), pt.end()); };
            const std::string who = p == &sim.client_provider() ? "client" : "server";
            p->on_keygen = [this, who](crypto::ConstBytes priv, crypto::ConstBytes pub) {
                eph.push_back(who + " X25519 private " + hex(priv) + "\n  public " + hex(pub));
            };
        }
        for (Config* c : {&sim.client_cfg(), &sim.server_cfg()}) {
            c->ca_certificate = cr.ca_cert;
            c->insecure_key_log = c == &sim.client_cfg() ? &clog : &slog;
            if (k.details) {  // the main vector keeps the default offer
                c->suites = {k.suite};
                c->modes = {k.mode};
                c->pad_to = k.pad_to;
            }
        }
        sim.client_cfg().signer = cr.client.get();
        sim.client_cfg().certificate = cr.c_cert;
        sim.server_cfg().signer = cr.server.get();
        sim.server_cfg().certificate = cr.s_cert;
        sim.server_cfg().rekey.after_responses = 2;
        sim.build();
    }
    // Handshake, two requests, the re-key, a close; "" when all went through.
    std::string exchange() {
        if (!sim.handshake() || sim.exchange(2, 4) != 2) return "exchange failed";
        if (!sim.run_until([&] { return sim.client().rekeys == 1; })) return "re-key failed";
        if (!sim.close_from_client()) return "close failed";
        // The server logs the same secrets; they must agree.
        if (clog.items.size() != slog.items.size()) return "client and server key logs differ in length";
        for (std::size_t i = 0; i < clog.items.size(); ++i)
            if (clog.items[i] != slog.items[i]) return "client and server disagree on " + clog.items[i].first;
        return "";
    }
    // The finished MAC sent right after a transcript signature: the 16 bytes
    // after vec16(sig) in the sealed plaintext that carries it.
    std::string finished_after(const Buf& sig) const {
        Buf field(2 + sig.size());
        field[0] = static_cast<std::uint8_t>(sig.size() >> 8);
        field[1] = static_cast<std::uint8_t>(sig.size());
        std::copy(sig.begin(), sig.end(), field.begin() + 2);
        for (const Buf& pt : sealed) {
            auto at = std::search(pt.begin(), pt.end(), field.begin(), field.end());
            if (at != pt.end() && pt.end() - at >= static_cast<std::ptrdiff_t>(field.size() + 16))
                return hex({&*at + field.size(), 16});
        }
        return "(not found)";
    }
};

// What each signing of the RSA-PSS vector signs (§5.4, §5.6, §7.3).
const char* signing_text(const rsa_vector::Signing& s) {
    const std::string l = s.key + " " + std::to_string(s.index);
    if (l == "ca 0") return "the CA certificate (self-signed): its last 256 bytes";
    if (l == "ca 1") return "the server certificate: its last 256 bytes";
    if (l == "ca 2") return "the client certificate: its last 256 bytes";
    if (l == "server 0") return "th3 in HELLO ACK; finished_s over th4 follows";
    if (l == "client 0") return "th6 in ACK; finished_c over th7 follows";
    if (l == "client 1") return "thR2 in the re-key HELLO ACK; finished over thR3 follows";
    if (l == "server 1") return "thR5 in the re-key ACK; finished over thR6 follows";
    return "(unexpected signing)";
}

void print_rsa_signings(std::ostringstream& o, const VectorRun& r) {
    for (const auto& s : r.cr.signings) {
        o << s.key << " " << s.index << ": " << signing_text(s) << "\n";
        if (s.key == "ca") continue;  // printed inside the certificates
        o << "  signed content\n" << block(hex(s.content)) << "  signature\n" << block(hex(s.sig))
          << "  finished MAC sent after it\n    " << r.finished_after(s.sig) << "\n";
    }
}

std::string generate(const Case& k = {}) {
    VectorRun r(k);
    if (auto e = r.exchange(); !e.empty()) return e;
    Sim& sim = r.sim;
    const Creds& cr = r.cr;
    std::ostringstream o;
    if (k.details) {
        o << "#### " << k.title << "\n\nMode " << mode_name(k.mode) << ", suite " << suite_name(k.suite) << " ("
          << static_cast<int>(k.suite) << "), " << (k.ttl == TtlMode::relative ? "relative" : "absolute")
          << " ttl, pad_to " << k.pad_to << "; the same "
          << (k.rsa ? "randoms" : "seeds, certificates") << ", clocks and re-key as above.\n\n```\n";
        if (k.rsa) {
            for (const char* key : {"ca", "server", "client"})
                o << key << " key (PKCS#8 PEM, tests/vectors/rsa_pss/" << key << ".pem)\n" << rsa_vector::pem_text(key);
            o << "CA certificate:\n" << block(hex(cr.ca_cert)) << "server certificate:\n" << block(hex(cr.s_cert))
              << "client certificate:\n" << block(hex(cr.c_cert));
        }
        if (mode_uses_psk(k.mode))
            o << "psk_id " << hex(test_psk_id()) << "\nPSK    " << hex(test_psk()) << "\n";
        for (int i = 0; i < 2; ++i) o << "request " << i + 1 << " body " << hex(Sim::body(4, static_cast<std::uint8_t>(i))) << "\n";
        for (const auto& e : r.eph) o << e << "\n";
        o << "AEAD nonces in sealing order (C: client, S: server):\n";
        for (const auto& n : r.nonces) o << "    " << n << "\n";
        if (k.rsa) {
            o << "```\n\nSignatures, in signing order (\"<key> <n>\": the key's n-th signing;\n"
                 "tests/vectors/rsa_pss/signatures.txt):\n\n```\n";
            print_rsa_signings(o, r);
        }
        o << "```\n\nMessages:\n\n```\n";
        print_messages(o, sim);
        o << "```\n\nKey schedule values (client side):\n\n```\n";
        for (const auto& [label, v] : r.clog.items) o << label << "\n" << block(hex(v));
        o << "```\n\n";
        return o.str();
    }
    o << "Mode cert, suite AES-256-GCM (1), Ed25519 keys from fixed seeds, re-key after 2\n"
         "responses, wall clock 1800000001 s at the first message, 5 ms one-way latency.\n\n";
    o << "```\n";
    o << "CA Ed25519 seed      0101010101010101010101010101010101010101010101010101010101010101\n";
    o << "server Ed25519 seed  0202020202020202020202020202020202020202020202020202020202020202\n";
    o << "client Ed25519 seed  0303030303030303030303030303030303030303030303030303030303030303\n";
    o << "CA certificate:\n" << block(hex(cr.ca_cert));
    o << "server certificate:\n" << block(hex(cr.s_cert));
    o << "client certificate:\n" << block(hex(cr.c_cert));
    for (const auto& e : r.eph) o << e << "\n";
    o << "```\n\nMessages, in the order sent (TCP framing not shown):\n\n```\n";
    print_messages(o, sim);
    o << "```\n\nKey schedule values (client side; the server derives the same):\n\n```\n";
    for (const auto& [label, v] : r.clog.items) o << label << "\n" << block(hex(v));
    o << "```\n\nConnection ids (§6.9): HKDF-Expand-Label(c_ap(n), \"cid\", \"\", 8), what a UDP client\n"
         "would send in front of its epoch n records:\n\n```\n";
    for (const auto& [label, v] : r.clog.items) {
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

// §14.2: cert mode with RSA-PSS-2048 keys and certificates (CA, server, client).
const Case kRsa{Mode::cert, Suite::aes256gcm, TtlMode::absolute, 0, true,
                "cert, RSA-PSS-2048-SHA256 keys and certificates", true};

const char* kBegin = "<!-- VECTORS:BEGIN -->\n";
const char* kEnd = "<!-- VECTORS:END -->";
const char* kMoreBegin = "<!-- MORE VECTORS:BEGIN -->\n";
const char* kMoreEnd = "<!-- MORE VECTORS:END -->";
const char* kRsaBegin = "<!-- RSA-PSS VECTOR:BEGIN -->\n";
const char* kRsaEnd = "<!-- RSA-PSS VECTOR:END -->";

TEST(SpecVectors, ProtocolMdMatchesARegeneratedExchange) {
    const char* over = std::getenv("LOCKSTEP_PROTOCOL_MD");  // another copy of the spec
    const std::string path = over ? over : std::string(LOCKSTEP_SOURCE_DIR) + "/docs/PROTOCOL.md";
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string doc = ss.str();
    // Generating twice gives the same bytes (nothing depends on real randomness).
    // (RSA-PSS: the fixed signatures of tests/vectors/rsa_pss/signatures.txt.)
    const std::string fresh = generate(), more = generate_more(), rsa = generate(kRsa);
    ASSERT_EQ(fresh, generate());
    ASSERT_EQ(more, generate_more());
    ASSERT_EQ(rsa, generate(kRsa));
    const bool update = std::getenv("LOCKSTEP_UPDATE_VECTORS") != nullptr;
    if (update) {
        ASSERT_TRUE(rsa_vector::save_if_changed());
    }
    for (auto [begin, end, text] : {std::tuple{kBegin, kEnd, &fresh}, std::tuple{kMoreBegin, kMoreEnd, &more},
                                    std::tuple{kRsaBegin, kRsaEnd, &rsa}}) {
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

// §14.2's rule: every fixed signature verifies (OpenSSL) over the signed content
// printed with it and under the printed key; one flipped bit is refused; a fresh
// signature by the same key differs (PSS is randomised) and verifies too.
TEST(SpecVectors, RsaPssFixedSignaturesVerifyAndOneFlippedBitIsRefused) {
    VectorRun r(kRsa);
    ASSERT_EQ(r.exchange(), "");
    ASSERT_EQ(r.cr.signings.size(), 7u);  // 3 certificates, 2 handshake, 2 re-key
    crypto::openssl::OpenSslProvider p;
    for (const auto& s : r.cr.signings) {
        SCOPED_TRACE(s.key + " " + std::to_string(s.index));
        auto& key = static_cast<rsa_vector::ReplaySigner&>(s.key == "ca" ? *r.cr.ca
                                                            : s.key == "server" ? *r.cr.server : *r.cr.client);
        const auto alg = crypto::SigAlg::rsa_pss_2048_sha256;
        ASSERT_EQ(key.alg(), alg);
        ASSERT_EQ(s.sig.size(), 256u);
        EXPECT_TRUE(p.verify(alg, key.public_key(), s.content, s.sig));
        Buf bad = s.sig;
        rsa_vector::flip_one_bit(bad);
        EXPECT_EQ(p.verify(alg, key.public_key(), s.content, bad).error(), Err::bad_signature);
        Buf own(256);
        ASSERT_TRUE(key.real().sign(s.content, own));
        EXPECT_NE(own, s.sig);
        EXPECT_TRUE(p.verify(alg, key.public_key(), s.content, own));
    }
    // The CA's signatures are the certificates' last 256 bytes.
    for (auto [i, cert] : {std::pair{0, &r.cr.ca_cert}, std::pair{1, &r.cr.s_cert}, std::pair{2, &r.cr.c_cert}})
        EXPECT_TRUE(std::equal(r.cr.signings.at(static_cast<std::size_t>(i)).sig.rbegin(),
                               r.cr.signings.at(static_cast<std::size_t>(i)).sig.rend(), cert->rbegin()));
}

// The same exchange with one bit of one fixed signature flipped: the peer's
// OpenSSL verification refuses it (bad_signature) and the exchange stops there;
// with the server's HELLO ACK signature, before the client's identity leaves.
TEST(SpecVectors, RsaPssAFlippedBitInAnyFixedSignatureStopsTheExchange) {
    auto sent = [](const Endpoint& ep, MsgType t) {
        return std::count_if(ep.sent.begin(), ep.sent.end(), [t](const TraceEntry& e) { return e.type == t; });
    };
    for (const char* flip : {"server 0", "client 0", "client 1", "server 1"}) {
        SCOPED_TRACE(flip);
        Case k = kRsa;
        k.flip = flip;
        VectorRun r(k);
        EXPECT_NE(r.exchange(), "");
        const bool by_server = flip[0] == 's';
        const Endpoint& verifier = by_server ? r.sim.client() : r.sim.server();
        EXPECT_NE(std::find(verifier.faults.begin(), verifier.faults.end(), Err::bad_signature), verifier.faults.end());
        EXPECT_TRUE(verifier.closed);
        if (std::string(flip) == "server 0") {
            EXPECT_EQ(sent(r.sim.client(), MsgType::ack), 0);  // no ACK: the client certificate never left
            EXPECT_EQ(r.sim.client().handshakes, 0);
        }
        if (std::string(flip) == "client 0") {
            EXPECT_EQ(r.sim.server().handshakes, 0);
        }
        if (flip[7] == '1') {  // a re-key signature: the verifier never enters epoch 2
            EXPECT_EQ(verifier.rekeys, 0);
        }
    }
}

}  // namespace
}  // namespace lockstep::sim
