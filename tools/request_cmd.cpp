// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — `lockstep request` (see request.hpp).
#include <chrono>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "key_log.hpp"
#include "lockstep/net.hpp"
#include "request.hpp"

namespace lockstep::cli {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Reconnections offer the configured lists, never fewer: no fallback (spec: PROTOCOL.md §3.6).
constexpr int kMaxReconnects = 3;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Target {
    std::string host;
    std::uint16_t port = 0;
};

Target parse_target(const std::string& s) {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
        fail(Exit::usage, fmt::format("'{}' is not HOST:PORT", s));
    Target t;
    t.host = s.substr(0, colon);
    if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']') t.host = t.host.substr(1, t.host.size() - 2);
    int port = 0;
    try {
        std::size_t used = 0;
        port = std::stoi(s.substr(colon + 1), &used);
        if (used != s.size() - colon - 1) port = -1;
    } catch (const std::exception&) {
        port = -1;
    }
    if (port < 1 || port > 65535) fail(Exit::usage, fmt::format("'{}': the port must be 1..65535", s));
    t.port = static_cast<std::uint16_t>(port);
    return t;
}

bool auth_err(Err e) {
    switch (e) {
        case Err::bad_mac:
        case Err::bad_signature:
        case Err::bad_certificate:
        case Err::cert_expired:
        case Err::cert_wrong_role:
        case Err::cert_wrong_issuer:
        case Err::unknown_psk:
        case Err::downgrade:
        case Err::no_common_parameters: return true;
        default: return false;
    }
}

bool auth_reason(Reason r) {
    switch (r) {
        case Reason::bad_mac:
        case Reason::bad_signature:
        case Reason::bad_certificate:
        case Reason::unknown_psk:
        case Reason::downgrade:
        case Reason::no_common_parameters: return true;
        default: return false;
    }
}

// Our own verdict on the server, in words.
std::string local_auth_text(Err e) {
    switch (e) {
        case Err::cert_wrong_issuer: return "the server's certificate is not issued by our CA (--ca)";
        case Err::bad_certificate:
            return "the server's certificate names another server than expected (--server-name), is invalid, or "
                   "its CA signature does not verify";
        case Err::cert_expired: return "the server's certificate has expired or is not yet valid";
        case Err::cert_wrong_role: return "the server's certificate is not a server certificate";
        case Err::bad_signature: return "the server's handshake signature does not verify";
        case Err::bad_mac: return "a MAC did not verify (a different PSK?)";
        case Err::downgrade: return "downgrade detected: the negotiated parameters are not the best mutual ones";
        case Err::no_common_parameters: return "no common version, suite or mode with the server";
        case Err::unknown_psk: return "the PSK identity is unknown";
        default: return "the handshake failed";
    }
}

// The server's verdict on us, in words.
std::string peer_auth_text(Reason r, const EngineSetup& s) {
    switch (r) {
        case Reason::bad_certificate: return "the server rejected our certificate";
        case Reason::bad_signature: return "the server rejected our handshake signature";
        case Reason::bad_mac:
            // A server answers an unknown PSK identity like a wrong key (no identity probing).
            return s.psk_id.empty() ? "the server found a bad MAC"
                                    : fmt::format("the server rejected our PSK (identity '{}' unknown, or a different key)",
                                                  std::string(s.psk_id.begin(), s.psk_id.end()));
        case Reason::unknown_psk:
            return fmt::format("the server does not know our PSK identity '{}'",
                               std::string(s.psk_id.begin(), s.psk_id.end()));
        case Reason::downgrade: return "the server detected a downgrade";
        case Reason::no_common_parameters: return "no common version, suite or mode with the server";
        default: return "the server refused the handshake";
    }
}

// Exit::auth with a clear line, if the closed event is an authentication failure.
// Once the handshake is done a bad MAC is a record that failed its tag check:
// traffic altered or injected on the path, not a wrong credential.
void throw_if_auth(const Event& ev, const EngineSetup& s, bool established = false) {
    if (established && (ev.by_peer ? ev.reason == Reason::bad_mac : ev.error == Err::bad_mac))
        fail(Exit::auth, fmt::format("authentication failed: {} a record that failed its MAC check (altered or "
                                     "injected on the path?) (reason bad_mac)",
                                     ev.by_peer ? "the server received" : "we received"));
    if (auth_err(ev.error))  // ours, or why we dropped the HELLO ACK of a server that then closed
        fail(Exit::auth, fmt::format("authentication failed: {} ({})", local_auth_text(ev.error), err_name(ev.error)));
    if (ev.by_peer && auth_reason(ev.reason))
        fail(Exit::auth, fmt::format("authentication failed: {} (reason {})", peer_auth_text(ev.reason, s),
                                     reason_name(ev.reason)));
}

