// SPDX-License-Identifier: Apache-2.0
// lockstep_mitm — an active man in the middle between a real lockstep client and
// a real server on loopback, for the attack tests (tests/attack/mitm_e2e.py) and
// for trying attacks by hand.
//
// How this works: it listens on loopback TCP and/or UDP and forwards to the real
// server's ports. It cuts the traffic into messages (TCP: the u16 big-endian
// length prefix, PROTOCOL.md §6.1; UDP: one message per datagram) and numbers
// them per connection and direction from 1, so c>s #1 is the HELLO and s>c #1
// the HELLO ACK. A UDP "connection" is one client address. The scenario flags
// (kActions) name messages as DIR:N and say what to do with them: drop, delay,
// duplicate, hold back (reorder), change (flip, truncate, rewrite the HELLO or
// HELLO ACK lists), send again (replay, reflect) or add (bytes, a forged clear
// CLOSE, a message recorded from an earlier connection). It holds no keys: the
// wire decoders name the clear frames, and a record shows only its epoch and
// record number. Every action is one line on stderr ("mitm: conn 1 c>s #2 flip
// byte 17 bit 3"); --verbose adds one line per message.
//
// Single-threaded poll loop, blocking writes (loopback peers always read).
// Test tool: exceptions are allowed, as in tools/.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "lockstep/net.hpp"
#include "wire/wire.hpp"

namespace lockstep::mitm {
namespace {

using Clock = std::chrono::steady_clock;
using Buf = std::vector<std::uint8_t>;
using std::chrono::milliseconds;

constexpr std::size_t kMaxMessage = 0xffff;  // what a u16 TCP length prefix can carry
constexpr std::size_t kMaxKept = 4096;       // messages kept per connection and direction for replay
constexpr std::size_t kMaxConns = 256;       // live connections (TCP and UDP peers)
constexpr std::size_t kMaxRecordFile = 64u << 20;
constexpr milliseconds kPollCap{100};        // re-check the stop flag at least this often
constexpr milliseconds kUdpIdle{120'000};    // a UDP peer silent this long is forgotten

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

class Error : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------- names and parsing
enum class Dir : std::uint8_t { c2s = 0, s2c = 1 };
const char* dir_name(Dir d) { return d == Dir::c2s ? "c>s" : "s>c"; }
Dir reverse(Dir d) { return d == Dir::c2s ? Dir::s2c : Dir::c2s; }
std::size_t ix(Dir d) { return static_cast<std::size_t>(d); }

struct MsgRef {
    Dir dir = Dir::c2s;
    std::uint32_t n = 0;  // 1-based index in its connection and direction
    int epoch = -1;       // >= 0 (n = 0): the first record of this epoch in `dir` ("@DIR:eE")
    bool operator==(const MsgRef&) const = default;
};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto at = s.find(sep, start);
        out.push_back(s.substr(start, at - start));
        if (at == std::string::npos) return out;
        start = at + 1;
    }
}

std::uint32_t parse_u32(const std::string& s, const std::string& what, std::uint32_t max = 0xffffffffu) {
    if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos)
        throw Error(fmt::format("{}: '{}' is not a number", what, s));
    const unsigned long long v = std::stoull(s);
    if (v > max) throw Error(fmt::format("{}: {} is over {}", what, v, max));
    return static_cast<std::uint32_t>(v);
}

Dir parse_dir(const std::string& s, const std::string& what) {
    if (s == "c>s" || s == "c2s") return Dir::c2s;
    if (s == "s>c" || s == "s2c") return Dir::s2c;
    throw Error(fmt::format("{}: '{}' is not a direction (c>s or s>c)", what, s));
}

MsgRef parse_ref(const std::string& dir, const std::string& n, const std::string& what) {
    if (!n.empty() && n[0] == 'e') return {parse_dir(dir, what), 0, static_cast<int>(parse_u32(n.substr(1), what, 255))};
    const MsgRef r{parse_dir(dir, what), parse_u32(n, what)};
    if (r.n == 0) throw Error(fmt::format("{}: messages are numbered from 1", what));
    return r;
}

