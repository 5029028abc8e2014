// SPDX-License-Identifier: Apache-2.0
// lockstep fuzzing — writes the seed corpora: `lockstep_fuzz_corpus DIR` fills
// DIR/<target>/ (tests/fuzz/corpus when regenerating the committed seeds; delete
// the old folders first). First the messages and certificates of the spec's test
// vectors (docs/PROTOCOL.md §14); then real exchanges between two engines on the
// insecure provider (handshake in every mode, requests, re-keys, close), recorded
// through the fuzz harness, so the seeds follow the current wire format. File names are a hash of the content; output is deterministic.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>

#include "fuzz_support.hpp"
#include "wire/wire.hpp"

namespace lockstep::fuzz {
namespace {

namespace fs = std::filesystem;

class Corpus {
public:
    explicit Corpus(fs::path root) : root_(std::move(root)) {}
    // Adds a seed unless the target already has `cap` of them (or this one).
    void add(const std::string& target, const Buf& bytes, std::size_t cap = 16) {
        auto& seen = files_[target];
        if (seen.size() >= cap) return;
        std::uint64_t h = 0xcbf29ce484222325ull;
        for (auto b : bytes) h = (h ^ b) * 0x100000001b3ull;
        char name[32];
        std::snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(h));
        if (!seen.insert(name).second) return;
        fs::create_directories(root_ / target);
        std::ofstream(root_ / target / name, std::ios::binary)
            .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    void report() const {
        std::size_t total = 0;
        for (const auto& [t, s] : files_) {
            std::printf("%-14s %zu\n", t.c_str(), s.size());
            total += s.size();
        }
        std::printf("total          %zu\n", total);
    }

private:
    fs::path root_;
    std::map<std::string, std::set<std::string>> files_;
};

// Drives a Harness while recording the script that reproduces the run.
class Script {
public:
    Script(const ScriptSetup& s, Corpus& corpus) : setup_(s), h_(s), corpus_(corpus) {
        auto hdr = s.header();
        bytes_.assign(hdr.begin(), hdr.end());
        h_.on_send = [this](Role, crypto::ConstBytes m) { on_message(Buf(m.begin(), m.end())); };
        h_.on_open = [this](crypto::ConstBytes pt) { on_plaintext(Buf(pt.begin(), pt.end())); };
        h_.start();
    }
    Harness& harness() { return h_; }
    void add(std::initializer_list<std::uint8_t> op_bytes) {
        const Buf b(op_bytes);
        bytes_.insert(bytes_.end(), b.begin(), b.end());
        std::size_t pos = 0;
        while (pos < b.size()) pos += h_.step(b.data() + pos, b.size() - pos);
    }
    // Deliver everything in order, one message at a time (server-bound first).
    void settle() {
        for (int guard = 0; guard < 100 && (h_.queued(kToServer) || h_.queued(kToClient)); ++guard)
            add({op(kDeliver, h_.queued(kToServer) ? kToServer : kToClient)});
    }
    // n requests answered one by one, in single steps.
    void requests(int n) {
        for (int done = 0, guard = 0; done < n && guard < 20 * n; ++guard) {
            settle();
            if (h_.server_has_request()) {
                add({op(kResponse), 0, 5});
            } else if (h_.client().can_send_request()) {
                add({op(kRequest, static_cast<std::uint8_t>(done & 15)), 0, 8});
                ++done;
            } else {
                break;
            }
        }
        settle();
        if (h_.server_has_request()) add({op(kResponse), 0, 5});
        settle();
    }
    void save() {
        std::printf("engine script: %4zu bytes, %2d responses, epoch %u, client %s, server %s\n", bytes_.size(),
                    h_.responses(), h_.client().epoch(), state_name(h_.client().state()),
                    state_name(h_.server().state()));
        corpus_.add("engine", bytes_, 40);
    }

private:
    void on_message(const Buf& m) {
        if (m.empty()) return;
        switch (static_cast<wire::Frame>(m.front())) {
            case wire::Frame::hello: corpus_.add("hello", m, 8); break;
            case wire::Frame::hello_ack: corpus_.add("hello_ack", m, 10); break;
            case wire::Frame::close: corpus_.add("clear_close", m, 6); break;
            case wire::Frame::cookie:
            case wire::Frame::cookie_hello:
            case wire::Frame::cid_record: break;  // only from a server under load (not in these scripts)
            case wire::Frame::record: corpus_.add("record", m, 14); break;
        }
    }
    void on_plaintext(const Buf& pt) {
        if (wire::decode_hello_ack_auth(pt)) {
            corpus_.add("hello_ack", pt, 16);
            if (auto a = wire::decode_hello_ack_auth(pt); a && !a->cert.empty())
                corpus_.add("cert", Buf(a->cert.begin(), a->cert.end()), 8);
            return;
        }
        auto m = wire::decode_inner(pt);
        if (!m) return;
        corpus_.add("record", pt, 24);
        const Buf body(m->body.begin(), m->body.end());
        switch (m->type) {
            case MsgType::hello:
            case MsgType::hello_ack:
            case MsgType::close:
            case MsgType::data_ack:
            case MsgType::resend_last: corpus_.add("record_body", body, 14); break;
            case MsgType::ack:
                corpus_.add("record_body", body, 14);
                if (auto a = wire::decode_ack_body(body); a && !a->cert.empty())
                    corpus_.add("cert", Buf(a->cert.begin(), a->cert.end()), 8);
                break;
            default: break;
        }
    }