std::string close_text(const Event& ev) {
    if (ev.by_peer && ev.error == Err::closed) return "the server dropped the connection (no CLOSE)";
    if (ev.by_peer) return fmt::format("connection closed by the server (reason {})", reason_name(ev.reason));
    if (ev.error != Err::ok)
        return fmt::format("connection closed after a fault ({}, reason {})", err_name(ev.error), reason_name(ev.reason));
    return fmt::format("connection closed (reason {})", reason_name(ev.reason));
}

void add_stats(Stats& sum, const Stats& s) {
    sum.handshakes += s.handshakes;
    sum.rekeys += s.rekeys;
    sum.requests += s.requests;
    sum.responses += s.responses;
    sum.retransmissions += s.retransmissions;
    sum.resend_lasts_sent += s.resend_lasts_sent;
    sum.bytes_sent += s.bytes_sent;
    sum.bytes_received += s.bytes_received;
    sum.handshake_bytes += s.handshake_bytes;
}

// The client's tracer: passes lines on when tracing, and counts received messages
// the engine ignored. Right after the handshake such a message is the
// unauthenticated CLOSE a server sends when it rejects our ACK (our certificate
// or signature): the engine cannot trust its reason, but the CLI can name the
// likely cause instead of reporting a mere lost connection.
class ClientTracer final : public Tracer {
public:
    explicit ClientTracer(TraceSink* sink) {
        if (sink != nullptr) line_ = std::make_unique<LineTracer>(*sink, "client");
    }
    void on_message(const TraceEntry& e) noexcept override {
        if (line_) line_->on_message(e);
    }
    void on_fault(Err e, bool fatal) noexcept override {
        if (!fatal && e == Err::unexpected_message) ++ignored;
        if (line_) line_->on_fault(e, fatal);
    }
    int ignored = 0;

private:
    std::unique_ptr<LineTracer> line_;
};

// One connection with the handshake done; Failure (network / auth) if not.
std::unique_ptr<net::Client> open_connection(const RequestArgs& a, const Target& t, net::Transport tr,
                                             EngineSetup& setup, Tracer* tracer) {
    auto c = std::make_unique<net::Client>(setup.config, tr);
    if (tracer != nullptr) c->set_tracer(tracer);
    auto st = c->connect(t.host, t.port, milliseconds(a.timeout_ms));
    if (st) return c;
    if (st.error() == Err::invalid_argument) fail(Exit::network, fmt::format("cannot resolve host '{}'", t.host));
    const bool udp = tr == net::Transport::udp;
    const std::string where = fmt::format("{} over {}", a.target, udp ? "udp" : "tcp");
    const auto ev = c->closed_event();
    if (ev) throw_if_auth(*ev, setup);
    if (c->engine().stats().bytes_received == 0) {  // not a byte from the server
        if (ev && ev->by_peer && ev->error == Err::closed)
            fail(Exit::network, fmt::format("cannot connect to {}: connection refused", where));
        // Over UDP a server is silent, by design, to a HELLO whose PSK it cannot check.
        const bool psk = setup.config.psk_id.size() > 0;
        fail(Exit::network, fmt::format("no answer from {} {} (is a server listening?{})", where,
                                        st.error() == Err::timeout ? fmt::format("within {} ms", a.timeout_ms)
                                                                   : std::string("to the HELLO and its resends"),
                                        udp && psk ? " A server does not answer a PSK identity or key it does "
                                                     "not know"
                                                   : ""));
    }
    if (ev) fail(Exit::auth, fmt::format("handshake with {} failed: {}", where, close_text(*ev)));
    fail(Exit::auth, fmt::format("handshake with {} did not complete within {} ms", where, a.timeout_ms));
}

void run_request(CLI::App& sub, RequestArgs& a) {
    apply_config_file(sub, a.conn);
    if (a.tcp && a.udp) fail(Exit::usage, "give --tcp or --udp, not both");
    if (a.conn.server_names.empty() && !a.conn.insecure_any_server_name)
        a.conn.server_names.push_back(parse_target(a.target).host);  // like a TLS host-name check
    if (a.conn.insecure_any_server_name)
        fmt::print(stderr, "warning: --insecure-any-server-name: any server certified by the CA is accepted, "
                           "and can learn this client's identity\n");
    auto setup = make_engine_setup(Role::client, a.conn);
    warn_if_not_forward_secret(setup->config);
    std::unique_ptr<KeyLogFile> key_log;
    if (!a.key_log.empty()) {
        require_key_log_support(setup->config);
        key_log = std::make_unique<KeyLogFile>(a.key_log);
        setup->config.insecure_key_log = key_log.get();
        fmt::print(stderr, "warning: --insecure-key-log: the secrets of these connections go to {}; whoever reads "
                           "it can decrypt them\n", a.key_log);
    }
    TraceSink sink(stderr);
    ClientRun r = run_client(a, *setup, a.conn.trace ? &sink : nullptr, [](int, std::span<const std::uint8_t> body) {
        std::string text = printable_or_hex(body);
        if (text.empty() || text.back() != '\n') text.push_back('\n');
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
    });
    if (a.summary) print_summary(stdout, r);
    std::fflush(stdout);
    check_complete(r);
}

}  // namespace

