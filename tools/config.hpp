// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — connection settings shared by `serve` and `request`: the
// credential and protocol flags, the TOML config file (same keys as the flags;
// a flag given on the command line wins), and turning them into an engine
// Config together with everything it borrows.
//
// TOML example (serve):
//     tcp = 7400
//     mode = ["cert+psk", "psk"]     # or "cert+psk,psk"
//     cert = "server.cert"           # relative paths: relative to this file
//     key = "server.key"
//     ca = "ca"                      # CA directory or ca.cert
//     source = "sensor:5"
//     [[psks]]                       # serve only: several PSK identities
//     file = "device-1.psk"          # id from the file, or id = "..."
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "crypto/providers/openssl/openssl_keys.hpp"
#include "crypto/providers/openssl/openssl_provider.hpp"
#include "keys.hpp"
#include "lockstep/config.hpp"
#include "lockstep/net.hpp"

namespace lockstep::cli {

struct PskEntry {
    std::string id;    // empty: take it from the file
    std::string file;
};

struct ConnSettings {
    std::string config;              // --config FILE.toml
    std::vector<std::string> modes;  // empty: from the credentials given
    std::vector<std::string> suites;
    std::string cert, key, ca;
    std::string psk, psk_id;
    std::vector<PskEntry> psks;      // TOML [[psks]] (serve)
    bool psk_registry = false;       // serve --registry: the PSKs come from the device registry
    // request: the server certificate subjects accepted (cert modes); empty:
    // the HOST of HOST:PORT. The opt-out accepts any server the CA certified.
    std::vector<std::string> server_names;
    bool insecure_any_server_name = false;
    std::string policy;              // "": the transport's default (net::with_transport_defaults)
    int max_data = 16384;
    int ttl_lifetime_ms = 25'000;  // Timers::ttl_lifetime
    int clock_skew_ms = 2'000;     // Timers::clock_skew
    bool trace = false;
};

// Registers --config, --mode, --suite, --cert, --key, --ca, --psk, --psk-id,
// --policy, --max-data, --ttl-lifetime, --clock-skew, --trace on `sub`.
void add_conn_options(CLI::App& sub, ConnSettings& s);

// Reads s.config (if set) into the options of `sub` that were not given as
// flags. Unknown keys, wrong types and bad values are Exit::file errors.
void apply_config_file(CLI::App& sub, ConnSettings& s);
// The same for TOML text read from `path`, which names it in errors and
// anchors relative paths.
void apply_config_text(CLI::App& sub, ConnSettings& s, std::string_view text, const std::string& path);

// A server-side PSK store over the PSK files given.
class PskTable final : public PskStore {
public:
    void add(std::string id, SecretBuf key);
    std::span<const std::uint8_t> find(std::span<const std::uint8_t> identity) const noexcept override;
    std::size_t size() const noexcept { return entries_.size(); }

private:
    struct Entry {
        std::string id;
        SecretBuf key;
    };
    std::vector<Entry> entries_;
};

// An engine Config and everything it borrows (kept alive together).
struct EngineSetup {
    crypto::openssl::OpenSslProvider provider;
    std::unique_ptr<crypto::openssl::OpenSslSigner> signer;
    Buf cert, ca_cert;
    Psk psk;      // client
    Buf psk_id;   // client
    std::vector<std::string> server_names;        // client
    std::vector<std::string_view> server_name_views;  // what config.server_names points at
    PskTable psk_table;  // server
    Config config;
};

// Validates the settings (Exit::usage: a mode without its credentials flags;
// Exit::file: a bad file, a key that does not match its certificate, a
// certificate of the wrong role) and loads every file.
std::unique_ptr<EngineSetup> make_engine_setup(Role role, const ConnSettings& s);

// One warning line on stderr when psk-only is among the modes (it has no forward secrecy).
void warn_if_not_forward_secret(const Config& cfg);

// "cert+psk" -> Mode::cert_psk; Exit::usage for an unknown name.
Mode parse_mode(const std::string& name);
Suite parse_suite(const std::string& name);

}  // namespace lockstep::cli