Buf parse_hex(const std::string& s, const std::string& what) {
    if (s.size() % 2 != 0 || s.size() > 2 * kMaxMessage || s.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
        throw Error(fmt::format("{}: '{}' is not an even number of hex digits", what, s));
    Buf out;
    for (std::size_t i = 0; i < s.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
    return out;
}

std::string hex(std::span<const std::uint8_t> b) {
    std::string s;
    s.reserve(2 * b.size());
    for (auto x : b) s += fmt::format("{:02x}", x);
    return s;
}

// What a message is, as far as someone without keys can tell.
std::string describe(std::span<const std::uint8_t> m) {
    if (m.empty()) return "empty";
    switch (static_cast<wire::Frame>(m[0])) {
        case wire::Frame::hello: return wire::decode_hello(m) ? "hello" : "hello (malformed)";
        case wire::Frame::hello_ack: return wire::decode_hello_ack(m) ? "hello ack" : "hello ack (malformed)";
        case wire::Frame::cookie: return wire::decode_cookie(m) ? "cookie" : "cookie (malformed)";
        case wire::Frame::cookie_hello:
            if (auto h = wire::decode_cookie_hello(m))
                return fmt::format("hello behind cookie ({} bytes) and padding ({} bytes)", h->cookie.size(), h->padding);
            return "cookie hello (malformed)";
        case wire::Frame::close:
            if (auto c = wire::decode_clear_close(m)) return fmt::format("clear close reason={}", reason_name(c->reason));
            return "clear close (malformed)";
        case wire::Frame::cid_record:
            if (auto c = wire::decode_cid_record(m)) return "record behind a connection id: " + describe(c->record);
            return "cid record (malformed)";
        case wire::Frame::record:
            if (auto r = wire::decode_record(m, 0)) return fmt::format("record epoch={} rn={}", r->header.epoch, r->header.rn);
            return "record (malformed)";
    }
    return fmt::format("unknown frame 0x{:02x}", m[0]);
}

// ---------------------------------------------------------------- the HELLO / HELLO ACK lists
// HELLO: frame, then the lists versions, suites, modes (§6.2). HELLO ACK: frame,
// the chosen version, suite and mode, flags, then the server's lists (§6.3).
// In wire order: the three lists (edit_field skips the ones before), then the HELLO ACK's choices.
enum class Field : std::uint8_t { versions, suites, modes, version, suite, mode };
struct FieldName {
    const char* name;
    Field field;
};
constexpr FieldName kFields[] = {{"versions", Field::versions}, {"suites", Field::suites}, {"modes", Field::modes},
                                 {"version", Field::version},   {"suite", Field::suite},   {"mode", Field::mode}};
constexpr std::size_t kHelloListsAt = 1;
constexpr std::size_t kHelloAckChoiceAt = 1;  // version, suite, mode
constexpr std::size_t kHelloAckListsAt = 5;

Field parse_field(const std::string& s, const std::string& what) {
    for (const auto& f : kFields)
        if (s == f.name) return f.field;
    throw Error(fmt::format("{}: '{}' is not versions, suites, modes, version, suite or mode", what, s));
}
const char* field_name(Field f) {
    for (const auto& x : kFields)
        if (x.field == f) return x.name;
    return "?";
}
bool is_list(Field f) { return f == Field::versions || f == Field::suites || f == Field::modes; }

std::string ids_text(std::span<const std::uint8_t> ids) {
    std::string s;
    for (auto x : ids) s += fmt::format("{}{}", s.empty() ? "" : ",", x);
    return s.empty() ? "(none)" : s;
}

// Rewrites one field of a HELLO (c>s) or HELLO ACK (s>c). `ids` empty with
// strip: remove the first (most preferred) list entry. Returns what changed,
// or nullopt when the message is not that frame or too short to hold the field.
std::optional<std::string> edit_field(Buf& m, Dir d, Field f, bool strip, const Buf& ids) {
    if (d == Dir::c2s && !m.empty() && m[0] == static_cast<std::uint8_t>(wire::Frame::cookie_hello)) {
        // A HELLO behind padding or a cookie (spec §6.8): edit the HELLO inside, keep the head.
        auto env = wire::decode_cookie_hello(m);
        if (!env) return std::nullopt;
        const auto head = static_cast<std::size_t>(env->hello.data() - m.data());
        Buf hello(env->hello.begin(), env->hello.end());
        auto changed = edit_field(hello, d, f, strip, ids);
        if (changed) {
            m.resize(head);
            m.insert(m.end(), hello.begin(), hello.end());
        }
        return changed;
    }
    const wire::Frame want = d == Dir::c2s ? wire::Frame::hello : wire::Frame::hello_ack;
    if (m.empty() || m[0] != static_cast<std::uint8_t>(want)) return std::nullopt;
    if (!is_list(f)) {
        if (d == Dir::c2s || ids.size() != 1) return std::nullopt;  // the choice is in the HELLO ACK only
        const std::size_t at = kHelloAckChoiceAt + static_cast<std::size_t>(f) - static_cast<std::size_t>(Field::version);
        if (at >= m.size()) return std::nullopt;
        const std::uint8_t old = m[at];
        m[at] = ids[0];
        return fmt::format("{} {} -> {}", field_name(f), old, ids[0]);
    }
    std::size_t at = d == Dir::c2s ? kHelloListsAt : kHelloAckListsAt;
    for (auto k = static_cast<std::size_t>(Field::versions); k < static_cast<std::size_t>(f); ++k) {
        if (at >= m.size()) return std::nullopt;
        at += 1 + m[at];
    }
    if (at >= m.size() || at + 1 + m[at] > m.size()) return std::nullopt;
    const Buf old(m.begin() + static_cast<std::ptrdiff_t>(at) + 1, m.begin() + static_cast<std::ptrdiff_t>(at) + 1 + m[at]);
    Buf now = strip ? Buf(old.begin() + (old.empty() ? 0 : 1), old.end()) : ids;
    Buf list{static_cast<std::uint8_t>(now.size())};
    list.insert(list.end(), now.begin(), now.end());
    m.erase(m.begin() + static_cast<std::ptrdiff_t>(at), m.begin() + static_cast<std::ptrdiff_t>(at) + 1 + old.size());
    m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), list.begin(), list.end());
    return fmt::format("{} {} -> {}", field_name(f), ids_text(old), ids_text(now));
}

