// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — keys, certificates and PSKs: making them (ca init, cert issue,
// psk gen) and loading them for serve / request / demo, with one clear error
// line for every bad file.
//
// Files: a private key is unencrypted PKCS#8 PEM, mode 0600; a certificate is
// the compact binary certificate (spec: PROTOCOL.md §7); a PSK file is text,
// mode 0600:
//     # lockstep pre-shared key: secret, keep it mode 0600
//     id=device-1
//     key=<hex, 16..64 bytes>
// A file of 16..64 raw bytes is accepted too (the identity then comes from --psk-id).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cli.hpp"
#include "crypto/providers/openssl/openssl_keys.hpp"
#include "lockstep/crypto.hpp"
#include "lockstep/types.hpp"

namespace lockstep::cli {

// "ed25519" | "rsa2048" | "rsa3072"
crypto::SigAlg parse_alg(const std::string& name);
const char* alg_label(crypto::SigAlg a);

// --ca accepts the CA directory (then DIR/ca.cert) or the certificate file itself.
std::string ca_cert_path(const std::string& ca);

struct CaInitArgs {
    std::string dir;
    std::string subject = "lockstep CA";
    std::string alg = "ed25519";
    int days = 3650;
};
void ca_init(const CaInitArgs& a);  // DIR/ca.key (0600), DIR/ca.cert

struct CertIssueArgs {
    std::string ca_dir;
    std::string role;  // "server" | "client"
    std::string subject;
    std::string prefix;
    std::string alg = "ed25519";
    int days = 365;
    std::string c_header = {};  // also write cert, key seed and CA cert as a C header for firmware (0600); empty: none
};
void cert_issue(const CertIssueArgs& a);  // PREFIX.key (0600), PREFIX.cert

struct PskGenArgs {
    std::string out;
    int bytes = 32;
    std::string id;  // empty: the file name without its extension
    std::string c_header = {};  // also write the key and identity as a C header for firmware (0600); empty: none
};
void psk_gen(const PskGenArgs& a);

// Loading. Every failure is Exit::file naming the file and the cause.
std::unique_ptr<crypto::openssl::OpenSslSigner> load_key(const std::string& path);
Buf load_cert(const std::string& path, std::string_view what = "certificate");
struct Psk {
    std::string id;  // may be empty for a raw PSK file
    SecretBuf key;
};
Psk load_psk(const std::string& path);

}  // namespace lockstep::cli
