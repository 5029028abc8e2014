// SPDX-License-Identifier: Apache-2.0
// lockstep — what this build of the engine contains (roles, modes, debugging aids).
//
// How this works: each switch is a compile definition, 0 or 1, default 1, so a
// build that sets none of them (the host build, every test) has everything,
// except the insecure key log, default 0: the CMake option
// LOCKSTEP_INSECURE_KEY_LOG (on in Debug builds) or a test's own engine variant
// turns it on.
// A device build leaves parts out, e.g. a client that only speaks psk mode:
//   -DLOCKSTEP_SERVER_ROLE=0 -DLOCKSTEP_WITH_MODE_CERT=0 -DLOCKSTEP_WITH_MODE_CERT_PSK=0
//   -DLOCKSTEP_WITH_MODE_PSK_ONLY=0 -DLOCKSTEP_TRACE=0 -DLOCKSTEP_INSECURE_KEY_LOG=0
// The engine reads them only through the constants below, at a few dispatch
// points and through the predicates at the end of this file, which fold to a
// constant when the compiled set decides the answer (so the optimiser drops
// the other branch and the linker the handlers it named). The transition
// table keeps only the rows of the compiled roles (handshake/table.hpp). An
// Engine configured outside the compiled set is refused: Err::unsupported.
// Every translation unit of one engine must see the same switches.
#pragma once

#include "lockstep/types.hpp"

#ifndef LOCKSTEP_CLIENT_ROLE
#define LOCKSTEP_CLIENT_ROLE 1
#endif
#ifndef LOCKSTEP_SERVER_ROLE
#define LOCKSTEP_SERVER_ROLE 1
#endif
#ifndef LOCKSTEP_WITH_MODE_CERT
#define LOCKSTEP_WITH_MODE_CERT 1
#endif
#ifndef LOCKSTEP_WITH_MODE_PSK
#define LOCKSTEP_WITH_MODE_PSK 1
#endif
#ifndef LOCKSTEP_WITH_MODE_CERT_PSK
#define LOCKSTEP_WITH_MODE_CERT_PSK 1
#endif
#ifndef LOCKSTEP_WITH_MODE_PSK_ONLY
#define LOCKSTEP_WITH_MODE_PSK_ONLY 1
#endif
#ifndef LOCKSTEP_TRACE
#define LOCKSTEP_TRACE 1
#endif
#ifndef LOCKSTEP_INSECURE_KEY_LOG
#define LOCKSTEP_INSECURE_KEY_LOG 0  // off unless the build asks (CMake option LOCKSTEP_INSECURE_KEY_LOG)
#endif

namespace lockstep::features {

inline constexpr bool kClientRole = LOCKSTEP_CLIENT_ROLE != 0;
inline constexpr bool kServerRole = LOCKSTEP_SERVER_ROLE != 0;
inline constexpr bool kModeCert = LOCKSTEP_WITH_MODE_CERT != 0;
inline constexpr bool kModePsk = LOCKSTEP_WITH_MODE_PSK != 0;
inline constexpr bool kModeCertPsk = LOCKSTEP_WITH_MODE_CERT_PSK != 0;
inline constexpr bool kModePskOnly = LOCKSTEP_WITH_MODE_PSK_ONLY != 0;
// Engine::set_tracer has an effect (off: no TraceEntry is built, no fault reported).
inline constexpr bool kTrace = LOCKSTEP_TRACE != 0;
// Config::insecure_key_log may be set (off: refused, no secret is ever handed out).
inline constexpr bool kInsecureKeyLog = LOCKSTEP_INSECURE_KEY_LOG != 0;

static_assert(kClientRole || kServerRole, "lockstep: compile at least one role");
static_assert(kModeCert || kModePsk || kModeCertPsk || kModePskOnly, "lockstep: compile at least one mode");

constexpr bool role_compiled(Role r) noexcept { return r == Role::client ? kClientRole : kServerRole; }

constexpr bool mode_compiled(Mode m) noexcept {
    switch (m) {
        case Mode::cert: return kModeCert;
        case Mode::psk: return kModePsk;
        case Mode::cert_psk: return kModeCertPsk;
        case Mode::psk_only: return kModePskOnly;
    }
    return false;
}

// The role predicates: exact for the compiled roles, a constant when one role is compiled.
constexpr bool is_client(Role r) noexcept { return kClientRole && (!kServerRole || r == Role::client); }
constexpr bool is_server(Role r) noexcept { return kServerRole && (!kClientRole || r == Role::server); }

namespace detail {
inline constexpr Mode kModes[] = {Mode::cert, Mode::psk, Mode::cert_psk, Mode::psk_only};
constexpr bool any_compiled(bool (*pred)(Mode)) noexcept {
    for (Mode m : kModes)
        if (mode_compiled(m) && pred(m)) return true;
    return false;
}
constexpr bool all_compiled(bool (*pred)(Mode)) noexcept {
    for (Mode m : kModes)
        if (mode_compiled(m) && !pred(m)) return false;
    return true;
}
}  // namespace detail

// Some compiled mode uses certificates / a PSK / ECDHE; every compiled mode does.
inline constexpr bool kCertModes = detail::any_compiled(mode_uses_cert);
inline constexpr bool kPskModes = detail::any_compiled(mode_uses_psk);
inline constexpr bool kEcdheModes = detail::any_compiled(mode_uses_ecdhe);
inline constexpr bool kAllCert = detail::all_compiled(mode_uses_cert);
inline constexpr bool kAllPsk = detail::all_compiled(mode_uses_psk);
inline constexpr bool kAllEcdhe = detail::all_compiled(mode_uses_ecdhe);

// The mode predicates of types.hpp for a mode of the compiled set (the modes of
// an accepted Config, and so the engine's mode once negotiated): exact there,
// and a constant when every compiled mode agrees. Wire decoding, which must
// treat every mode alike, keeps using mode_uses_* directly.
constexpr bool uses_cert(Mode m) noexcept { return kCertModes && (kAllCert || mode_uses_cert(m)); }
constexpr bool uses_psk(Mode m) noexcept { return kPskModes && (kAllPsk || mode_uses_psk(m)); }
constexpr bool uses_ecdhe(Mode m) noexcept { return kEcdheModes && (kAllEcdhe || mode_uses_ecdhe(m)); }

}  // namespace lockstep::features
