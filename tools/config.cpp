// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — connection settings, the TOML config file, engine Config (see config.hpp).
#include "config.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "handshake/certs.hpp"
#include "wire/wire.hpp"

namespace lockstep::cli {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxConfigFile = 1 << 20;

// Option names whose values are file paths: in a config file they are relative
// to the config file's directory.
bool is_path_key(const std::string& k) {
    return k == "cert" || k == "key" || k == "ca" || k == "psk" || k == "body-file";
}

std::string resolve(const fs::path& base, const std::string& p) {
    if (p.empty() || fs::path(p).is_absolute()) return p;
    return (base / p).lexically_normal().string();
}

// One TOML scalar as the string a command-line flag would carry.
bool scalar_text(const toml::node& n, std::string& out) {
    if (auto s = n.as_string()) out = s->get();
    else if (auto i = n.as_integer()) out = std::to_string(i->get());
    else if (auto b = n.as_boolean()) out = b->get() ? "true" : "false";
    else if (auto f = n.as_floating_point()) out = fmt::format("{}", f->get());
    else return false;
    return true;
}

void read_psk_tables(const toml::node& node, const std::string& path, const fs::path& base, ConnSettings& s) {
    const toml::array* arr = node.as_array();
    if (arr == nullptr) fail(Exit::file, fmt::format("config file {}: 'psks' must be an array of tables ([[psks]])", path));
    for (const toml::node& el : *arr) {
        const toml::table* t = el.as_table();
        if (t == nullptr) fail(Exit::file, fmt::format("config file {}: each [[psks]] entry must be a table", path));
        PskEntry e;
        for (auto&& [k, v] : *t) {
            const std::string key(k.str());
            const auto* str = v.as_string();
            if (str == nullptr || (key != "id" && key != "file"))
                fail(Exit::file, fmt::format("config file {}: [[psks]] takes id = \"...\" and file = \"...\" (got '{}')",
                                             path, key));
            (key == "id" ? e.id : e.file) = str->get();
        }
        if (e.file.empty()) fail(Exit::file, fmt::format("config file {}: a [[psks]] entry has no file", path));
        e.file = resolve(base, e.file);
        s.psks.push_back(std::move(e));
    }
}

}  // namespace

Mode parse_mode(const std::string& name) {
    for (Mode m : {Mode::cert, Mode::psk, Mode::cert_psk, Mode::psk_only})
        if (name == mode_name(m)) return m;
    fail(Exit::usage, fmt::format("unknown mode '{}' (cert, psk, cert+psk, psk-only)", name));
}

Suite parse_suite(const std::string& name) {
    for (Suite x : {Suite::aes256gcm, Suite::chacha20poly1305, Suite::aes256gcm_hmac_sha512})
        if (name == suite_name(x)) return x;
    fail(Exit::usage, fmt::format("unknown suite '{}' (aes256gcm, chacha20poly1305, aes256gcm-hmac-sha512)", name));
}

void add_conn_options(CLI::App& sub, ConnSettings& s) {
    sub.add_option("--config", s.config, "TOML file with the same keys as these flags (flags win)");
    sub.add_option("--mode", s.modes,
                   "Authentication mode(s): cert, psk, cert+psk, psk-only (repeat or comma list; client: in "
                   "preference order, server: the accepted set). Default: cert+psk with both credentials, else "
                   "cert or psk")
        ->delimiter(',');
    sub.add_option("--suite", s.suites,
                   "Record suites: aes256gcm, chacha20poly1305, aes256gcm-hmac-sha512 (repeat or comma list; "
                   "default all, in that order)")
        ->delimiter(',');
    sub.add_option("--cert", s.cert, "Our certificate (cert modes)");
    sub.add_option("--key", s.key, "Our private key, PEM, mode 0600 (cert modes)");
    sub.add_option("--ca", s.ca, "CA directory or ca.cert that the peer's certificate must chain to (cert modes)");
    sub.add_option("--psk", s.psk, "PSK file, mode 0600 (psk modes; lockstep psk gen)");
    sub.add_option("--psk-id", s.psk_id, "PSK identity (default: the id in the PSK file)");
    sub.add_option("--policy", s.policy, "Fault policy: strict (close) or tolerant (RESEND LAST up to 3 times); "
                                         "default strict on TCP, tolerant on UDP")
        ->check(CLI::IsMember({"strict", "tolerant"}));
    sub.add_option("--max-data", s.max_data, "Largest request/response body in bytes")
        ->check(CLI::Range(1, static_cast<int>(wire::kMaxData)))
        ->capture_default_str();
    // spec: PROTOCOL.md §8.3. Absolute ttls are whole seconds, so both count in seconds on the wire.
    sub.add_option("--ttl-lifetime", s.ttl_lifetime_ms, "ttl of the messages we send: send time + this, in ms")
        ->check(CLI::Range(1000, static_cast<int>(kMaxTtlLifetime.count())))
        ->capture_default_str();
    sub.add_option("--clock-skew", s.clock_skew_ms, "Accept a received message until its ttl + this, in ms")
        ->check(CLI::Range(0, 3'600'000))
        ->capture_default_str();
    sub.add_flag("--trace", s.trace, "Print every message sent and received (stderr), never a secret");
}