// A forged clear CLOSE (§6.6): nobody's sequence numbers, reason `normal`.
Buf forged_clear_close() {
    wire::ClearClose c{Reason::normal, 1, 2, 0x7fffffff};
    std::array<std::uint8_t, 32> out{};
    Writer w(out);
    wire::encode_clear_close(c, w);
    return Buf(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(w.size()));
}

// ---------------------------------------------------------------- scenarios
enum class Kind : std::uint8_t {
    drop, delay, duplicate, reorder, flip, truncate, replay, replay_recorded, reflect, inject, inject_close, strip, set
};

// One flag per kind. `at` is the message the action is about (or, for the
// kinds that add a message, the message after which it is sent).
struct ActionSpec {
    const char* flag;
    Kind kind;
    const char* syntax;
    const char* help;
};
constexpr ActionSpec kActions[] = {
    {"--drop", Kind::drop, "DIR:N", "Do not forward message N"},
    {"--delay", Kind::delay, "DIR:N:MS",
     "Forward message N after MS ms (TCP: later messages of DIR wait behind it; UDP: they pass)"},
    {"--duplicate", Kind::duplicate, "DIR:N", "Forward message N twice"},
    {"--reorder", Kind::reorder, "DIR:N", "Hold message N until message N+1 of DIR has passed (at most --hold-max)"},
    {"--flip", Kind::flip, "DIR:N:BYTE:BIT", "Flip bit BIT (0..7) of byte BYTE (0: the frame byte) of message N"},
    {"--truncate", Kind::truncate, "DIR:N:LEN", "Forward only the first LEN bytes of message N"},
    {"--replay", Kind::replay, "DIR:N[@[DIR2:]M]",
     "Send a copy of message N to its receiver again after message M of DIR2 has passed (default: N+1 of DIR; "
     "M = eE: the first record of epoch E)"},
    {"--replay-recorded", Kind::replay_recorded, "DIR:N@[DIR2:]M",
     "Send message N of the first connection in --replay-from FILE after message M of this connection"},
    {"--reflect", Kind::reflect, "DIR:N", "Forward message N and also send it back to its own sender"},
    {"--inject", Kind::inject, "DIR:M:HEX", "After message M of DIR (or eE), send these bytes to DIR's receiver"},
    {"--inject-close", Kind::inject_close, "DIR:M",
     "After message M of DIR, send a forged clear CLOSE (frame 0x08, reason normal) to DIR's receiver"},
    {"--strip", Kind::strip, "DIR:LIST",
     "Remove the first (best) entry of LIST (versions, suites, modes) of the HELLO (c>s) or HELLO ACK (s>c)"},
    {"--set", Kind::set, "DIR:FIELD:IDS",
     "Replace FIELD of the HELLO (c>s: versions, suites, modes) or HELLO ACK (s>c: also the chosen version, "
     "suite, mode) by IDS, a comma list of numbers"},
};

struct Action {
    Kind kind{};
    MsgRef at;     // the message it is about, or after which it fires
    MsgRef src;    // replay: the message sent again
    std::uint32_t x = 0, y = 0;  // delay: ms; flip: byte, bit; truncate: length
    Field field = Field::suites;
    Buf bytes;     // inject: the bytes; set: the ids
};

Action parse_action(Kind kind, const std::string& flag, const std::string& v) {
    const std::string what = fmt::format("{} {}", flag, v);
    Action a;
    a.kind = kind;
    if (kind == Kind::replay || kind == Kind::replay_recorded) {
        const auto at = v.find('@');
        const auto src = split(v.substr(0, at), ':');
        if (src.size() != 2) throw Error(fmt::format("{}: expected DIR:N", what));
        a.src = parse_ref(src[0], src[1], what);
        if (at == std::string::npos) {
            if (kind == Kind::replay_recorded) throw Error(fmt::format("{}: say after which message (@M)", what));
            a.at = {a.src.dir, a.src.n + 1, -1};
            return a;
        }
        const auto trig = split(v.substr(at + 1), ':');
        if (trig.size() == 1) a.at = parse_ref(dir_name(a.src.dir), trig[0], what);
        else if (trig.size() == 2) a.at = parse_ref(trig[0], trig[1], what);
        else throw Error(fmt::format("{}: expected @M or @DIR:M", what));
        return a;
    }
    const auto p = split(v, ':');
    auto need = [&](std::size_t n) {
        if (p.size() != n) throw Error(fmt::format("{}: expected {}", what, [&] {
            for (const auto& s : kActions)
                if (s.kind == kind) return s.syntax;
            return "";
        }()));
    };
    switch (kind) {
        case Kind::drop:
        case Kind::duplicate:
        case Kind::reorder:
        case Kind::reflect:
        case Kind::inject_close: need(2); break;
        case Kind::delay:
        case Kind::truncate:
        case Kind::inject: need(3); break;
        case Kind::flip: need(4); break;
        case Kind::strip:
            need(2);
            a.at.dir = parse_dir(p[0], what);
            a.field = parse_field(p[1], what);
            if (!is_list(a.field)) throw Error(fmt::format("{}: only a list can be stripped", what));
            return a;
        case Kind::set:
            need(3);
            a.at.dir = parse_dir(p[0], what);
            a.field = parse_field(p[1], what);
            for (const auto& id : split(p[2], ',')) a.bytes.push_back(static_cast<std::uint8_t>(parse_u32(id, what, 255)));
            if (a.bytes.size() > wire::kMaxListLen) throw Error(fmt::format("{}: at most {} ids", what, wire::kMaxListLen));
            if (!is_list(a.field) && (a.at.dir == Dir::c2s || a.bytes.size() != 1))
                throw Error(fmt::format("{}: a chosen {} is one id in the HELLO ACK (s>c)", what, field_name(a.field)));
            return a;
        case Kind::replay:
        case Kind::replay_recorded: break;
    }
    a.at = parse_ref(p[0], p[1], what);
    if (a.at.epoch >= 0 && kind != Kind::inject && kind != Kind::inject_close)
        throw Error(fmt::format("{}: eE names a message to send after, not one to change", what));
    if (kind == Kind::delay) a.x = parse_u32(p[2], what, 600'000);
    if (kind == Kind::truncate) a.x = parse_u32(p[2], what, kMaxMessage);
    if (kind == Kind::flip) {
        a.x = parse_u32(p[2], what, kMaxMessage);
        a.y = parse_u32(p[3], what, 7);
    }
    if (kind == Kind::inject) a.bytes = parse_hex(p[2], what);
    return a;
}

// ---------------------------------------------------------------- sockets
sockaddr_in parse_addr(const std::string& s) {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos) throw Error(fmt::format("'{}' is not HOST:PORT", s));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(parse_u32(s.substr(colon + 1), s, 65535)));
    const std::string host = s.substr(0, colon) == "localhost" ? "127.0.0.1" : s.substr(0, colon);
    if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) throw Error(fmt::format("'{}': not an IPv4 address", s));
    return a;
}