std::string number_ranges(const std::vector<int>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size();) {
        std::size_t j = i;
        while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
        if (!out.empty()) out += ", ";
        out += j == i ? std::to_string(v[i]) : fmt::format("{}-{}", v[i], v[j]);
        i = j + 1;
    }
    return out;
}

ClientRun run_client(const RequestArgs& a, EngineSetup& setup, TraceSink* trace, const ResponseFn& on_response) {
    const Target t = parse_target(a.target);
    const net::Transport tr = a.udp ? net::Transport::udp : net::Transport::tcp;
    Buf body;
    if (!a.body_file.empty()) body = read_file(a.body_file, setup.config.max_data, "body file");
    else body.assign(a.body.begin(), a.body.end());
    if (body.size() > setup.config.max_data)
        fail(Exit::usage, fmt::format("the request body is {} bytes; --max-data is {}", body.size(), setup.config.max_data));

    ClientRun r;
    r.transport = tr == net::Transport::tcp ? "tcp" : "udp";
    r.target = a.target;
    r.requests = a.count;
    ClientTracer tracer(trace);
    const milliseconds timeout(a.timeout_ms);
    const auto t0 = Clock::now();

    std::unique_ptr<net::Client> client = open_connection(a, t, tr, setup, &tracer);
    r.handshake_ms = ms_since(t0);
    r.connections = 1;
    r.mode = client->engine().mode();
    r.suite = client->engine().suite();
    auto retire = [&](std::unique_ptr<net::Client>& c) {
        add_stats(r.stats, c->engine().stats());
        c.reset();
    };

    int answered_here = 0;  // on the current connection
    for (int i = 1; i <= a.count; ++i) {
        if (i > 1 && a.interval_ms > 0) std::this_thread::sleep_for(milliseconds(a.interval_ms));
        if (!client) {
            if (r.connections - 1 >= kMaxReconnects) {
                r.failure = fmt::format("giving up after {} reconnections", kMaxReconnects);
            } else {
                try {
                    tracer.ignored = 0;
                    client = open_connection(a, t, tr, setup, &tracer);
                    ++r.connections;
                    answered_here = 0;
                } catch (const Failure& f) {
                    r.failure = fmt::format("reconnecting failed: {}", f.what());
                }
            }
            if (!client) {
                for (int k = i; k <= a.count; ++k) r.unanswered.push_back(k);
                break;
            }
        }
        auto resp = client->request(body, timeout);
        if (resp) {
            ++r.answered;
            ++answered_here;
            on_response(i, *resp);
            continue;
        }
        r.unanswered.push_back(i);
        const auto ev = client->closed_event();
        if (ev) throw_if_auth(*ev, setup, true);
        const bool silent_end = resp.error() == Err::timeout || (ev && ev->by_peer && ev->error == Err::closed);
        if (answered_here == 0 && silent_end && tracer.ignored > 0) {
            // See ClientTracer: an unauthenticated CLOSE right after the handshake.
            fail(Exit::auth, fmt::format("handshake failed: the server sent an unauthenticated CLOSE right after "
                                         "the handshake and {} (it probably rejected our certificate; see the "
                                         "server's trace)",
                                         resp.error() == Err::timeout ? "stopped answering" : "dropped the connection"));
        }
        if (resp.error() == Err::timeout) {
            r.notes.push_back(fmt::format("request {}: no response within {} ms", i, a.timeout_ms));
            (void)client->close(milliseconds(std::min(a.timeout_ms, 1000)));
            retire(client);
            continue;  // the next request goes over a new connection
        }
        if (ev && !ev->by_peer && ev->error != Err::ok) {
            r.notes.push_back(fmt::format("request {}: {}", i, close_text(*ev)));
            retire(client);
            continue;  // a local fault (e.g. resend_exhausted): try a new connection
        }
        // The server closed (shutdown, normal, ...) or went away: stop here.
        r.failure = ev ? close_text(*ev) : fmt::format("request failed ({})", err_name(resp.error()));
        r.failure += fmt::format(" during request {} of {}", i, a.count);
        for (int k = i + 1; k <= a.count; ++k) r.unanswered.push_back(k);
        retire(client);
        break;
    }
    if (client) {
        r.clean_close = client->close(timeout).has_value();
        retire(client);
    }
    r.elapsed_ms = ms_since(t0);
    return r;
}

