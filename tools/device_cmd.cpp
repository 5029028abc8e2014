// SPDX-License-Identifier: Apache-2.0
// lockstep CLI — the device registry: `device add | import | list | show |
// revoke | rotate-psk` and `cert revoke` (src/registry). Every command takes
// --registry sqlite:PATH | postgresql://... (or $LOCKSTEP_REGISTRY). A PSK is
// stored raw, or wrapped under --wrap-key FILE (a 32-byte key file made with
// `lockstep psk gen --bytes 32`, mode 0600), which `serve` must then read too.
// No command prints a PSK: a new one is written to a file (mode 0600).
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli.hpp"
#include "crypto/providers/openssl/openssl_provider.hpp"
#include "handshake/certs.hpp"
#include "keys.hpp"
#include "registry/registry.hpp"
#include "registry/wrap.hpp"
#include "wire/wire.hpp"

namespace lockstep::cli {

namespace {

using registry::Device;
using registry::PskFormat;
using registry::Registry;

struct DeviceArgs {
    std::string url, id, psk, out, wrap_key, note;
    std::vector<std::string> files;
    int bytes = 32;
    bool no_psk = false;
    std::string serial, key_id, cert;
};

std::int64_t now_s() { return unix_ms() / 1000; }

std::unique_ptr<Registry> open_registry(const std::string& url) {
    try {
        return Registry::open(url);
    } catch (const registry::RegistryError& e) {
        fail(Exit::file, e.what());
    }
}

// The PSK as the registry stores it: raw, or wrapped under the key file.
std::pair<PskFormat, registry::Buf> stored_psk(const std::string& wrap_key, const std::string& id, const SecretBuf& key) {
    if (wrap_key.empty()) return {PskFormat::raw, registry::Buf(key.span().begin(), key.span().end())};
    const Psk wk = load_psk(wrap_key);
    if (wk.key.size() != registry::kWrapKeyLen)
        fail(Exit::file, fmt::format("wrap key {} must hold 32 bytes (lockstep psk gen --bytes 32)", wrap_key));
    crypto::openssl::OpenSslProvider p;
    return {PskFormat::wrapped, registry::wrap_psk(p, wk.key.span(), id, key.span())};
}

// A new random PSK for `id`, written to `out` (mode 0600) and read back.
Psk new_psk_file(const std::string& out, const std::string& id, int bytes) {
    if (out.empty()) fail(Exit::usage, "give --out FILE for the new PSK (or --psk FILE to store an existing one)");
    psk_gen(PskGenArgs{out, bytes, id});
    return load_psk(out);
}

template <class F>
void with_registry(const std::string& url, F&& f) {
    auto reg = open_registry(url);
    try {
        f(*reg);
    } catch (const registry::RegistryError& e) {
        fail(Exit::file, e.what());
    }
}

void device_add(const DeviceArgs& a) {
    if (a.id.empty() || a.id.size() > registry::kMaxDeviceId)
        fail(Exit::usage, fmt::format("--id must be 1..{} bytes", registry::kMaxDeviceId));
    if (a.no_psk + !a.psk.empty() + !a.out.empty() != 1)
        fail(Exit::usage, "give one of --psk FILE (an existing PSK), --out FILE (a new PSK) or --no-psk (certificate only)");
    with_registry(a.url, [&](Registry& reg) {
        if (reg.find(a.id)) fail(Exit::usage, fmt::format("device '{}' exists already in the registry", a.id));
        Device d;
        d.id = a.id;
        d.created = d.rotated = now_s();
        if (!a.no_psk) {
            const Psk p = a.psk.empty() ? new_psk_file(a.out, a.id, a.bytes) : load_psk(a.psk);
            std::tie(d.psk_format, d.psk) = stored_psk(a.wrap_key, a.id, p.key);
        }
        reg.add(d);
        fmt::print("added device \"{}\" ({} PSK) to the {} registry\n", a.id, registry::format_name(d.psk_format),
                   reg.kind());
    });
}

void device_import(const DeviceArgs& a) {
    if (a.files.empty()) fail(Exit::usage, "give the PSK files to import");
    with_registry(a.url, [&](Registry& reg) {
        std::vector<Device> devs;
        for (const std::string& f : a.files) {
            const Psk p = load_psk(f);
            Device d;
            d.id = p.id.empty() ? std::filesystem::path(f).stem().string() : p.id;
            d.created = d.rotated = now_s();
            std::tie(d.psk_format, d.psk) = stored_psk(a.wrap_key, d.id, p.key);
            devs.push_back(std::move(d));
        }
        reg.begin();  // all or nothing
        try {
            for (const Device& d : devs) reg.add(d);
            reg.commit();
        } catch (...) {
            reg.rollback();
            throw;
        }
        fmt::print("imported {} devices into the {} registry\n", devs.size(), reg.kind());
    });
}

void print_device(const Device& d, bool one_line) {
    const std::string revoked = d.revoked_at ? " revoked=" + utc_time(*d.revoked_at) : "";
    if (one_line) {
        fmt::print("{}\t{}\tpsk={}\tcreated={}\trotated={}{}\n", d.id, registry::state_name(d.state),
                   registry::format_name(d.psk_format), utc_time(d.created), utc_time(d.rotated), revoked);
        return;
    }
    fmt::print("id:       {}\nstate:    {}\npsk:      {}{}\ncreated:  {}\nrotated:  {}\n", d.id,
               registry::state_name(d.state), registry::format_name(d.psk_format),
               d.psk_format == PskFormat::none ? "" : fmt::format(" ({} bytes stored)", d.psk.size()),
               utc_time(d.created), utc_time(d.rotated));
    if (d.revoked_at) fmt::print("revoked:  {}\n", utc_time(*d.revoked_at));
}

Device must_find(Registry& reg, const std::string& id) {
    auto d = reg.find(id);
    if (!d) fail(Exit::usage, fmt::format("no device '{}' in the registry", id));
    return *d;
}

void cert_revoke(const DeviceArgs& a) {
    if (!a.serial.empty() + !a.key_id.empty() + !a.cert.empty() != 1)
        fail(Exit::usage, "give one of --serial N, --key-id HEX or --cert FILE");
    registry::CertDenial d;
    d.note = a.note;
    d.at = now_s();
    if (!a.key_id.empty()) {
        auto k = registry::normal_key_id(a.key_id);
        if (!k) fail(Exit::usage, "--key-id must be 16 hex digits (lockstep cert show prints it)");
        d.kind = registry::DenyKind::key_id;
        d.value = *k;
    } else {
        std::uint64_t serial = 0;
        if (!a.cert.empty()) {
            const Buf bytes = load_cert(a.cert);
            serial = wire::decode_cert(bytes)->serial;
        } else if (auto s = registry::parse_serial(a.serial)) {
            serial = *s;
        } else {
            fail(Exit::usage, "--serial must be a decimal or 0x-hex 64-bit number");
        }
        d.value = std::to_string(serial);
    }
    with_registry(a.url, [&](Registry& reg) {
        reg.deny(d);
        fmt::print("denied certificate {} {}: servers refuse it at the next handshake\n",
                   d.kind == registry::DenyKind::serial ? "serial" : "key id", d.value);
    });
}

void add_registry_option(CLI::App& sub, DeviceArgs& a) {
    sub.add_option("--registry", a.url, "Device registry: sqlite:PATH or postgresql://... (env LOCKSTEP_REGISTRY)")
        ->envname("LOCKSTEP_REGISTRY")
        ->required();
}

}  // namespace

void add_device_commands(CLI::App& app) {
    auto a = std::make_shared<DeviceArgs>();
    auto* dev = app.add_subcommand("device", "The device registry (SQLite or PostgreSQL) that serve --registry reads")
                    ->require_subcommand(1);

    auto* add = dev->add_subcommand("add", "Add a device: a new PSK (--out), an existing one (--psk) or none (--no-psk)");
    add_registry_option(*add, *a);
    add->add_option("--id", a->id, "Device id: its PSK identity and/or certificate subject")->required();
    add->add_option("--psk", a->psk, "Store the PSK of this PSK file");
    add->add_option("--out", a->out, "Make a new PSK, write it to this file (mode 0600) for the device");
    add->add_option("--bytes", a->bytes, "Size of a new PSK")->check(CLI::Range(16, 64))->capture_default_str();
    add->add_flag("--no-psk", a->no_psk, "A certificate-only device (revocable by its subject)");
    add->add_option("--wrap-key", a->wrap_key, "Store the PSK wrapped (AES-256-GCM) under this 32-byte key file");
    add->callback([a] { device_add(*a); });

    auto* imp = dev->add_subcommand("import", "Add the devices of existing PSK files (all or none)");
    add_registry_option(*imp, *a);
    imp->add_option("FILES", a->files, "PSK files (lockstep psk gen); the id comes from each file")->required();
    imp->add_option("--wrap-key", a->wrap_key, "Store the PSKs wrapped under this 32-byte key file");
    imp->callback([a] { device_import(*a); });

    auto* list = dev->add_subcommand("list", "One line per device: id, state, PSK storage, times (never a key)");
    add_registry_option(*list, *a);
    list->callback([a] {
        with_registry(a->url, [](Registry& reg) {
            for (const Device& d : reg.list()) print_device(d, true);
        });
    });

    auto* show = dev->add_subcommand("show", "Every field of one device (never its key)");
    add_registry_option(*show, *a);
    show->add_option("ID", a->id, "Device id")->required();
    show->callback([a] { with_registry(a->url, [&](Registry& reg) { print_device(must_find(reg, a->id), false); }); });

    auto* rev = dev->add_subcommand("revoke", "Revoke a device: refused at its next handshake, live connections "
                                              "closed (reason revoked) within the servers' staleness bound");
    add_registry_option(*rev, *a);
    rev->add_option("ID", a->id, "Device id")->required();
    rev->callback([a] {
        with_registry(a->url, [&](Registry& reg) {
            const Device d = must_find(reg, a->id);
            if (d.state == registry::DeviceState::revoked) fail(Exit::usage, fmt::format("device '{}' is revoked already", a->id));
            (void)reg.set_state(a->id, registry::DeviceState::revoked, now_s());
            fmt::print("revoked device \"{}\"\n", a->id);
        });
    });

    auto* rot = dev->add_subcommand("rotate-psk", "Give a device a new PSK (written to --out, mode 0600)");
    add_registry_option(*rot, *a);
    rot->add_option("ID", a->id, "Device id")->required();
    rot->add_option("--out", a->out, "File for the new PSK")->required();
    rot->add_option("--bytes", a->bytes, "Size of the new PSK")->check(CLI::Range(16, 64))->capture_default_str();
    rot->add_option("--wrap-key", a->wrap_key, "Store it wrapped under this 32-byte key file");
    rot->callback([a] {
        with_registry(a->url, [&](Registry& reg) {
            const Device d = must_find(reg, a->id);
            if (d.state == registry::DeviceState::revoked) fail(Exit::usage, fmt::format("device '{}' is revoked", a->id));
            const Psk p = new_psk_file(a->out, a->id, a->bytes);
            const auto [fmt_, blob] = stored_psk(a->wrap_key, a->id, p.key);
            (void)reg.set_psk(a->id, fmt_, blob, now_s());
            fmt::print("rotated the PSK of device \"{}\": new handshakes need {}\n", a->id, a->out);
        });
    });

    CLI::App* cert = app.get_subcommand("cert");
    auto* crev = cert->add_subcommand("revoke", "Deny a certificate (by serial or key id) in the device registry");
    add_registry_option(*crev, *a);
    crev->add_option("--serial", a->serial, "Certificate serial (decimal or 0x-hex, as cert show prints it)");
    crev->add_option("--key-id", a->key_id, "Key id of the certificate's key (16 hex digits)");
    crev->add_option("--cert", a->cert, "The certificate file (denies its serial)");
    crev->add_option("--note", a->note, "Why (kept with the denial)");
    crev->callback([a] { cert_revoke(*a); });
}

}  // namespace lockstep::cli