std::string addr_text(const sockaddr_in& a) {
    char b[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &a.sin_addr, b, sizeof b);
    return fmt::format("{}:{}", b, ntohs(a.sin_port));
}

sockaddr* sa(sockaddr_in& a) { return reinterpret_cast<sockaddr*>(&a); }

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd& operator=(Fd&& o) noexcept {
        std::swap(fd_, o.fd_);
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }

private:
    int fd_ = -1;
};

Fd make_socket(int type) {
    Fd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) throw Error(fmt::format("socket: {}", std::strerror(errno)));
    return fd;
}

sockaddr_in local_addr(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, sa(a), &len);
    return a;
}

Fd listen_on(int type, std::uint16_t port) {
    Fd fd = make_socket(type);
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = parse_addr(fmt::format("127.0.0.1:{}", port));
    if (::bind(fd.get(), sa(a), sizeof a) != 0) throw Error(fmt::format("cannot bind port {}: {}", port, std::strerror(errno)));
    if (type == SOCK_STREAM && ::listen(fd.get(), 64) != 0) throw Error(fmt::format("listen: {}", std::strerror(errno)));
    return fd;
}

bool send_all(int fd, const std::uint8_t* p, std::size_t n) {
    while (n > 0) {
        const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k;
        n -= static_cast<std::size_t>(k);
    }
    return true;
}

// ---------------------------------------------------------------- connections
struct Pending {
    Clock::time_point due;
    Buf bytes;
};

struct Held {  // --reorder: waits for the next message of its direction
    std::uint32_t n = 0;
    Buf bytes;
    Clock::time_point deadline;
};

// One client connection: a TCP pair, or a UDP client address with its own
// upstream socket (so the server sees a peer per client).
struct Conn {
    std::uint32_t id = 0;
    bool tcp = true;
    Fd client, server;           // TCP: both ends; UDP: `server` is the upstream socket
    sockaddr_in client_addr{};   // UDP: where s>c datagrams go (through the listening socket)
    int udp_listen = -1;
    std::array<std::uint32_t, 2> count{};
    std::array<std::map<std::uint32_t, Buf>, 2> kept;  // messages by index, for replay
    std::array<std::vector<Pending>, 2> pending;       // delayed (TCP: and what queues behind them)
    std::array<std::optional<Held>, 2> held;
    std::array<Buf, 2> inbuf;                          // TCP: bytes not yet a whole frame
    std::array<bool, 2> eof{};                         // TCP: the sender of DIR closed its side
    std::array<bool, 2> shut{};                        // TCP: we closed the write side towards DIR's receiver
    std::array<std::array<bool, 256>, 2> epoch_seen{};  // a record of this epoch has passed
    Clock::time_point last_seen = Clock::now();         // UDP: the last datagram either way
    bool dead = false;
};

class Mitm {
public:
    Mitm(std::vector<Action> actions, std::uint32_t only_conn, milliseconds hold_max, bool verbose)
        : actions_(std::move(actions)), only_conn_(only_conn), hold_max_(hold_max), verbose_(verbose) {}

    void set_tcp(std::uint16_t listen_port, const sockaddr_in& upstream) {
        tcp_listen_ = listen_on(SOCK_STREAM, listen_port);
        tcp_up_ = upstream;
    }
    void set_udp(std::uint16_t listen_port, const sockaddr_in& upstream) {
        udp_listen_ = listen_on(SOCK_DGRAM, listen_port);
        udp_up_ = upstream;
    }
    void set_record(const std::string& path) {
        record_ = std::fopen(path.c_str(), "a");
        if (record_ == nullptr) throw Error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    }
    void load_recorded(const std::string& path);

