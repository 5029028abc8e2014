// SPDX-License-Identifier: Apache-2.0
#include "fuzz_support.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "handshake/certs.hpp"
#include "wire/wire.hpp"

namespace lockstep::fuzz {

using namespace std::chrono;

void violation(const char* what, const char* detail) {
    std::fprintf(stderr, "lockstep fuzz: invariant violated: %s %s\n", what, detail);
    std::abort();
}

// ---------------------------------------------------------------- credentials
Buf issue_cert(crypto::Signer& issuer, const crypto::Signer& subject_key, CertRole role, const char* subject,
               std::uint32_t not_before, std::uint32_t not_after) {
    InsecureTestProvider p(0);
    wire::Cert c;
    c.role = role;
    c.key_alg = subject_key.alg();
    c.subject = {reinterpret_cast<const std::uint8_t*>(subject), std::strlen(subject)};
    c.serial = 7;
    c.not_before = not_before;
    c.not_after = not_after;
    c.pubkey = subject_key.public_key();
    Buf out(wire::kMaxCert);
    auto n = certs::issue(p, issuer, c, out);
    if (!n) violation("test setup: certs::issue failed", err_name(n.error()));
    out.resize(*n);
    return out;
}

namespace {
InsecureCredentials make_credentials(crypto::SigAlg leaf) {
    const auto base = static_cast<std::uint64_t>(leaf) * 16;
    InsecureCredentials c{InsecureTestSigner(crypto::SigAlg::ed25519, 1), InsecureTestSigner(leaf, base + 2),
                          InsecureTestSigner(leaf, base + 3), {}, {}, {}};
    c.ca_cert = issue_cert(c.ca_key, c.ca_key, CertRole::ca, "insecure test CA", kCertNotBefore, kCertNotAfter);
    c.server_cert = issue_cert(c.ca_key, c.server_key, CertRole::server, "server.test", kCertNotBefore, kCertNotAfter);
    c.client_cert = issue_cert(c.ca_key, c.client_key, CertRole::client, "device-1", kCertNotBefore, kCertNotAfter);
    return c;
}
}  // namespace

InsecureCredentials& InsecureCredentials::get(crypto::SigAlg leaf) {
    static InsecureCredentials ed = make_credentials(crypto::SigAlg::ed25519);
    static InsecureCredentials rsa2 = make_credentials(crypto::SigAlg::rsa_pss_2048_sha256);
    static InsecureCredentials rsa3 = make_credentials(crypto::SigAlg::rsa_pss_3072_sha256);
    switch (leaf) {
        case crypto::SigAlg::rsa_pss_2048_sha256: return rsa2;
        case crypto::SigAlg::rsa_pss_3072_sha256: return rsa3;
        default: return ed;
    }
}

const Buf& test_psk() {
    static const Buf k(32, 0x5a);
    return k;
}
const Buf& test_psk_id() {
    static const Buf id{'d', 'e', 'v', 'i', 'c', 'e', '-', '1'};  // the client certificate's subject (cert+psk)
    return id;
}
std::span<const std::uint8_t> TestPskStore::find(std::span<const std::uint8_t> id) const noexcept {
    if (std::equal(id.begin(), id.end(), test_psk_id().begin(), test_psk_id().end())) return test_psk();
    return {};
}

// ---------------------------------------------------------------- setup header
std::array<std::uint8_t, kHeaderLen> ScriptSetup::header() const {
    std::array<std::uint8_t, kHeaderLen> h{};
    const std::uint8_t key = alg == crypto::SigAlg::rsa_pss_2048_sha256   ? 1
                             : alg == crypto::SigAlg::rsa_pss_3072_sha256 ? 2
                                                                          : 0;
    h[0] = static_cast<std::uint8_t>((static_cast<std::uint8_t>(mode) - 1) |
                                     ((static_cast<std::uint8_t>(suite) - 1) << 2) |
                                     (policy == Policy::tolerant ? 0x10 : 0) | (ttl == TtlMode::relative ? 0x20 : 0) |
                                     (key << 6));
    h[1] = static_cast<std::uint8_t>((after_responses & 0x0f) | ((after_time & 3) << 4) | (after_bytes ? 0x40 : 0) |
                                     (small_timers ? 0x80 : 0));
    h[2] = static_cast<std::uint8_t>((max_data & 3) | ((pad_to & 3) << 2) | (client_all_modes ? 0x10 : 0) |
                                     (server_all_modes ? 0x20 : 0) | (client_all_suites ? 0x40 : 0) |
                                     (strict_tags ? 0x80 : 0));
    h[3] = seed;
    return h;
}

ScriptSetup ScriptSetup::from_header(const std::uint8_t* h) {
    ScriptSetup s;
    s.mode = static_cast<Mode>((h[0] & 3) + 1);
    s.suite = static_cast<Suite>(((h[0] >> 2) & 3) % 3 + 1);
    s.policy = (h[0] & 0x10) ? Policy::tolerant : Policy::strict;
    s.ttl = (h[0] & 0x20) ? TtlMode::relative : TtlMode::absolute;
    const std::uint8_t alg = static_cast<std::uint8_t>(h[0] >> 6);
    s.alg = alg == 1   ? crypto::SigAlg::rsa_pss_2048_sha256
            : alg == 2 ? crypto::SigAlg::rsa_pss_3072_sha256
                       : crypto::SigAlg::ed25519;
    s.after_responses = h[1] & 0x0f;
    s.after_time = (h[1] >> 4) & 3;
    s.after_bytes = (h[1] & 0x40) != 0;
    s.small_timers = (h[1] & 0x80) != 0;
    s.max_data = h[2] & 3;
    s.pad_to = (h[2] >> 2) & 3;
    s.client_all_modes = (h[2] & 0x10) != 0;
    s.server_all_modes = (h[2] & 0x20) != 0;
    s.client_all_suites = (h[2] & 0x40) != 0;
    s.strict_tags = (h[2] & 0x80) != 0;
    s.seed = h[3];
    return s;
}

// ---------------------------------------------------------------- harness
namespace {
constexpr std::size_t kMaxQueued = 256;   // per direction; older messages are lost
constexpr std::size_t kMaxHistory = 32;   // per sender, for kReplay
constexpr std::size_t kMaxRaw = 4096;
constexpr int kMaxOps = 4000;
constexpr std::int64_t kMaxSkewMs = 86'400'000;
// Open engine finding (FuzzRegressions.DISABLED_ClientRefusesResponseOverMaxData):
// the client hands the application DATA RESPONSE bodies longer than its
// max_data (the server does check requests). Tolerated here so the fuzzer keeps
// looking for other faults; set to false once the engine checks responses.
constexpr bool kKnownIssueResponseOverMaxData = true;
constexpr int kMaxPumpRounds = 64;   // per script: keeps every run short
constexpr int kMaxTimeoutCalls = 8;  // > max_close_retries + 1 and max_resends + 1 of every setup

// 16384 (the default) is not choice 0: its 100 KB workspaces make a run slower.
constexpr std::uint16_t kMaxDataChoice[4] = {300, 16384, 1, 64};
constexpr std::uint16_t kPadChoice[4] = {0, 16, 7, 256};
constexpr std::int64_t kAfterTimeMs[4] = {0, 500, 5'000, 60'000};
constexpr std::int64_t kTimeUnitMs[4] = {1, 10, 100, 1000};
const Mode kAllModes[4] = {Mode::cert, Mode::psk, Mode::cert_psk, Mode::psk_only};
const Suite kAllSuites[3] = {Suite::aes256gcm, Suite::chacha20poly1305, Suite::aes256gcm_hmac_sha512};

// Reads operation arguments; bytes past the end read as zero.
struct In {
    const std::uint8_t* p;
    std::size_t n, pos = 0;
    std::uint8_t u8() { return pos < n ? p[pos++] : 0; }
    std::uint16_t u16() {
        const std::uint16_t hi = u8();
        return static_cast<std::uint16_t>((hi << 8) | u8());
    }
};

bool same_text(std::span<const std::uint8_t> a, const char* b) {
    return a.size() == std::strlen(b) && std::memcmp(a.data(), b, a.size()) == 0;
}

bool frame_decodes(const Buf& m) {
    switch (static_cast<wire::Frame>(m[0])) {
        case wire::Frame::hello: return wire::decode_hello(m).has_value();
        case wire::Frame::hello_ack: return wire::decode_hello_ack(m).has_value();
        case wire::Frame::close: return wire::decode_clear_close(m).has_value();
        case wire::Frame::cookie: return wire::decode_cookie(m).has_value();
        case wire::Frame::cookie_hello: return wire::decode_cookie_hello(m).has_value();
        case wire::Frame::record: return wire::decode_record(m, crypto::kAeadTagLen).has_value();
        case wire::Frame::cid_record: return wire::decode_cid_record(m).has_value();
    }
    return false;
}

Prefs<Mode, 4> modes_starting_with(Mode first, bool all) {
    Prefs<Mode, 4> p{first};
    if (all)
        for (Mode m : kAllModes)
            if (m != first) p.items[p.count++] = m;
    return p;
}
}  // namespace

struct Harness::Side {
    Role role = Role::client;
    std::unique_ptr<TapProvider> prov;
    Config cfg;
    Buf txbuf;
    std::unique_ptr<Engine> engine;
    std::deque<Buf> out;      // sent by this side, not yet delivered
    std::deque<Buf> history;  // the last kMaxHistory messages sent
    std::int64_t wall_skew_ms = 0;
    bool closed_seen = false, pending_request = false;
    int closed_events = 0, handshakes = 0, responses = 0, responses_sent = 0;
    std::uint32_t epoch_seen = 0;
};

Harness::Harness(const ScriptSetup& s) : setup_(s), side_(new Side[2]), any_tag_(!s.strict_tags) {
    InsecureCredentials& cr = InsecureCredentials::get(s.alg);
    for (int i = 0; i < 2; ++i) {
        Side& sd = side_[i];
        const bool client = i == 0;
        sd.role = client ? Role::client : Role::server;
        sd.prov = std::make_unique<TapProvider>(std::uint64_t{s.seed} * 2 + static_cast<std::uint64_t>(i) + 1,
                                                any_tag_);
        Config& c = sd.cfg;
        c.role = sd.role;
        c.provider = sd.prov.get();
        c.modes = client ? modes_starting_with(s.mode, s.client_all_modes)
                         : modes_starting_with(s.mode, s.server_all_modes);
        if (client && !s.client_all_suites) {
            c.suites = {s.suite};
        } else {
            c.suites = {};
            c.suites.items[c.suites.count++] = s.suite;
            for (Suite x : kAllSuites)
                if (x != s.suite) c.suites.items[c.suites.count++] = x;
        }
        c.policy = s.policy;
        c.ttl_mode = s.ttl;
        if (s.small_timers) {
            c.timers.ttl_lifetime = milliseconds(5'000);
            c.timers.clock_skew = milliseconds(1'000);
            c.timers.receive_timeout = milliseconds(2'000);
            c.timers.resend_timeout = milliseconds(1'000);
            c.timers.close_timeout = milliseconds(1'000);
            c.timers.max_resends = 1;
            c.timers.max_close_retries = 1;
        }
        c.rekey.after_responses = s.after_responses;
        c.rekey.after_bytes = s.after_bytes ? 200 : 0;
        c.rekey.after_time = milliseconds(kAfterTimeMs[s.after_time & 3]);
        c.max_data = kMaxDataChoice[s.max_data & 3];
        c.pad_to = kPadChoice[s.pad_to & 3];
        // Every side has every credential; the negotiated mode picks what is used.
        c.ca_certificate = cr.ca_cert;
        c.signer = client ? &cr.client_key : &cr.server_key;
        c.certificate = client ? cr.client_cert : cr.server_cert;
        if (client) c.server_names = kServerNames;
        if (client) {
            c.psk = test_psk();
            c.psk_id = test_psk_id();
        } else {
            c.psk_store = &psks_;
        }
        // Workspaces are reused across runs (fresh large allocations cost page
        // faults on every run) and zeroed, so a run never depends on the last one.
        static Buf pool[2];
        pool[i].resize(std::max(pool[i].size(), Engine::workspace_size(c.max_data)));
        std::fill(pool[i].begin(), pool[i].end(), std::uint8_t{0});
        const std::span<std::uint8_t> ws{pool[i].data(), Engine::workspace_size(c.max_data)};
        sd.txbuf.assign(Engine::max_message_size(c.max_data), 0);
        sd.engine = std::make_unique<Engine>(c, ws);
    }
}

Harness::~Harness() = default;

Engine& Harness::client() { return *side_[0].engine; }
Engine& Harness::server() { return *side_[1].engine; }
std::size_t Harness::queued(std::uint8_t towards) const { return side_[towards == kToServer ? 0 : 1].out.size(); }
bool Harness::server_has_request() const { return side_[1].pending_request; }
int Harness::responses() const { return side_[0].responses; }
Harness::Side& Harness::sender(std::uint8_t towards) { return side_[towards == kToServer ? 0 : 1]; }
Harness::Side& Harness::receiver(std::uint8_t towards) { return side_[towards == kToServer ? 1 : 0]; }

Now Harness::now(const Side& s) const {
    return Now{Instant{milliseconds(now_ms_)}, UnixTime{milliseconds(kWallBaseMs + now_ms_ + s.wall_skew_ms)}};
}

void Harness::start() {
    for (int i = 0; i < 2; ++i) {
        side_[i].prov->on_open = on_open;
        if (!side_[i].engine->start(now(side_[i]))) violation("start() failed");
        collect(side_[i]);
    }
    // Server first (it waits), then the client's HELLO: done above in index order
    // client, server; neither depends on the other before a message is delivered.
}

void Harness::collect(Side& s) {
    Engine& e = *s.engine;
    const std::size_t max_msg = Engine::max_message_size(s.cfg.max_data);
    for (int guard = 0;; ++guard) {
        if (guard > 64) violation("poll_transmit never runs dry");
        auto n = e.poll_transmit(s.txbuf);
        if (!n) violation("poll_transmit failed with a max_message_size buffer", err_name(n.error()));
        if (*n == 0) break;
        if (*n > max_msg) violation("poll_transmit returned more than max_message_size");
        if (s.closed_seen) violation("a closed engine sent a message");
        Buf msg(s.txbuf.begin(), s.txbuf.begin() + static_cast<std::ptrdiff_t>(*n));
        if (!frame_decodes(msg)) violation("the engine sent a message its own decoders reject");
        if (on_send) on_send(s.role, msg);
        s.history.push_back(msg);
        if (s.history.size() > kMaxHistory) s.history.pop_front();
        s.out.push_back(std::move(msg));
        if (s.out.size() > kMaxQueued) {
            s.out.pop_front();
            unclean();
        }
    }
    Event ev;
    while (e.poll_event(ev)) {
        if (on_event) on_event(s.role, ev);
        const bool known_oversize_response = kKnownIssueResponseOverMaxData && ev.kind == EventKind::response;
        if (ev.data.size() > s.cfg.max_data && !known_oversize_response) violation("event data longer than max_data");
        switch (ev.kind) {
            case EventKind::handshake_done:
                if (++s.handshakes > 1) violation("handshake_done twice");
                if (ev.epoch != 1) violation("handshake_done not in epoch 1");
                s.epoch_seen = 1;
                break;
            case EventKind::request:
                if (s.role != Role::server) violation("request event on the client");
                if (s.handshakes != 1) violation("request before handshake_done");
                s.pending_request = true;
                expect(sent_requests_, ev.data, "request body differs from the one sent");
                break;
            case EventKind::response:
                if (s.role != Role::client) violation("response event on the server");
                if (s.handshakes != 1) violation("response before handshake_done");
                ++s.responses;
                expect(sent_responses_, ev.data, "response body differs from the one sent");
                break;
            case EventKind::rekeyed:
                if (ev.epoch != s.epoch_seen + 1) violation("rekeyed epoch does not follow the previous one");
                s.epoch_seen = ev.epoch;
                break;
            case EventKind::closed:
                if (++s.closed_events > 1) violation("two closed events");
                if (!e.is_closed()) violation("closed event but the engine is not closed");
                break;
        }
    }
    if (s.epoch_seen != 0 && e.epoch() != s.epoch_seen) violation("epoch() differs from the events");
    if (side_[0].handshakes == 1 && side_[1].handshakes == 1) {
        // Both finished MACs verified: both must have negotiated the same thing.
        const Engine& c = *side_[0].engine;
        const Engine& sv = *side_[1].engine;
        if (c.mode() != sv.mode() || c.suite() != sv.suite()) violation("the two ends disagree on mode or suite");
        if (mode_uses_cert(c.mode()) && (!same_text(c.peer_subject(), "server.test") ||
                                         !same_text(sv.peer_subject(), "device-1")))
            violation("peer identity is not the certificate subject");
    }
    if (e.is_closed()) {
        if (s.closed_events != 1) violation("closed without a closed event");
        if (e.next_deadline()) violation("a closed engine has a deadline");
        if (e.can_send_request()) violation("a closed engine can send a request");
        s.closed_seen = true;
        s.pending_request = false;
    }
    if (clean_ && e.last_error() != Err::ok) violation("fault without any tampering:", err_name(e.last_error()));
    check(s);
}

void Harness::check(Side& s) {
    const Engine& e = *s.engine;
    auto dl = e.next_deadline();
    if (!dl) {
        if (!e.is_closed() && e.state() != State::start) violation("no deadline in an active state");
        return;
    }
    const Timers& t = s.cfg.timers;
    const auto longest = std::max({t.receive_timeout, t.resend_timeout, t.close_timeout});
    // Deadlines count from the last send / receive / epoch start, all <= now.
    if (dl->since_origin.count() > now_ms_ + longest.count()) violation("deadline too far in the future");
    if (dl->since_origin.count() < 1'000) violation("deadline before the engine started");
}

void Harness::unclean() { clean_ = false; }

void Harness::dishonest() {
    clean_ = false;
    if (!any_tag_) return;  // tags are checked: changed bytes must not get through
    honest_ = false;
    sent_requests_.clear();
    sent_responses_.clear();
}

void Harness::collect_all() {
    collect(side_[0]);
    collect(side_[1]);
}

void Harness::deliver(std::uint8_t towards, const Buf& msg) {
    Side& to = receiver(towards);
    const bool was_closed = to.engine->is_closed();
    auto st = to.engine->receive(msg, now(to));
    if (was_closed && st.error() != Err::closed) violation("receive on a closed engine did not return closed");
    collect(to);
}

void Harness::fire_timers() {
    for (int i = 0; i < 2; ++i) {
        Side& s = side_[i];
        // A driver loops "while deadline <= now: on_timeout(now)": that loop must end.
        for (int calls = 0;; ++calls) {
            auto dl = s.engine->next_deadline();
            if (!dl || dl->since_origin.count() > now_ms_) break;
            if (calls == kMaxTimeoutCalls) violation("on_timeout does not move the deadline past now");
            (void)s.engine->on_timeout(now(s));
            collect(s);
        }
    }
}

void Harness::pump_round() {
    Side& c = side_[0];
    Side& s = side_[1];
    while (!c.out.empty()) {
        Buf m = std::move(c.out.front());
        c.out.pop_front();
        deliver(kToServer, m);
    }
    if (s.pending_request && s.engine->state() == State::serving) {
        app_response(Buf(std::min<std::size_t>(5, s.cfg.max_data), static_cast<std::uint8_t>(s.responses_sent)));
    }
    while (!s.out.empty()) {
        Buf m = std::move(s.out.front());
        s.out.pop_front();
        deliver(kToClient, m);
    }
    if (c.engine->can_send_request()) {
        app_request(Buf(std::min<std::size_t>(8, c.cfg.max_data), static_cast<std::uint8_t>(c.responses)));
    }
}

std::size_t Harness::step(const std::uint8_t* p, std::size_t n) {
    In in{p, n};
    const std::uint8_t code = in.u8();
    const auto kind = static_cast<OpKind>(code & 0x0f);
    const std::uint8_t arg = static_cast<std::uint8_t>(code >> 4);
    const std::uint8_t towards = arg & 1;
    Side& from = sender(towards);
    switch (kind) {
        case kDeliver:
            if (!from.out.empty()) {
                Buf m = std::move(from.out.front());
                from.out.pop_front();
                deliver(towards, m);
            }
            break;
        case kDeliverMutated: {
            dishonest();
            const int count = in.u8() % 4 + 1;
            if (from.out.empty()) {
                in.pos += static_cast<std::size_t>(count) * 3;
                break;
            }
            Buf m = std::move(from.out.front());
            from.out.pop_front();
            for (int i = 0; i < count; ++i) {
                const std::uint16_t pos = in.u16();
                const std::uint8_t x = in.u8();
                m[pos % m.size()] ^= x ? x : 1;
            }
            deliver(towards, m);
            break;
        }
        case kDrop:
            unclean();
            if (!from.out.empty()) from.out.pop_front();
            break;
        case kDuplicate:
            unclean();
            if (!from.out.empty()) {
                const Buf m = from.out.front();
                deliver(towards, m);
            }
            break;
        case kReorder:
            unclean();
            if (from.out.size() >= 2) std::swap(from.out[0], from.out[1]);
            break;
        case kReplay: {
            unclean();
            const std::uint8_t idx = in.u8();
            if (!from.history.empty()) {
                const Buf m = from.history[idx % from.history.size()];
                deliver(towards, m);
            }
            break;
        }
        case kRaw: {
            dishonest();
            std::size_t len = std::min<std::size_t>(in.u16() % (kMaxRaw + 1), in.n - std::min(in.pos, in.n));
            Buf m(in.p + in.pos, in.p + in.pos + len);
            in.pos += len;
            deliver(towards, m);
            break;
        }
        case kTime: {
            unclean();
            now_ms_ += in.u16() * kTimeUnitMs[(arg >> 1) & 3];
            fire_timers();
            break;
        }
        case kRequest:
            app_request(Buf(in.u16() % (side_[0].cfg.max_data + 2u), static_cast<std::uint8_t>(arg)));
            break;
        case kResponse:
            app_response(Buf(in.u16() % (side_[1].cfg.max_data + 2u), static_cast<std::uint8_t>(arg)));
            break;
        case kClose: {
            // An orderly close stays clean: it may cross any message in flight.
            Side& s = side_[towards];  // 0: client, 1: server
            const auto reason = static_cast<Reason>(in.u8() % (static_cast<int>(kLastReason) + 1));
            (void)s.engine->close(now(s), reason);
            collect(s);
            break;
        }
        case kPump:
            for (int r = 0; r <= arg && pump_rounds_ < kMaxPumpRounds; ++r, ++pump_rounds_) pump_round();
            break;
        case kTruncate: {
            dishonest();
            const std::uint16_t len = in.u16();
            if (!from.out.empty()) {
                Buf m = std::move(from.out.front());
                from.out.pop_front();
                m.resize(len % m.size());
                deliver(towards, m);
            }
            break;
        }
        case kSkew: {
            unclean();
            Side& s = side_[towards];
            const auto secs = static_cast<std::int8_t>(in.u8());
            s.wall_skew_ms = std::clamp<std::int64_t>(s.wall_skew_ms + secs * 1000, -kMaxSkewMs, kMaxSkewMs);
            break;
        }
        case kStart: {
            Side& s = side_[towards];
            // The server stays in State::start until a HELLO arrives, so a second
            // start() there is accepted; the client must refuse it.
            if (s.engine->start(now(s)) && s.role == Role::client) violation("client start() succeeded twice");
            collect(s);
            break;
        }
        case kDeliverAll:
            while (!from.out.empty()) {
                Buf m = std::move(from.out.front());
                from.out.pop_front();
                deliver(towards, m);
            }
            break;
    }
    if (clean_) check_progress();
    return in.pos;
}

void Harness::app_request(const Buf& body) {
    Side& c = side_[0];
    if (c.engine->send_request(body, now(c))) sent_requests_.push_back(body);
    collect(c);
}

void Harness::app_response(const Buf& body) {
    Side& s = side_[1];
    if (s.engine->send_response(body, now(s))) {
        s.pending_request = false;
        ++s.responses_sent;
        sent_responses_.push_back(body);
    }
    collect(s);
}

void Harness::expect(std::deque<Buf>& sent, crypto::ConstBytes got, const char* what) {
    // Over an honest network (loss, duplication, reordering, delay, timers,
    // close) every body arrives intact and at most once, in order. Tampering
    // with accept_any_tag may change data, so then nothing is checked.
    // (With strict tags tampering cannot: the checks stay on.)
    if (!honest_) return;
    if (sent.empty()) violation(what, "(nothing left that was sent: duplicate?)");
    if (!std::equal(got.begin(), got.end(), sent.front().begin(), sent.front().end())) violation(what);
    sent.pop_front();
}

void Harness::check_progress() {
    // Without tampering, timers or close, someone can always act: the client can
    // send a request, or the server holds one to answer, or a message is in flight.
    Engine& c = *side_[0].engine;
    Engine& s = *side_[1].engine;
    if (!side_[0].out.empty() || !side_[1].out.empty()) return;
    if (c.state() == State::start || c.is_closed() || s.is_closed()) return;
    if (!c.can_send_request() && !(side_[1].pending_request && s.state() == State::serving))
        violation("stuck: nothing in flight and neither side can act");
    if (c.epoch() != s.epoch()) violation("quiet connection but the epochs differ");
}

void Harness::run(const std::uint8_t* data, std::size_t size) {
    std::size_t pos = 0;
    for (int ops = 0; pos < size && ops < kMaxOps; ++ops) pos += step(data + pos, size - pos);
}

void run_engine_script(const std::uint8_t* data, std::size_t size) {
    std::uint8_t header[kHeaderLen] = {};
    if (size > 0) std::memcpy(header, data, std::min(size, kHeaderLen));
    Harness h(ScriptSetup::from_header(header));
    h.start();
    if (size > kHeaderLen) h.run(data + kHeaderLen, size - kHeaderLen);
}

}  // namespace lockstep::fuzz
