// SPDX-License-Identifier: Apache-2.0
// lockstep — fields several wire messages share (private to src/wire): the
// id lists, the key share with its group, the random of a share-less message.
// Readers record their failure in the Reader (sticky error, common/bytes.hpp).
#pragma once

#include "wire/wire.hpp"

namespace lockstep::wire::fields {

// A one-byte-count list of one-byte ids: 1..max entries, no duplicates (Err::bad_value).
IdList read_list(Reader& r, std::size_t max) noexcept;
// kx byte (Err::bad_value if unknown), then vec16 share matching it: 32 bytes
// for X25519, none for `none` (Err::bad_value).
Kx read_kx(Reader& r) noexcept;
ConstBytes read_share(Reader& r, Kx kx) noexcept;
// A random follows the share only when there is no share (random_len).
void read_random(Reader& r, ConstBytes share, Random& out) noexcept;
void write_random(Writer& w, ConstBytes share, const Random& random) noexcept;
// The frame byte must be f (Err::bad_value).
inline void expect_frame(Reader& r, Frame f) noexcept { r.check(r.u8() == static_cast<std::uint8_t>(f), Err::bad_value); }
// vec16(signature) and the finished MAC: the tail of every authenticated handshake message.
AuthSlots layout_auth_tail(std::size_t sig_len, std::size_t fin_len, Writer& w) noexcept;
void fill_auth_tail(const AuthSlots& s, ConstBytes sig, ConstBytes finished) noexcept;

}  // namespace lockstep::wire::fields