    std::string listening() const {
        std::string s = "listening";
        if (tcp_listen_.get() >= 0) s += " tcp=" + addr_text(local_addr(tcp_listen_.get()));
        if (udp_listen_.get() >= 0) s += " udp=" + addr_text(local_addr(udp_listen_.get()));
        return s;
    }

    void run();

private:
    void log(const Conn& c, const MsgRef& r, const std::string& what) const {
        std::fprintf(stderr, "mitm: conn %u %s #%u %s\n", c.id, dir_name(r.dir), r.n, what.c_str());
    }
    void log_conn(const Conn& c, const std::string& what) const {
        std::fprintf(stderr, "mitm: conn %u %s\n", c.id, what.c_str());
    }
    bool applies(const Conn& c) const { return only_conn_ == 0 || c.id == only_conn_; }

    void accept_tcp();
    void read_tcp(Conn& c, Dir d);
    void read_udp_client();
    void read_udp_server(Conn& c);
    void on_message(Conn& c, Dir d, Buf m);
    void after(Conn& c, const MsgRef& r, const std::optional<MsgRef>& first_of_epoch);
    void forward(Conn& c, Dir d, const Buf& m);
    void send_now(Conn& c, Dir d, const Buf& m);
    void tick(Clock::time_point now);
    Conn* new_conn(bool tcp);
    int poll_timeout(Clock::time_point now) const;

    std::vector<Action> actions_;
    std::uint32_t only_conn_;
    milliseconds hold_max_;
    bool verbose_;
    Fd tcp_listen_, udp_listen_;
    sockaddr_in tcp_up_{}, udp_up_{};
    std::vector<std::unique_ptr<Conn>> conns_;
    std::uint32_t next_id_ = 1;
    std::FILE* record_ = nullptr;
    std::map<std::pair<Dir, std::uint32_t>, Buf> recorded_;  // the first connection of --replay-from
};

void Mitm::load_recorded(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(fmt::format("cannot read {}", path));
    std::string line;
    std::string first;
    std::size_t total = 0;
    while (std::getline(in, line)) {
        total += line.size();
        if (total > kMaxRecordFile) throw Error(fmt::format("{} is over {} bytes", path, kMaxRecordFile));
        const auto f = split(line, ' ');
        if (f.size() != 4) throw Error(fmt::format("{}: bad line '{}'", path, line.substr(0, 80)));
        if (first.empty()) first = f[0];
        if (f[0] != first) break;
        recorded_[{parse_dir(f[1], path), parse_u32(f[2], path)}] = parse_hex(f[3], path);
    }
    if (recorded_.empty()) throw Error(fmt::format("{} holds no messages", path));
}

Conn* Mitm::new_conn(bool tcp) {
    if (conns_.size() >= kMaxConns) return nullptr;  // dead ones are gone: tick() removes them
    auto c = std::make_unique<Conn>();
    c->id = next_id_++;
    c->tcp = tcp;
    conns_.push_back(std::move(c));
    return conns_.back().get();
}