void apply_config_file(CLI::App& sub, ConnSettings& s) {
    if (s.config.empty()) return;
    const std::string path = s.config;
    const Buf bytes = read_file(path, kMaxConfigFile, "config file");
    apply_config_text(sub, s, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
}

void apply_config_text(CLI::App& sub, ConnSettings& s, std::string_view text, const std::string& path) {
    const fs::path base = fs::path(path).parent_path();
    toml::table tbl;
    try {
        tbl = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        fail(Exit::file, fmt::format("config file {}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column,
                                     e.description()));
    }
    for (auto&& [k, node] : tbl) {
        const std::string key(k.str());
        if (key == "psks" && sub.get_name() == "serve") {
            read_psk_tables(node, path, base, s);
            continue;
        }
        CLI::Option* opt = key == "config" || key == "help" ? nullptr : sub.get_option_no_throw("--" + key);
        if (opt == nullptr) fail(Exit::file, fmt::format("config file {}: unknown key '{}'", path, key));
        if (opt->count() > 0) continue;  // the flag on the command line wins
        std::vector<std::string> values;
        std::string v;
        if (const toml::array* arr = node.as_array()) {
            for (const toml::node& el : *arr) {
                if (!scalar_text(el, v)) fail(Exit::file, fmt::format("config file {}: key '{}' has a nested value", path, key));
                values.push_back(v);
            }
        } else if (scalar_text(node, v)) {
            values.push_back(v);
        } else {
            fail(Exit::file, fmt::format("config file {}: key '{}' must be a string, number, boolean or array", path, key));
        }
        if (is_path_key(key))
            for (auto& p : values) p = resolve(base, p);
        if (key == "source")
            for (auto& p : values)
                if (p.rfind("file:", 0) == 0) p = "file:" + resolve(base, p.substr(5));
        try {
            if (opt->get_expected_min() == 0) {  // a flag: true / false
                if (values.size() != 1 || !node.is_boolean())
                    fail(Exit::file, fmt::format("config file {}: key '{}' must be true or false", path, key));
                opt->add_result(values[0]);
            } else {
                opt->add_result(values);
            }
            opt->run_callback();
        } catch (const CLI::Error& e) {
            fail(Exit::file, fmt::format("config file {}: key '{}': {}", path, key, e.what()));
        }
    }
}

void warn_if_not_forward_secret(const Config& cfg) {
    if (!cfg.modes.contains(Mode::psk_only)) return;
    fmt::print(stderr,
               "warning: mode psk-only is not forward secret: whoever learns the PSK later can decrypt recorded "
               "traffic; prefer psk or cert+psk where the device can afford X25519\n");
}

// ---------------------------------------------------------------- PSK store
void PskTable::add(std::string id, SecretBuf key) {
    for (const Entry& e : entries_)
        if (e.id == id) fail(Exit::file, fmt::format("PSK identity '{}' is given twice", id));
    entries_.push_back(Entry{std::move(id), std::move(key)});
}

std::span<const std::uint8_t> PskTable::find(std::span<const std::uint8_t> identity) const noexcept {
    for (const Entry& e : entries_) {
        const ConstSpan id = as_span(e.id);
        if (std::equal(id.begin(), id.end(), identity.begin(), identity.end())) return e.key.span();
    }
    return {};
}

// ---------------------------------------------------------------- engine config
std::unique_ptr<EngineSetup> make_engine_setup(Role role, const ConnSettings& s) {
    auto out = std::make_unique<EngineSetup>();
    Config& cfg = out->config;
    cfg.role = role;
    cfg.provider = &out->provider;
    const bool server = role == Role::server;
    const bool have_cert = !s.cert.empty() || !s.key.empty();
    const bool have_psk = !s.psk.empty() || (server && (!s.psks.empty() || s.psk_registry));

    // Modes: client preference order, or the server's accepted set.
    std::vector<Mode> modes;
    for (const std::string& m : s.modes) {
        const Mode x = parse_mode(m);
        if (std::find(modes.begin(), modes.end(), x) == modes.end()) modes.push_back(x);
    }
    if (modes.empty()) {
        if (have_cert && have_psk) modes = {Mode::cert_psk};
        else if (have_cert) modes = {Mode::cert};
        else if (have_psk) modes = {Mode::psk};
        else fail(Exit::usage, "no credentials: give --cert/--key/--ca and/or --psk (see --help)");
    }
    cfg.modes = {};
    bool need_cert = false, need_psk = false;
    for (Mode m : modes) {
        cfg.modes.items[cfg.modes.count++] = m;
        need_cert = need_cert || mode_uses_cert(m);
        need_psk = need_psk || mode_uses_psk(m);
    }

    if (!s.suites.empty()) {
        cfg.suites = {};
        for (const std::string& n : s.suites) {
            const Suite x = parse_suite(n);
            if (!cfg.suites.contains(x) && cfg.suites.count < cfg.suites.items.size()) cfg.suites.items[cfg.suites.count++] = x;
        }
    }
    // Left at its default, the transport picks it (strict on TCP, tolerant on UDP).
    if (s.policy == "tolerant") cfg.policy = Policy::tolerant;
    if (s.policy == "strict") cfg.policy = Policy::strict;
    cfg.max_data = static_cast<std::uint16_t>(s.max_data);
    cfg.timers.ttl_lifetime = std::chrono::milliseconds(s.ttl_lifetime_ms);
    cfg.timers.clock_skew = std::chrono::milliseconds(s.clock_skew_ms);

    if (need_cert) {
        if (s.cert.empty() || s.key.empty() || s.ca.empty())
            fail(Exit::usage, "the cert and cert+psk modes need --cert, --key and --ca");
        out->signer = load_key(s.key);
        out->cert = load_cert(s.cert);
        const std::string ca_path = ca_cert_path(s.ca);
        out->ca_cert = load_cert(ca_path, "CA certificate");
        if (!certs::verify_ca(out->provider, out->ca_cert))
            fail(Exit::file, fmt::format("{} is not a valid self-signed CA certificate", ca_path));
        auto c = wire::decode_cert(out->cert);
        const ConstSpan pub = out->signer->public_key();
        if (c->key_alg != out->signer->alg() || !std::equal(pub.begin(), pub.end(), c->pubkey.begin(), c->pubkey.end()))
            fail(Exit::file, fmt::format("key file {} does not match certificate {}", s.key, s.cert));
        const CertRole want = server ? CertRole::server : CertRole::client;
        if (c->role != want)
            fail(Exit::file, fmt::format("certificate {} is not a {} certificate", s.cert, server ? "server" : "client"));
        cfg.signer = out->signer.get();
        cfg.certificate = out->cert;
        cfg.ca_certificate = out->ca_cert;
        if (!server) {
            // spec: PROTOCOL.md §7.4 — the client names the server it wants.
            out->server_names = s.server_names;
            for (const std::string& n : out->server_names) {
                if (n.empty() || n.size() > wire::kMaxSubject)
                    fail(Exit::usage, fmt::format("--server-name must be 1..{} bytes", wire::kMaxSubject));
                out->server_name_views.emplace_back(n);
            }
            cfg.server_names = out->server_name_views;
            cfg.insecure_accept_any_server_name = s.insecure_any_server_name;
            if (cfg.server_names.empty() && !s.insecure_any_server_name)
                fail(Exit::usage, "the cert modes need the server's name: --server-name NAME "
                                  "(or --insecure-any-server-name)");
        }
    }

    if (need_psk) {
        if (!have_psk) fail(Exit::usage, "the psk modes need --psk FILE");
        if (!s.psk_id.empty() && s.psk_id.size() > wire::kMaxPskId)
            fail(Exit::usage, fmt::format("--psk-id must be 1..{} bytes", wire::kMaxPskId));
        if (server) {
            if (!s.psk.empty()) {
                Psk p = load_psk(s.psk);
                std::string id = s.psk_id.empty() ? p.id : s.psk_id;
                if (id.empty()) fail(Exit::usage, fmt::format("PSK file {} names no identity; give --psk-id", s.psk));
                out->psk_table.add(std::move(id), std::move(p.key));
            }
            for (const PskEntry& e : s.psks) {
                Psk p = load_psk(e.file);
                std::string id = e.id.empty() ? p.id : e.id;
                if (id.empty()) fail(Exit::file, fmt::format("PSK file {} names no identity; give id = \"...\"", e.file));
                out->psk_table.add(std::move(id), std::move(p.key));
            }
            if (s.psk_registry && out->psk_table.size() > 0)
                fail(Exit::usage, "--registry replaces --psk and [[psks]]: give one or the other");
            cfg.psk_store = &out->psk_table;  // serve --registry replaces it (serve_cmd.cpp)
        } else {
            out->psk = load_psk(s.psk);
            const std::string id = s.psk_id.empty() ? out->psk.id : s.psk_id;
            if (id.empty()) fail(Exit::usage, fmt::format("PSK file {} names no identity; give --psk-id", s.psk));
            out->psk_id.assign(id.begin(), id.end());
            cfg.psk = out->psk.key.span();
            cfg.psk_id = out->psk_id;
        }
    }
    return out;
}

}  // namespace lockstep::cli