    ScriptSetup setup_;
    Harness h_;
    Corpus& corpus_;
    Buf bytes_;
};

void engine_scripts(Corpus& c) {
    const Mode modes[] = {Mode::cert, Mode::psk, Mode::cert_psk, Mode::psk_only};
    const Suite suites[] = {Suite::aes256gcm, Suite::chacha20poly1305, Suite::aes256gcm_hmac_sha512};
    // Every mode and policy, step by step: handshake, 25 requests (re-keys after 10), close.
    for (int i = 0; i < 8; ++i) {
        ScriptSetup s;
        s.mode = modes[i % 4];
        s.suite = suites[i % 3];
        s.policy = i < 4 ? Policy::strict : Policy::tolerant;
        s.seed = static_cast<std::uint8_t>(i);
        Script sc(s, c);
        sc.requests(25);
        sc.add({op(kClose, 0), 0});
        sc.settle();
        sc.save();
    }
    // Compact forms through kPump, with the other configuration knobs.
    for (int i = 0; i < 8; ++i) {
        ScriptSetup s;
        s.mode = modes[(i + 1) % 4];
        s.suite = suites[(i + 2) % 3];
        s.alg = i == 1 ? crypto::SigAlg::rsa_pss_2048_sha256 : i == 5 ? crypto::SigAlg::rsa_pss_3072_sha256
                                                                      : crypto::SigAlg::ed25519;
        s.policy = (i & 1) ? Policy::tolerant : Policy::strict;
        s.ttl = (i & 2) ? TtlMode::relative : TtlMode::absolute;
        s.after_responses = static_cast<std::uint8_t>(1 + i);
        s.after_bytes = i == 3;
        s.max_data = static_cast<std::uint8_t>(i & 3);
        s.pad_to = static_cast<std::uint8_t>((i >> 1) & 3);
        s.client_all_modes = s.server_all_modes = i >= 4;
        s.client_all_suites = i >= 6;
        s.seed = static_cast<std::uint8_t>(100 + i);
        Script sc(s, c);
        sc.add({op(kPump, 15)});
        sc.add({op(kClose, 1), 0});
        sc.settle();
        sc.save();
    }
    // Timers: re-key by age, resend after a loss (tolerant), receive timeout and
    // close retries (strict), relative ttl with clock skew.
    {
        ScriptSetup s;
        s.mode = Mode::psk;
        s.after_responses = 0;
        s.after_time = 1;
        s.small_timers = true;
        Script sc(s, c);
        sc.requests(2);
        sc.add({op(kTime, 4), 0, 6});  // 600 ms: re-key by age
        sc.settle();
        sc.requests(2);
        sc.save();
    }
    {
        ScriptSetup s;
        s.mode = Mode::cert_psk;
        s.policy = Policy::tolerant;
        s.small_timers = true;
        Script sc(s, c);
        sc.requests(3);
        sc.add({op(kRequest), 0, 8});
        sc.add({op(kDrop, kToServer)});
        sc.add({op(kTime, 4), 0, 12});  // 1.2 s: RESEND LAST
        sc.settle();
        sc.requests(1);
        sc.add({op(kDuplicate, kToClient)});
        sc.save();
    }
    {
        ScriptSetup s;
        s.mode = Mode::cert;
        s.small_timers = true;
        Script sc(s, c);
        sc.requests(2);
        sc.add({op(kTime, 6), 0, 3});  // 3 s: receive timeout, CLOSE
        sc.add({op(kDrop, kToClient)});
        sc.add({op(kTime, 6), 0, 2});
        sc.add({op(kTime, 6), 0, 2});
        sc.settle();
        sc.save();
    }
    {
        ScriptSetup s;
        s.mode = Mode::psk_only;
        s.ttl = TtlMode::relative;
        s.policy = Policy::tolerant;
        Script sc(s, c);
        sc.requests(2);
        sc.add({op(kSkew, kToServer), 0x80});
        sc.add({op(kRequest), 0, 3});
        sc.add({op(kTime, 2), 0xff, 0xff});
        sc.settle();
        sc.save();
    }
    // Tampering: a mutated record, a replayed one, a reordered pair, a truncated
    // one, raw bytes; with any tag accepted, and with tags checked.
    for (bool strict_tags : {false, true}) {
        ScriptSetup s;
        s.mode = strict_tags ? Mode::cert : Mode::psk;
        s.policy = Policy::tolerant;
        s.strict_tags = strict_tags;
        Script sc(s, c);
        sc.requests(2);
        sc.add({op(kRequest), 0, 8});
        sc.add({op(kDeliverMutated, kToServer), 0, 0, 6, 0x04});  // inner type byte
        sc.settle();
        sc.add({op(kReplay, kToServer), 3});
        sc.requests(1);
        sc.add({op(kRequest), 0, 8});
        sc.add({op(kTruncate, kToServer), 0, 30});
        sc.settle();
        sc.save();
    }
    {
        ScriptSetup s;
        s.mode = Mode::cert;
        Script sc(s, c);
        sc.add({op(kRaw, kToServer), 0, 3, 0x01, 0x01, 0x01});
        sc.add({op(kReorder, kToServer)});
        sc.add({op(kStart, kToClient)});
        sc.settle();
        sc.save();
    }
    // Close before keys: clear CLOSE both ways.
    for (int side = 0; side < 2; ++side) {
        ScriptSetup s;
        s.mode = Mode::psk;
        Script sc(s, c);
        if (side == 1) sc.add({op(kDeliver, kToServer)});
        sc.add({op(kClose, static_cast<std::uint8_t>(side)), static_cast<std::uint8_t>(3 + side)});
        sc.settle();
        sc.save();
    }
}

void clear_closes(Corpus& c) {
    for (std::uint8_t r : {std::uint8_t{0}, std::uint8_t{9}, std::uint8_t{17}}) {
        std::uint8_t buf[16];
        Writer w(buf);
        wire::encode_clear_close({static_cast<Reason>(r), 7, 0x01020304, 1'800'000'025}, w);
        c.add("clear_close", Buf(w.written().begin(), w.written().end()), 6);
    }
}

void certificates(Corpus& c) {
    const crypto::SigAlg algs[] = {crypto::SigAlg::ed25519, crypto::SigAlg::rsa_pss_2048_sha256,
                                   crypto::SigAlg::rsa_pss_3072_sha256};
    for (auto alg : algs) {
        InsecureCredentials& cr = InsecureCredentials::get(alg);
        c.add("cert", cr.ca_cert, 8);
        c.add("cert", cr.server_cert, 8);
        // certs_verify: flags, u32 now, u16 CA length, CA, certificate.
        for (std::uint8_t flags : {std::uint8_t{0x04}, std::uint8_t{0x09}}) {  // server role strict / client role any signature
            const Buf& cert = (flags >> 2) % 3 + 1 == 2 ? cr.server_cert : cr.client_cert;
            Buf in = {flags, 0x6b, 0x49, 0xd2, 0x00};  // 1'800'000'000
            in.push_back(static_cast<std::uint8_t>(cr.ca_cert.size() >> 8));
            in.push_back(static_cast<std::uint8_t>(cr.ca_cert.size()));
            in.insert(in.end(), cr.ca_cert.begin(), cr.ca_cert.end());
            in.insert(in.end(), cert.begin(), cert.end());
            c.add("certs_verify", in, 8);
        }
    }
    // An expired certificate and one of another CA, strict signatures.
    InsecureCredentials& cr = InsecureCredentials::get();
    InsecureTestSigner other_ca(crypto::SigAlg::ed25519, 77);
    const Buf expired = issue_cert(cr.ca_key, cr.server_key, CertRole::server, "old", 1'000'000'000, 1'100'000'000);
    const Buf foreign = issue_cert(other_ca, cr.server_key, CertRole::server, "foreign", kCertNotBefore, kCertNotAfter);
    // And an anchor that is not self-signed (the CA key certified by another CA):
    // verify() accepts it as configured, verify_ca() does not.
    const Buf cross = issue_cert(other_ca, cr.ca_key, CertRole::ca, "cross", kCertNotBefore, kCertNotAfter);
    const std::pair<const Buf*, const Buf*> cases[] = {
        {&cr.ca_cert, &expired}, {&cr.ca_cert, &foreign}, {&cross, &cr.server_cert}};
    for (const auto& [anchor, cert] : cases) {
        Buf in = {0x04, 0x6b, 0x49, 0xd2, 0x00};
        in.push_back(static_cast<std::uint8_t>(anchor->size() >> 8));
        in.push_back(static_cast<std::uint8_t>(anchor->size()));
        in.insert(in.end(), anchor->begin(), anchor->end());
        in.insert(in.end(), cert->begin(), cert->end());
        c.add("certs_verify", in, 9);
    }
}

// --trace FILE: replays an engine script (e.g. a crash artifact) and prints
// every message and fault of both engines, then their final states.
class PrintTracer final : public Tracer {
public:
    explicit PrintTracer(const char* who) : who_(who) {}
    void on_message(const TraceEntry& e) noexcept override {
        std::printf("%s %s %-18s seq=%u ack=%u epoch=%u len=%zu%s\n", who_, e.sent ? "->" : "<-",
                    msg_type_name(e.type), e.seq, e.ack, e.epoch, e.wire_len, e.retransmission ? " (resent)" : "");
    }
    void on_fault(Err e, bool fatal) noexcept override {
        std::printf("%s fault %s%s\n", who_, err_name(e), fatal ? " (fatal)" : "");
        std::fflush(stdout);
    }

private:
    const char* who_;
};

// The messages and certificates of the specification's test vectors
// (docs/PROTOCOL.md §14, made with the real provider): hex blocks under a
// "C->S ..."/"S->C ..." or "... certificate:" line, sorted by their first byte.
void spec_vectors(Corpus& corpus, const fs::path& spec) {
    std::ifstream in(spec);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", spec.string().c_str());
        std::exit(1);
    }
    std::string line, target;
    Buf block;
    bool inside = false;
    std::size_t blocks = 0;
    auto flush = [&] {
        if (!target.empty() && !block.empty()) {
            corpus.add(target == "msg" ? std::string(block[0] == 0x01   ? "hello"
                                                     : block[0] == 0x02 ? "hello_ack"
                                                     : block[0] == 0x08 ? "clear_close"
                                                                        : "record")
                                       : target,
                       block);
            ++blocks;
        }
        target.clear();
        block.clear();
    };
    while (std::getline(in, line)) {
        if (line.find("<!-- VECTORS:BEGIN -->") != std::string::npos) inside = true;
        if (line.find("<!-- VECTORS:END -->") != std::string::npos) break;
        if (!inside) continue;
        const bool hex = line.size() > 4 && line.compare(0, 4, "    ") == 0 &&
                         line.find_first_not_of("0123456789abcdef", 4) == std::string::npos;
        if (hex) {
            for (std::size_t i = 4; i + 1 < line.size(); i += 2)
                block.push_back(static_cast<std::uint8_t>(std::stoi(line.substr(i, 2), nullptr, 16)));
            continue;
        }
        flush();
        if (line.rfind("C->S ", 0) == 0 || line.rfind("S->C ", 0) == 0) target = "msg";
        else if (line.size() > 12 && line.compare(line.size() - 12, 12, "certificate:") == 0) target = "cert";
    }
    flush();
    if (blocks < 10) {
        std::fprintf(stderr, "%s: only %zu test-vector blocks found\n", spec.string().c_str(), blocks);
        std::exit(1);
    }
}

// TOML config files for `serve --config` / `request --config` (tools/README.md).
void config_files(Corpus& corpus) {
    static const char* const kFiles[] = {
        ("tcp = 7400\nudp = 7400\nmode = [\"cert+psk\", \"psk\"]\ncert = \"server.cert\"\nkey = \"server.key\"\n"
         "ca = \"ca\"\nsource = \"sensor:5\"\nrekey-after = 3\ntrace = true\n"
         "[[psks]]\nfile = \"device-1.psk\"\n[[psks]]\nfile = \"d2.psk\"\nid = \"second\"\n"),
        ("psk = \"device.psk\"\ncount = 2\nsummary = true\nmode = \"psk,cert+psk\"\nsuite = [\"chacha20poly1305\"]\n"
         "policy = \"tolerant\"\nmax-data = 1024\ntimeout = 2000\ninterval = 10\nudp = true\n"),
        "source = \"file:data/readings.txt\"\nbind = \"::1\"\nthreads = 2\ncmd-timeout = 500\n",
        "mode = [\n",
        "frobnicate = 1\n",
        ("tcp = \"seven\"\n[table]\nx = [1, [2]]\n"),
        "summary = t\ncount = 1\n",  // a finding: the parser's error quoted the newline
    };
    for (const char* f : kFiles) corpus.add("config", Buf(f, f + std::strlen(f)));
}

int trace_script(const char* path) {
    std::ifstream f(path, std::ios::binary);
    const Buf in{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    std::uint8_t header[kHeaderLen] = {};
    std::copy_n(in.begin(), std::min(in.size(), kHeaderLen), header);
    Harness h(ScriptSetup::from_header(header));
    PrintTracer tc("C"), ts("S");
    h.client().set_tracer(&tc);
    h.server().set_tracer(&ts);
    static const char* const kKinds[] = {"handshake_done", "request", "response", "rekeyed", "closed"};
    h.on_event = [](Role at, const Event& ev) {
        std::printf("%s event %s epoch=%u len=%zu reason=%s\n", at == Role::client ? "C" : "S",
                    kKinds[static_cast<int>(ev.kind)], ev.epoch, ev.data.size(), reason_name(ev.reason));
        std::fflush(stdout);
    };
    h.start();
    for (std::size_t pos = kHeaderLen; pos < in.size();) {
        std::printf("-- op %02x at %zu, t=%lld ms\n", in[pos], pos, static_cast<long long>(h.now_ms()));
        pos += h.step(in.data() + pos, in.size() - pos);
    }
    std::printf("client %s (last error %s), server %s (last error %s)\n", state_name(h.client().state()),
                err_name(h.client().last_error()), state_name(h.server().state()), err_name(h.server().last_error()));
    return 0;
}

}  // namespace
}  // namespace lockstep::fuzz

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "--trace") return lockstep::fuzz::trace_script(argv[2]);
    if (argc != 2) {
        std::fprintf(stderr,
                     "usage: %s OUT_DIR        write the seed corpora to OUT_DIR/<target>/<hash>\n"
                     "       %s --trace FILE   replay an engine script, printing both engines' traces\n",
                     argv[0], argv[0]);
        return 2;
    }
    lockstep::fuzz::Corpus corpus(argv[1]);
    lockstep::fuzz::spec_vectors(corpus, std::filesystem::path(LOCKSTEP_SOURCE_DIR) / "docs/PROTOCOL.md");
    lockstep::fuzz::engine_scripts(corpus);
    lockstep::fuzz::clear_closes(corpus);
    lockstep::fuzz::certificates(corpus);
    lockstep::fuzz::config_files(corpus);
    corpus.report();
    return 0;
}