void Mitm::accept_tcp() {
    Fd cl(::accept4(tcp_listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (cl.get() < 0) return;
    Fd up = make_socket(SOCK_STREAM);
    if (::connect(up.get(), sa(tcp_up_), sizeof(sockaddr_in)) != 0) {
        std::fprintf(stderr, "mitm: cannot connect to %s: %s\n", addr_text(tcp_up_).c_str(), std::strerror(errno));
        return;  // the client sees the connection close
    }
    const int one = 1;
    ::setsockopt(cl.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(up.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Conn* c = new_conn(true);
    if (c == nullptr) return;
    c->client = std::move(cl);
    c->server = std::move(up);
    log_conn(*c, fmt::format("tcp open, upstream {}", addr_text(local_addr(c->server.get()))));
}

void Mitm::read_tcp(Conn& c, Dir d) {
    const int fd = d == Dir::c2s ? c.client.get() : c.server.get();
    std::uint8_t b[16384];
    const ssize_t k = ::recv(fd, b, sizeof b, 0);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (k <= 0) {
        c.eof[ix(d)] = true;
        if (verbose_) log_conn(c, fmt::format("{} end of stream", dir_name(d)));
        return;
    }
    Buf& in = c.inbuf[ix(d)];
    in.insert(in.end(), b, b + k);
    // Whole frames: u16 length, then the message (spec: PROTOCOL.md §6.1).
    std::size_t used = 0;
    while (!c.dead && in.size() - used >= net::kFrameHeader) {
        const std::size_t len = (std::size_t{in[used]} << 8) | in[used + 1];
        if (in.size() - used - net::kFrameHeader < len) break;
        const auto* p = in.data() + used + net::kFrameHeader;
        used += net::kFrameHeader + len;
        on_message(c, d, Buf(p, p + len));
    }
    in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(used));
}

void Mitm::read_udp_client() {
    std::uint8_t b[kMaxMessage + 1];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t k = ::recvfrom(udp_listen_.get(), b, sizeof b, MSG_TRUNC, sa(from), &len);
    if (k < 0) return;
    if (static_cast<std::size_t>(k) > kMaxMessage) {
        std::fprintf(stderr, "mitm: udp datagram of %zd bytes from %s dropped (over %zu)\n", k, addr_text(from).c_str(),
                     kMaxMessage);
        return;
    }
    Conn* c = nullptr;
    for (auto& x : conns_)
        if (!x->dead && !x->tcp && x->client_addr.sin_port == from.sin_port &&
            x->client_addr.sin_addr.s_addr == from.sin_addr.s_addr)
            c = x.get();
    if (c == nullptr) {
        Fd up = make_socket(SOCK_DGRAM);
        if (::connect(up.get(), sa(udp_up_), sizeof(sockaddr_in)) != 0) return;
        c = new_conn(false);
        if (c == nullptr) return;
        c->server = std::move(up);
        c->client_addr = from;
        c->udp_listen = udp_listen_.get();
        log_conn(*c, fmt::format("udp peer {}, upstream {}", addr_text(from), addr_text(local_addr(c->server.get()))));
    }
    // A record behind a connection id (spec §6.9) goes on bare: the mitm keeps the
    // client's address toward the server, which then finds the connection by it,
    // and every scenario acts on the record itself.
    std::size_t skip = 0;
    if (auto r = wire::decode_cid_record({b, static_cast<std::size_t>(k)})) skip = wire::kCidHeadLen;
    on_message(*c, Dir::c2s, Buf(b + skip, b + k));
}

void Mitm::read_udp_server(Conn& c) {
    std::uint8_t b[kMaxMessage + 1];
    const ssize_t k = ::recv(c.server.get(), b, sizeof b, MSG_TRUNC);
    if (k < 0 || static_cast<std::size_t>(k) > kMaxMessage) return;  // ECONNREFUSED: the server is gone
    on_message(c, Dir::s2c, Buf(b, b + k));
}

// A message from a real peer: change it, keep a copy, then forward, hold,
// delay, duplicate or drop it, and fire what waits for it.
void Mitm::on_message(Conn& c, Dir d, Buf m) {
    const MsgRef r{d, ++c.count[ix(d)], -1};
    c.last_seen = Clock::now();
    if (verbose_) log(c, r, fmt::format("{} len={}", describe(m), m.size()));
    std::optional<MsgRef> first_of_epoch;  // as it came from the peer
    if (auto rec = wire::decode_record(m, 0); rec && !c.epoch_seen[ix(d)][rec->header.epoch]) {
        c.epoch_seen[ix(d)][rec->header.epoch] = true;
        first_of_epoch = MsgRef{d, 0, rec->header.epoch};
    }
    if (record_ != nullptr) {
        std::fprintf(record_, "%u %s %u %s\n", c.id, dir_name(d), r.n, hex(m).c_str());
        std::fflush(record_);
    }
    if (c.kept[ix(d)].size() < kMaxKept) c.kept[ix(d)][r.n] = m;
    if (!applies(c)) {
        forward(c, d, m);
        return;
    }
    bool drop = false, duplicate = false, reflect = false, hold = false;
    std::optional<std::uint32_t> delay;
    for (const Action& a : actions_) {
        if ((a.kind == Kind::strip || a.kind == Kind::set) && a.at.dir == d) {
            if (auto what = edit_field(m, d, a.field, a.kind == Kind::strip, a.bytes)) log(c, r, "rewrite " + *what);
            continue;
        }
        if (!(a.at == r)) continue;
        switch (a.kind) {
            case Kind::drop: drop = true; break;
            case Kind::duplicate: duplicate = true; break;
            case Kind::reflect: reflect = true; break;
            case Kind::reorder: hold = true; break;
            case Kind::delay: delay = a.x; break;
            case Kind::flip:
                if (a.x < m.size()) {
                    m[a.x] = static_cast<std::uint8_t>(m[a.x] ^ (1u << a.y));
                    log(c, r, fmt::format("flip byte {} bit {}", a.x, a.y));
                } else {
                    log(c, r, fmt::format("flip byte {} bit {}: beyond its {} bytes, unchanged", a.x, a.y, m.size()));
                }
                break;
            case Kind::truncate:
                if (a.x < m.size()) {
                    log(c, r, fmt::format("truncate {} -> {} bytes", m.size(), a.x));
                    m.resize(a.x);
                } else {
                    log(c, r, fmt::format("truncate to {}: only {} bytes, unchanged", a.x, m.size()));
                }
                break;
            default: break;  // the kinds that fire after a message: see after()
        }
    }
    if (drop) {
        log(c, r, "drop");
    } else if (hold) {
        log(c, r, fmt::format("hold until #{} has passed", r.n + 1));
        c.held[ix(d)] = Held{r.n, std::move(m), Clock::now() + hold_max_};
    } else if (delay) {
        log(c, r, fmt::format("delay {} ms", *delay));
        c.pending[ix(d)].push_back({Clock::now() + milliseconds(*delay), std::move(m)});
    } else {
        forward(c, d, m);
        if (duplicate) {
            log(c, r, "duplicate");
            forward(c, d, m);
        }
        if (reflect) {
            log(c, r, fmt::format("reflect back to the {}", d == Dir::c2s ? "client" : "server"));
            forward(c, reverse(d), m);
        }
    }
    if (auto& h = c.held[ix(d)]; h && h->n + 1 == r.n) {
        log(c, {d, h->n}, fmt::format("release after #{}", r.n));
        forward(c, d, h->bytes);
        h.reset();
    }
    after(c, r, first_of_epoch);
}

// The actions that add a message once message `r` has passed.
void Mitm::after(Conn& c, const MsgRef& r, const std::optional<MsgRef>& first_of_epoch) {
    for (const Action& a : actions_) {
        if (!(a.at == r) && !(first_of_epoch && a.at == *first_of_epoch)) continue;
        switch (a.kind) {
            case Kind::replay: {
                const auto& kept = c.kept[ix(a.src.dir)];
                const auto it = kept.find(a.src.n);
                if (it == kept.end()) {
                    log(c, a.src, "replay: never seen, nothing sent");
                    break;
                }
                log(c, a.src, fmt::format("replay after {} #{} ({})", dir_name(r.dir), r.n, describe(it->second)));
                forward(c, a.src.dir, it->second);
                break;
            }
            case Kind::replay_recorded: {
                const auto it = recorded_.find({a.src.dir, a.src.n});
                if (it == recorded_.end()) {
                    log(c, a.src, "replay-recorded: not in the recording, nothing sent");
                    break;
                }
                log(c, a.src, fmt::format("replay recorded message after {} #{} ({})", dir_name(r.dir), r.n,
                                          describe(it->second)));
                forward(c, a.src.dir, it->second);
                break;
            }
            case Kind::inject:
                log(c, r, fmt::format("inject {} bytes after it ({})", a.bytes.size(), describe(a.bytes)));
                forward(c, r.dir, a.bytes);
                break;
            case Kind::inject_close: {
                const Buf close = forged_clear_close();
                log(c, r, fmt::format("inject a forged clear close after it ({})", describe(close)));
                forward(c, r.dir, close);
                break;
            }
            default: break;
        }
    }
}

// To DIR's receiver, behind anything delayed in that direction on TCP (a stream keeps its order).
void Mitm::forward(Conn& c, Dir d, const Buf& m) {
    if (c.tcp && !c.pending[ix(d)].empty()) {
        c.pending[ix(d)].push_back({Clock::now(), m});
        return;
    }
    send_now(c, d, m);
}

void Mitm::send_now(Conn& c, Dir d, const Buf& m) {
    if (c.dead) return;
    if (!c.tcp) {
        if (d == Dir::c2s) (void)::send(c.server.get(), m.data(), m.size(), 0);
        else (void)::sendto(c.udp_listen, m.data(), m.size(), 0, sa(c.client_addr), sizeof c.client_addr);
        return;
    }
    if (c.shut[ix(d)]) return;
    Buf frame{static_cast<std::uint8_t>(m.size() >> 8), static_cast<std::uint8_t>(m.size() & 0xff)};
    frame.insert(frame.end(), m.begin(), m.end());
    const int fd = d == Dir::c2s ? c.server.get() : c.client.get();
    if (!send_all(fd, frame.data(), frame.size())) {
        log_conn(c, fmt::format("{} write failed ({}), closing both sides", dir_name(d), std::strerror(errno)));
        c.dead = true;
    }
}

// Releases what is due; ends a TCP pair once both directions are over.
void Mitm::tick(Clock::time_point now) {
    for (auto& cp : conns_) {
        Conn& c = *cp;
        for (Dir d : {Dir::c2s, Dir::s2c}) {
            auto& q = c.pending[ix(d)];
            if (c.tcp) {
                std::size_t k = 0;
                while (k < q.size() && q[k].due <= now) send_now(c, d, q[k++].bytes);
                q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(k));
            } else {
                for (const auto& p : q)
                    if (p.due <= now) send_now(c, d, p.bytes);
                std::erase_if(q, [&](const Pending& p) { return p.due <= now; });
            }
            if (auto& h = c.held[ix(d)]; h && h->deadline <= now) {
                log(c, {d, h->n}, fmt::format("release after {} ms (no #{} came)", hold_max_.count(), h->n + 1));
                send_now(c, d, h->bytes);
                h.reset();
            }
            if (c.tcp && c.eof[ix(d)] && !c.shut[ix(d)] && q.empty() && !c.held[ix(d)]) {
                ::shutdown(d == Dir::c2s ? c.server.get() : c.client.get(), SHUT_WR);
                c.shut[ix(d)] = true;
            }
        }
        if (!c.tcp && !c.dead && now - c.last_seen > kUdpIdle) {
            c.dead = true;
            if (verbose_) log_conn(c, "udp peer idle, forgotten");
        }
        if (c.tcp && c.shut[0] && c.shut[1] && !c.dead) {
            c.dead = true;
            if (verbose_) log_conn(c, "tcp closed");
        }
    }
    std::erase_if(conns_, [](const auto& c) { return c->dead; });
}

int Mitm::poll_timeout(Clock::time_point now) const {
    auto next = now + kPollCap;
    for (const auto& c : conns_)
        for (Dir d : {Dir::c2s, Dir::s2c}) {
            for (const auto& p : c->pending[ix(d)]) next = std::min(next, p.due);
            if (const auto& h = c->held[ix(d)]) next = std::min(next, h->deadline);
        }
    const auto ms = std::chrono::duration_cast<milliseconds>(next - now).count();
    return static_cast<int>(std::clamp<std::int64_t>(ms + 1, 0, kPollCap.count()));
}

void Mitm::run() {
    while (g_stop == 0) {
        std::vector<pollfd> fds;
        struct Slot {
            Conn* c;
            Dir d;
        };
        std::vector<Slot> slots;  // what each pollfd after the listeners is
        if (tcp_listen_.get() >= 0) fds.push_back({tcp_listen_.get(), POLLIN, 0});
        if (udp_listen_.get() >= 0) fds.push_back({udp_listen_.get(), POLLIN, 0});
        const std::size_t first = fds.size();
        for (auto& c : conns_) {
            if (c->tcp && !c->eof[0]) {
                fds.push_back({c->client.get(), POLLIN, 0});
                slots.push_back({c.get(), Dir::c2s});
            }
            if (!c->tcp || !c->eof[1]) {
                fds.push_back({c->server.get(), POLLIN, 0});
                slots.push_back({c.get(), Dir::s2c});
            }
        }
        const int n = ::poll(fds.data(), fds.size(), poll_timeout(Clock::now()));
        if (n < 0 && errno != EINTR) throw Error(fmt::format("poll: {}", std::strerror(errno)));
        if (n > 0) {
            std::size_t i = 0;
            if (tcp_listen_.get() >= 0 && (fds[i++].revents & POLLIN) != 0) accept_tcp();
            if (udp_listen_.get() >= 0 && (fds[i++].revents & POLLIN) != 0) read_udp_client();
            for (std::size_t k = first; k < fds.size(); ++k) {
                if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
                Slot s = slots[k - first];
                if (s.c->dead) continue;
                if (!s.c->tcp) read_udp_server(*s.c);
                else read_tcp(*s.c, s.d);
            }
        }
        tick(Clock::now());
    }
}

int main_impl(int argc, char** argv) {
    CLI::App app{"lockstep_mitm: an active man in the middle between a lockstep client and server (tests only)"};
    std::string tcp_to, udp_to, record, replay_from;
    int tcp_port = 0, udp_port = 0, hold_max_ms = 2000;
    std::uint32_t only_conn = 0;
    bool verbose = false;
    app.add_option("--tcp", tcp_to, "The real server's TCP address HOST:PORT (IPv4)");
    app.add_option("--udp", udp_to, "The real server's UDP address HOST:PORT (IPv4)");
    app.add_option("--tcp-listen", tcp_port, "Our TCP port on 127.0.0.1 (0: ephemeral)")->check(CLI::Range(0, 65535));
    app.add_option("--udp-listen", udp_port, "Our UDP port on 127.0.0.1 (0: ephemeral)")->check(CLI::Range(0, 65535));
    app.add_option("--conn", only_conn, "Act on this connection only (numbered from 1; 0: every connection)")
        ->capture_default_str();
    app.add_option("--hold-max", hold_max_ms, "Longest --reorder hold in ms")->check(CLI::Range(1, 600'000))->capture_default_str();
    app.add_option("--record", record, "Append every message (conn dir index hex) to this file");
    app.add_option("--replay-from", replay_from, "A --record file whose first connection --replay-recorded takes from");
    app.add_flag("-v,--verbose", verbose, "One line per message: its number, frame, epoch, record number, length");
    std::vector<std::vector<std::string>> values(std::size(kActions));
    for (std::size_t i = 0; i < std::size(kActions); ++i)
        app.add_option(kActions[i].flag, values[i], kActions[i].help)->type_name(kActions[i].syntax)->take_all();
    app.footer(
        "DIR is c>s (client to server) or s>c; N counts the messages of one direction of a connection from 1 "
        "(c>s #1 is the HELLO, s>c #1 the HELLO ACK). Prints \"listening tcp=ADDR udp=ADDR\" when ready; "
        "stops on SIGINT/SIGTERM. Every action is one line on stderr.");
    CLI11_PARSE(app, argc, argv);

    try {
        std::vector<Action> actions;
        for (std::size_t i = 0; i < std::size(kActions); ++i)
            for (const auto& v : values[i]) actions.push_back(parse_action(kActions[i].kind, kActions[i].flag, v));
        if (tcp_to.empty() && udp_to.empty()) throw Error("give --tcp HOST:PORT and/or --udp HOST:PORT");
        Mitm m(std::move(actions), only_conn, milliseconds(hold_max_ms), verbose);
        if (!tcp_to.empty()) m.set_tcp(static_cast<std::uint16_t>(tcp_port), parse_addr(tcp_to));
        if (!udp_to.empty()) m.set_udp(static_cast<std::uint16_t>(udp_port), parse_addr(udp_to));
        if (!record.empty()) m.set_record(record);
        if (!replay_from.empty()) m.load_recorded(replay_from);
        struct sigaction sa_stop{};
        sa_stop.sa_handler = on_signal;
        ::sigaction(SIGTERM, &sa_stop, nullptr);
        ::sigaction(SIGINT, &sa_stop, nullptr);
        std::printf("%s\n", m.listening().c_str());
        std::fflush(stdout);
        m.run();
        std::fprintf(stderr, "mitm: stopped\n");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

}  // namespace
}  // namespace lockstep::mitm

int main(int argc, char** argv) { return lockstep::mitm::main_impl(argc, argv); }
