// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — `ca init`, `cert issue`, `cert show`, `psk gen`, and the
// loaders the other commands use (keys.hpp).
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <limits>
#include <utility>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "crypto/providers/openssl/openssl_provider.hpp"
#include "handshake/certs.hpp"
#include "keys.hpp"
#include "lockstep/result.hpp"
#include "wire/wire.hpp"

namespace lockstep::cli {

namespace fs = std::filesystem;
using crypto::SigAlg;
using crypto::openssl::OpenSslProvider;
using crypto::openssl::OpenSslSigner;

namespace {

constexpr std::int64_t kSecondsPerDay = 86'400;
// Certificates start a little in the past so a peer whose clock is slightly
// behind accepts them at once.
constexpr std::int64_t kBackdate = 300;
constexpr std::size_t kMinPsk = 16, kMaxPsk = 64;
constexpr std::size_t kMaxPskId = wire::kMaxPskId;
constexpr std::size_t kMaxPskFile = 4096;

std::int64_t unix_now() { return unix_ms() / 1000; }

std::uint32_t clamp_u32(std::int64_t v) {
    if (v < 0) return 0;
    if (v > std::numeric_limits<std::uint32_t>::max()) return std::numeric_limits<std::uint32_t>::max();
    return static_cast<std::uint32_t>(v);
}

const char* role_label(CertRole r) {
    switch (r) {
        case CertRole::ca: return "ca";
        case CertRole::server: return "server";
        case CertRole::client: return "client";
    }
    return "unknown";
}

void check_subject(const std::string& s) {
    if (s.empty() || s.size() > wire::kMaxSubject)
        fail(Exit::usage, fmt::format("--subject must be 1..{} bytes (got {})", wire::kMaxSubject, s.size()));
}

std::uint64_t random_serial(OpenSslProvider& p) {
    std::uint8_t b[8];
    if (!p.random(b)) fail(Exit::internal, "the random number generator failed");
    b[0] &= 0x7f;  // positive when read as a signed number
    return load_be64(b);
}

std::unique_ptr<OpenSslSigner> generate_key(SigAlg alg) {
    auto k = OpenSslSigner::generate(alg);
    if (!k) fail(Exit::internal, fmt::format("cannot generate a {} key: {}", alg_label(alg), err_name(k.error())));
    return std::move(*k);
}

void save_key(const OpenSslSigner& k, const std::string& path) {
    require_absent(path);
    if (!k.save_pem(path.c_str())) fail(Exit::file, fmt::format("cannot write key file {}", path));
}

// Issues, encodes and writes a certificate for `subject_key`, signed by `issuer`.
Buf make_cert(OpenSslProvider& p, OpenSslSigner& issuer, const OpenSslSigner& subject_key, CertRole role,
              const std::string& subject, std::uint32_t not_before, std::uint32_t not_after) {
    wire::Cert c;
    c.role = role;
    c.key_alg = subject_key.alg();
    c.subject = as_span(subject);
    c.serial = random_serial(p);
    c.not_before = not_before;
    c.not_after = not_after;
    c.pubkey = subject_key.public_key();
    Buf out(wire::kMaxCert);
    auto n = certs::issue(p, issuer, c, out);
    if (!n) fail(Exit::internal, fmt::format("cannot issue the certificate: {}", err_name(n.error())));
    out.resize(*n);
    return out;
}

std::string describe_cert_error(Err e) {
    switch (e) {
        case Err::cert_wrong_issuer: return "not issued by this CA (issuer key id differs)";
        case Err::bad_certificate: return "the CA signature does not verify";
        case Err::cert_expired: return "outside its validity period";
        case Err::cert_wrong_role: return "wrong role";
        default: return err_name(e);
    }
}

std::string wrap_hex(ConstSpan b, std::size_t indent) {
    const std::string h = hex(b);
    constexpr std::size_t kLine = 64;
    std::string out;
    for (std::size_t i = 0; i < h.size(); i += kLine) {
        if (i != 0) out += "\n" + std::string(indent, ' ');
        out += h.substr(i, kLine);
    }
    return out;
}

// ---- cert show
void cert_show(const std::string& file, const std::string& ca) {
    const Buf bytes = load_cert(file);
    auto c = wire::decode_cert(bytes);  // load_cert checked it decodes
    OpenSslProvider p;
    auto own_id = certs::key_id(p, c->key_alg, c->pubkey);
    const std::int64_t now = unix_now();
    const char* when = now < c->not_before ? "not yet valid" : now > c->not_after ? "EXPIRED" : "valid now";
    constexpr std::size_t kIndent = 16;
    fmt::print("certificate:    {} ({} bytes)\n", file, bytes.size());
    fmt::print("version:        {}\n", bytes[0]);
    fmt::print("role:           {}\n", role_label(c->role));
    fmt::print("key alg:        {}\n", alg_label(c->key_alg));
    fmt::print("subject:        {}\n", printable_or_hex(c->subject));
    fmt::print("serial:         0x{:016x}\n", c->serial);
    fmt::print("not before:     {}\n", utc_time(c->not_before));
    fmt::print("not after:      {}  ({})\n", utc_time(c->not_after), when);
    fmt::print("issuer key id:  {}{}\n", hex(c->issuer),
               own_id && *own_id == c->issuer ? "  (self-issued)" : "");
    if (own_id) fmt::print("key id:         {}\n", hex(*own_id));
    fmt::print("public key:     {}\n", wrap_hex(c->pubkey, kIndent));
    fmt::print("signature alg:  {}\n", alg_label(c->sig_alg));
    fmt::print("signature:      {}\n", wrap_hex(c->signature, kIndent));

    if (ca.empty()) {
        if (c->role == CertRole::ca) {
            auto st = certs::verify_ca(p, bytes);
            fmt::print("self-signature: {}\n", st ? "valid" : "INVALID: " + describe_cert_error(st.error()));
            std::fflush(stdout);
            if (!st) fail(Exit::auth, fmt::format("CA certificate {} is not validly self-signed", file));
        } else {
            fmt::print("verifies:       not checked (give --ca DIR to check it against a CA)\n");
        }
        return;
    }
    const std::string ca_path = ca_cert_path(ca);
    const Buf ca_bytes = load_cert(ca_path, "CA certificate");
    Status ok;
    if (c->role == CertRole::ca) {
        auto st = certs::verify_ca(p, bytes);
        ok = !st ? Status{st.error()} : bytes == ca_bytes ? Status{} : Status{Err::cert_wrong_issuer};
    } else {
        auto st = certs::verify(p, bytes, ca_bytes, c->role, now, false);
        ok = st ? Status{} : Status{st.error()};
    }
    if (ok) {
        fmt::print("verifies:       yes, against {}\n", ca_path);
        return;
    }
    fmt::print("verifies:       NO, against {}: {}\n", ca_path, describe_cert_error(ok.error()));
    std::fflush(stdout);
    fail(Exit::auth, fmt::format("certificate {} does not verify against {}: {}", file, ca_path,
                                 describe_cert_error(ok.error())));
}

// Parses the text PSK format (keys.hpp) in place; false if it is not that format.
bool parse_psk_text(ConstSpan in, Psk& out) {
    bool have_key = false;
    std::size_t i = 0;
    while (i < in.size()) {
        std::size_t end = i;
        while (end < in.size() && in[end] != '\n') ++end;
        std::size_t line_end = end;
        if (line_end > i && in[line_end - 1] == '\r') --line_end;
        const std::string_view line(reinterpret_cast<const char*>(in.data() + i), line_end - i);
        i = end + 1;
        if (line.empty() || line[0] == '#') continue;
        if (line.rfind("id=", 0) == 0) {
            out.id = std::string(line.substr(3));
        } else if (line.rfind("key=", 0) == 0) {
            const std::string_view h = line.substr(4);
            if (h.size() % 2 != 0) return false;
            out.key.resize(h.size() / 2);
            for (std::size_t k = 0; k < h.size(); k += 2) {
                auto nib = [](char ch) -> int {
                    if (ch >= '0' && ch <= '9') return ch - '0';
                    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
                    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
                    return -1;
                };
                const int hi = nib(h[k]), lo = nib(h[k + 1]);
                if (hi < 0 || lo < 0) return false;
                out.key.data()[k / 2] = static_cast<std::uint8_t>(hi << 4 | lo);
            }
            have_key = true;
        } else {
            return false;
        }
    }
    return have_key;
}

}  // namespace

// ---------------------------------------------------------------- names
SigAlg parse_alg(const std::string& name) {
    if (name == "ed25519") return SigAlg::ed25519;
    if (name == "rsa2048") return SigAlg::rsa_pss_2048_sha256;
    if (name == "rsa3072") return SigAlg::rsa_pss_3072_sha256;
    fail(Exit::usage, fmt::format("unknown key algorithm '{}' (ed25519, rsa2048, rsa3072)", name));
}

const char* alg_label(SigAlg a) {
    switch (a) {
        case SigAlg::ed25519: return "ed25519";
        case SigAlg::rsa_pss_2048_sha256: return "rsa2048 (RSA-PSS-SHA256)";
        case SigAlg::rsa_pss_3072_sha256: return "rsa3072 (RSA-PSS-SHA256)";
    }
    return "unknown";
}

std::string ca_cert_path(const std::string& ca) {
    std::error_code ec;
    if (fs::is_directory(ca, ec)) return (fs::path(ca) / "ca.cert").string();
    return ca;
}

// ---------------------------------------------------------------- making
void ca_init(const CaInitArgs& a) {
    check_subject(a.subject);
    const SigAlg alg = parse_alg(a.alg);
    std::error_code ec;
    fs::create_directories(a.dir, ec);
    if (ec) fail(Exit::file, fmt::format("cannot create directory {}: {}", a.dir, ec.message()));
    const std::string key_path = (fs::path(a.dir) / "ca.key").string();
    const std::string cert_path = (fs::path(a.dir) / "ca.cert").string();
    require_absent(key_path);
    require_absent(cert_path);

    OpenSslProvider p;
    auto key = generate_key(alg);
    const std::int64_t now = unix_now();
    std::uint32_t not_after = clamp_u32(now + std::int64_t{a.days} * kSecondsPerDay);
    const Buf cert = make_cert(p, *key, *key, CertRole::ca, a.subject, clamp_u32(now - kBackdate), not_after);
    save_key(*key, key_path);
    write_new_file(cert_path, cert, "certificate");
    fmt::print("wrote {} ({} private key, mode 0600)\n", key_path, alg_label(alg));
    fmt::print("wrote {} (CA certificate \"{}\", {} bytes, valid until {})\n", cert_path, a.subject, cert.size(),
               utc_time(not_after));
}

// A C header a firmware build includes (docs/DEVICE.md): one
// `static const uint8_t NAME[N] = {0x..,};` per array, after a comment. It may hold
// a secret, so the text is built in a SecretBuf (no std::string copy of the bytes)
// and written as a new file with mode 0600.
struct CArray {
    std::string_view name;
    ConstSpan bytes;
};
void write_c_header(const std::string& path, std::string comment, std::initializer_list<CArray> arrays) {
    for (std::size_t at; (at = comment.find("*/")) != std::string::npos;) comment.replace(at, 2, "* /");
    const std::string head = "/* " + comment + " */\n#pragma once\n#include <stdint.h>\n";
    std::vector<std::string> decls;
    std::size_t len = head.size();
    for (const CArray& a : arrays) {
        decls.push_back(fmt::format("static const uint8_t {}[{}] = {{", a.name, a.bytes.size()));
        len += decls.back().size() + 5 * a.bytes.size() + 3;
    }
    SecretBuf text(len);
    std::uint8_t* h = text.data();
    const auto put = [&h](std::string_view t) { h = std::copy(t.begin(), t.end(), h); };
    static const char* const digits = "0123456789abcdef";
    put(head);
    std::size_t k = 0;
    for (const CArray& a : arrays) {
        put(decls[k++]);
        for (std::uint8_t b : a.bytes) {
            const char x[5] = {'0', 'x', digits[b >> 4], digits[b & 0x0f], ','};
            put({x, sizeof x});
        }
        put("};\n");
    }
    if (!crypto::openssl::write_secret_file(path.c_str(), text.span()))
        fail(Exit::file, fmt::format("cannot write C header {}", path));
}

void cert_issue(const CertIssueArgs& a) {
    check_subject(a.subject);
    const SigAlg alg = parse_alg(a.alg);
    const CertRole role = a.role == "server" ? CertRole::server : CertRole::client;
    const std::string ca_key_path = (fs::path(a.ca_dir) / "ca.key").string();
    const std::string ca_cert = ca_cert_path(a.ca_dir);
    const std::string key_path = a.prefix + ".key";
    const std::string cert_path = a.prefix + ".cert";
    require_absent(key_path);
    require_absent(cert_path);
    if (!a.c_header.empty()) {
        if (alg != SigAlg::ed25519) fail(Exit::usage, "--c-header needs --alg ed25519 (device images sign with Ed25519)");
        require_absent(a.c_header);
    }

    OpenSslProvider p;
    auto ca_key = load_key(ca_key_path);
    const Buf ca_bytes = load_cert(ca_cert, "CA certificate");
    auto ca = certs::verify_ca(p, ca_bytes);
    if (!ca)
        fail(Exit::file, fmt::format("{} is not a valid self-signed CA certificate ({})", ca_cert,
                                     describe_cert_error(ca.error())));
    const ConstSpan ca_pub = ca_key->public_key();
    if (ca->key_alg != ca_key->alg() || !std::equal(ca_pub.begin(), ca_pub.end(), ca->pubkey.begin(), ca->pubkey.end()))
        fail(Exit::file, fmt::format("{} does not match {} (different key)", ca_key_path, ca_cert));
    const std::int64_t now = unix_now();
    if (now > ca->not_after) fail(Exit::file, fmt::format("CA certificate {} expired on {}", ca_cert, utc_time(ca->not_after)));

    std::uint32_t not_after = clamp_u32(now + std::int64_t{a.days} * kSecondsPerDay);
    if (not_after > ca->not_after) {
        not_after = ca->not_after;
        fmt::print(stderr, "note: validity capped at the CA's end date, {}\n", utc_time(not_after));
    }
    const std::uint32_t not_before = std::max(ca->not_before, clamp_u32(now - kBackdate));
    auto key = generate_key(alg);
    const Buf cert = make_cert(p, *ca_key, *key, role, a.subject, not_before, not_after);
    save_key(*key, key_path);
    write_new_file(cert_path, cert, "certificate");
    fmt::print("wrote {} ({} private key, mode 0600)\n", key_path, alg_label(alg));
    fmt::print("wrote {} ({} certificate \"{}\", {} bytes, valid until {})\n", cert_path, role_label(role), a.subject,
               cert.size(), utc_time(not_after));
    if (a.c_header.empty()) return;
    SecretBuf seed(32);
    if (!key->ed25519_seed(seed.span())) fail(Exit::internal, "cannot export the Ed25519 private key");
    write_c_header(a.c_header,
                   "lockstep device credentials: SECRET (written 0600 by lockstep cert issue; keep it out of version\n"
                   " * control). " + std::string(role_label(role)) + " certificate \"" + a.subject +
                       "\" (wire encoding), its Ed25519 private key (RFC 8032 seed) and the CA certificate",
                   {{"lockstep_cert", cert}, {"lockstep_key_seed", seed.span()}, {"lockstep_ca_cert", ca_bytes}});
    fmt::print("wrote {} (certificate, private key and CA certificate as a C header for firmware, mode 0600)\n",
               a.c_header);
}

void psk_gen(const PskGenArgs& a) {
    if (a.bytes < static_cast<int>(kMinPsk) || a.bytes > static_cast<int>(kMaxPsk))
        fail(Exit::usage, fmt::format("--bytes must be {}..{}", kMinPsk, kMaxPsk));
    const std::string id = a.id.empty() ? fs::path(a.out).stem().string() : a.id;
    if (id.empty() || id.size() > kMaxPskId || id.find_first_of("\r\n") != std::string::npos)
        fail(Exit::usage, fmt::format("--id must be 1..{} bytes on one line", kMaxPskId));
    require_absent(a.out);
    if (!a.c_header.empty()) require_absent(a.c_header);

    OpenSslProvider p;
    SecretBuf key(static_cast<std::size_t>(a.bytes));
    if (!p.random(key.span())) fail(Exit::internal, "the random number generator failed");
    const std::string head = "# lockstep pre-shared key: secret, keep it mode 0600\nid=" + id + "\nkey=";
    SecretBuf text(head.size() + 2 * key.size() + 1);
    std::memcpy(text.data(), head.data(), head.size());
    // Hex-encoded here rather than with hex(): no std::string copy of the key is left unwiped.
    static const char* const digits = "0123456789abcdef";
    std::uint8_t* h = text.data() + head.size();
    for (std::size_t i = 0; i < key.size(); ++i) {
        h[2 * i] = static_cast<std::uint8_t>(digits[key.data()[i] >> 4]);
        h[2 * i + 1] = static_cast<std::uint8_t>(digits[key.data()[i] & 0x0f]);
    }
    text.data()[text.size() - 1] = '\n';
    if (!crypto::openssl::write_secret_file(a.out.c_str(), text.span()))
        fail(Exit::file, fmt::format("cannot write PSK file {}", a.out));
    fmt::print("wrote {} ({}-byte PSK, identity \"{}\", mode 0600)\n", a.out, a.bytes, id);
    if (!a.c_header.empty()) {
        const ConstSpan id_bytes{reinterpret_cast<const std::uint8_t*>(id.data()), id.size()};
        write_c_header(a.c_header,
                       "lockstep pre-shared key: SECRET (written 0600 by lockstep psk gen; keep it out of version\n"
                       " * control). Identity \"" + id + "\"",
                       {{"lockstep_psk_id", id_bytes}, {"lockstep_psk", key.span()}});
        fmt::print("wrote {} (the same PSK as a C header for firmware, mode 0600)\n", a.c_header);
    }
}

// ---------------------------------------------------------------- loading
std::unique_ptr<OpenSslSigner> load_key(const std::string& path) {
    check_secret_file(path, "key file");
    auto k = OpenSslSigner::load_pem(path.c_str());
    if (!k)
        fail(Exit::file, fmt::format("key file {} is not an unencrypted Ed25519, RSA-2048 or RSA-3072 "
                                     "(e = 65537) PEM private key",
                                     path));
    return std::move(*k);
}

Buf load_cert(const std::string& path, std::string_view what) {
    Buf b = read_file(path, wire::kMaxCert, what);
    auto c = wire::decode_cert(b);
    if (!c)
        fail(Exit::file, fmt::format("{} {} is malformed ({}); expected a lockstep certificate", what, path,
                                     err_name(c.error())));
    return b;
}

Psk load_psk(const std::string& path) {
    check_secret_file(path, "PSK file");
    SecretBuf raw(kMaxPskFile);
    auto n = crypto::openssl::read_secret_file(path.c_str(), raw.span());
    if (!n) {
        if (n.error() == Err::buffer_too_small)
            fail(Exit::file, fmt::format("PSK file {} is too large (at most {} bytes)", path, kMaxPskFile));
        fail(Exit::file, fmt::format("cannot read PSK file {}", path));
    }
    raw.resize(*n);
    Psk psk;
    const bool raw_file = !parse_psk_text(raw.span(), psk);
    if (raw_file) {
        psk = Psk{};
        if (raw.size() < kMinPsk || raw.size() > kMaxPsk)
            fail(Exit::file, fmt::format("PSK file {} is malformed: expected 'id=' and 'key=<hex>' lines "
                                         "(lockstep psk gen) or {}..{} raw bytes",
                                         path, kMinPsk, kMaxPsk));
        psk.key = std::move(raw);
    }
    if (psk.key.size() < kMinPsk || psk.key.size() > kMaxPsk)
        fail(Exit::file, fmt::format("PSK file {}: the key must be {}..{} bytes (has {})", path, kMinPsk, kMaxPsk,
                                     psk.key.size()));
    // spec: PROTOCOL.md §6.7, §11.15 — a PSK carries >= 128 bits from a CSPRNG
    // (mac_c lets anyone who saw a HELLO test guesses offline). Entropy cannot
    // be measured, but a password and a patterned key can be recognised.
    if (raw_file && std::all_of(psk.key.data(), psk.key.data() + psk.key.size(),
                                [](std::uint8_t b) { return (b >= 0x20 && b < 0x7f) || b == '\n' || b == '\r'; }))
        fail(Exit::file, fmt::format("PSK file {} is text, like a password: a PSK must be {}..{} random bytes "
                                     "(make one with lockstep psk gen)",
                                     path, kMinPsk, kMaxPsk));
    std::array<bool, 256> seen{};
    std::size_t distinct = 0;
    for (std::size_t i = 0; i < psk.key.size(); ++i) distinct += !std::exchange(seen[psk.key.data()[i]], true);
    if (distinct < 8)
        fail(Exit::file, fmt::format("PSK file {}: the key does not look random ({} distinct byte values); make one "
                                     "with lockstep psk gen",
                                     path, distinct));
    if (psk.id.size() > kMaxPskId)
        fail(Exit::file, fmt::format("PSK file {}: the identity is longer than {} bytes", path, kMaxPskId));
    return psk;
}

// ---------------------------------------------------------------- commands
void add_key_commands(CLI::App& app) {
    const std::vector<std::string> algs{"ed25519", "rsa2048", "rsa3072"};

    auto* ca = app.add_subcommand("ca", "Certificate authority")->require_subcommand(1);
    auto ca_args = std::make_shared<CaInitArgs>();
    auto* init = ca->add_subcommand("init", "Make a CA: DIR/ca.key (mode 0600, PEM) and DIR/ca.cert (self-signed)");
    init->add_option("--out", ca_args->dir, "Directory for ca.key and ca.cert (created if missing)")->required();
    init->add_option("--subject", ca_args->subject, "CA name (1..64 bytes)")->capture_default_str();
    init->add_option("--alg", ca_args->alg, "Key algorithm")->check(CLI::IsMember(algs))->capture_default_str();
    init->add_option("--days", ca_args->days, "Validity in days")->check(CLI::Range(1, 36500))->capture_default_str();
    init->callback([ca_args] { ca_init(*ca_args); });

    auto* cert = app.add_subcommand("cert", "Certificates")->require_subcommand(1);
    auto ci = std::make_shared<CertIssueArgs>();
    auto* issue = cert->add_subcommand("issue", "Issue a server or client certificate: PREFIX.key (0600), PREFIX.cert");
    issue->add_option("--ca", ci->ca_dir, "CA directory (holding ca.key and ca.cert)")->required();
    issue->add_option("--role", ci->role, "Certificate role")->required()->check(CLI::IsMember({"server", "client"}));
    issue->add_option("--subject", ci->subject, "Subject name (1..64 bytes)")->required();
    issue->add_option("--out", ci->prefix, "Output prefix: writes PREFIX.key and PREFIX.cert")->required();
    issue->add_option("--alg", ci->alg, "Key algorithm")->check(CLI::IsMember(algs))->capture_default_str();
    issue->add_option("--c-header", ci->c_header,
                      "Also write the certificate, its Ed25519 private key and the CA certificate as a C header for "
                      "firmware (mode 0600; docs/DEVICE.md)");
    issue->add_option("--days", ci->days, "Validity in days (0: it expires at once; for tests of expiry)")
        ->check(CLI::Range(0, 36500))
        ->capture_default_str();
    issue->callback([ci] { cert_issue(*ci); });

    auto show_file = std::make_shared<std::string>();
    auto show_ca = std::make_shared<std::string>();
    auto* show = cert->add_subcommand("show", "Print every field of a certificate (and check it against a CA)");
    show->add_option("FILE", *show_file, "Certificate file")->required();
    show->add_option("--ca", *show_ca, "CA directory or ca.cert to verify against (exit 4 if it does not verify)");
    show->callback([show_file, show_ca] { cert_show(*show_file, *show_ca); });

    auto* psk = app.add_subcommand("psk", "Pre-shared keys")->require_subcommand(1);
    auto pg = std::make_shared<PskGenArgs>();
    auto* gen = psk->add_subcommand("gen", "Generate a random PSK file (mode 0600)");
    gen->add_option("--out", pg->out, "PSK file to create (never overwritten)")->required();
    gen->add_option("--bytes", pg->bytes, "PSK length in bytes (16..64)")->check(CLI::Range(16, 64))->capture_default_str();
    gen->add_option("--id", pg->id, "PSK identity (default: the file name without extension)");
    gen->add_option("--c-header", pg->c_header,
                    "Also write the key and identity as a C header for firmware (mode 0600; docs/DEVICE.md)");
    gen->callback([pg] { psk_gen(*pg); });
}

}  // namespace lockstep::cli