void print_summary(std::FILE* out, const ClientRun& r) {
    const Stats& s = r.stats;
    fmt::print(out, "summary: {} {}, mode {}, suite {}\n", r.transport, r.target, mode_name(r.mode), suite_name(r.suite));
    fmt::print(out, "  requests      {} sent, {} answered{}\n", s.requests, r.answered,
               r.unanswered.empty() ? "" : fmt::format(", unanswered: {}", number_ranges(r.unanswered)));
    fmt::print(out, "  re-keys       {}\n", s.rekeys);
    fmt::print(out, "  bytes         {} sent, {} received ({} in the initial handshake{})\n", s.bytes_sent,
               s.bytes_received, s.handshake_bytes, r.connections > 1 ? "s" : "");
    if (s.retransmissions != 0 || s.resend_lasts_sent != 0)
        fmt::print(out, "  resent        {} retransmissions, {} RESEND LAST sent\n", s.retransmissions, s.resend_lasts_sent);
    if (r.connections > 1) fmt::print(out, "  connections   {}\n", r.connections);
    fmt::print(out, "  time          {:.1f} ms (handshake {:.1f} ms)\n", r.elapsed_ms, r.handshake_ms);
    fmt::print(out, "  close         {}\n", r.failure.empty() ? (r.clean_close ? "clean (CLOSE, CLOSE ACK)" : "without CLOSE ACK")
                                                          : r.failure);
}

void check_complete(const ClientRun& r) {
    if (!r.failure.empty())
        fail(Exit::closed, fmt::format("{}; unanswered: {}", r.failure, number_ranges(r.unanswered)));
    if (!r.unanswered.empty()) {
        std::string why;
        for (const auto& n : r.notes) why += (why.empty() ? "" : "; ") + n;
        fail(Exit::unanswered, fmt::format("{} of {} requests unanswered: {} ({})", r.unanswered.size(), r.requests,
                                           number_ranges(r.unanswered), why));
    }
}

CLI::App* add_request_options(CLI::App& app, RequestArgs& args) {
    RequestArgs* a = &args;
    auto* sub = app.add_subcommand("request", "Connect to a lockstep server, send requests, print the responses");
    sub->add_option("HOST:PORT", a->target, "Server address")->required();
    auto* tcp = sub->add_flag("--tcp", a->tcp, "Use TCP (the default)");
    auto* udp = sub->add_flag("--udp", a->udp, "Use UDP");
    tcp->excludes(udp);
    add_conn_options(*sub, a->conn);
    auto* names = sub->add_option("--server-name", a->conn.server_names,
                                  "Subject the server's certificate must carry (cert modes; repeatable; "
                                  "default: HOST)");
    auto* any = sub->add_flag("--insecure-any-server-name", a->conn.insecure_any_server_name,
                              "INSECURE: accept any server certificate the CA signed (cert modes)");
    names->excludes(any);
    sub->add_option("-n,--count", a->count, "Number of requests")->check(CLI::Range(1, 1'000'000))->capture_default_str();
    auto* body = sub->add_option("--body", a->body, "Request body (text); the sensor source takes m=<k>");
    auto* body_file = sub->add_option("--body-file", a->body_file, "Request body from a file");
    body->excludes(body_file);
    sub->add_option("--interval", a->interval_ms, "Pause between requests in ms")->check(CLI::Range(0, 3'600'000));
    sub->add_option("--timeout", a->timeout_ms, "Limit for every network wait in ms (connect, each response, close)")
        ->check(CLI::Range(1, 3'600'000))
        ->capture_default_str();
    sub->add_flag("--summary", a->summary, "Print requests, responses, re-keys, bytes and time at the end");
    sub->add_option("--insecure-key-log", a->key_log,
                    "INSECURE, tests and debugging only: append every secret of the connections to this file "
                    "(mode 0600) for Wireshark; needs a build with the key log compiled in");
    sub->footer(
        "Responses go to stdout (text as is, anything else as hex:...). Exit 0 only if every request was "
        "answered; otherwise the unanswered request numbers are named."
        "\n\n" + std::string(kExitCodeHelp));
    return sub;
}

void add_request_command(CLI::App& app) {
    auto a = std::make_shared<RequestArgs>();
    CLI::App* sub = add_request_options(app, *a);
    sub->callback([sub, a] { run_request(*sub, *a); });
}

}  // namespace lockstep::cli
