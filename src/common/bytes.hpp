// SPDX-License-Identifier: Apache-2.0
// lockstep — byte spans, bounded cursors, secrets that wipe themselves,
// constant-time comparison. Used by every layer; no heap, no exceptions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "lockstep/result.hpp"

namespace lockstep {

using Bytes = std::span<std::uint8_t>;
using ConstBytes = std::span<const std::uint8_t>;

// Overwrite memory in a way the optimiser may not remove.
// Exported (LOCKSTEP_API) because liblockstep-openssl uses them too.
LOCKSTEP_API void secure_wipe(void* p, std::size_t n) noexcept;

// Constant-time equality: time depends only on the lengths.
LOCKSTEP_API bool ct_equal(ConstBytes a, ConstBytes b) noexcept;

// A fixed-size secret. Non-copyable; wiped on destruction and when moved from.
template <std::size_t N>
class Secret {
public:
    Secret() noexcept { bytes_.fill(0); }
    explicit Secret(ConstBytes src) noexcept {
        bytes_.fill(0);
        std::memcpy(bytes_.data(), src.data(), src.size() < N ? src.size() : N);
    }
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    Secret(Secret&& o) noexcept : bytes_(o.bytes_) { o.wipe(); }
    Secret& operator=(Secret&& o) noexcept {
        if (this != &o) {
            bytes_ = o.bytes_;
            o.wipe();
        }
        return *this;
    }
    ~Secret() { wipe(); }

    void wipe() noexcept { secure_wipe(bytes_.data(), N); }
    std::uint8_t* data() noexcept { return bytes_.data(); }
    const std::uint8_t* data() const noexcept { return bytes_.data(); }
    static constexpr std::size_t size() noexcept { return N; }
    Bytes span() noexcept { return {bytes_.data(), N}; }
    ConstBytes span() const noexcept { return {bytes_.data(), N}; }

private:
    std::array<std::uint8_t, N> bytes_;
};

// Bounded reader over received bytes, with a sticky error (the Writer's
// shape): every read checks the remaining length first; the first failure
// (a short buffer: Err::truncated; a length over its maximum: Err::too_long;
// a check of the decoder: fail()) is recorded, and from then on nothing
// advances and every read yields 0 or an empty view. A decoder reads all its
// fields and asks once at the end (finish() / error()), so it does not branch
// after every field. Never reads past the end.
class Reader {
public:
    explicit Reader(ConstBytes in) noexcept : in_(in) {}
    std::size_t remaining() const noexcept { return in_.size() - pos_; }
    std::size_t position() const noexcept { return pos_; }
    bool empty() const noexcept { return remaining() == 0; }
    ConstBytes rest() const noexcept { return in_.subspan(pos_); }
    ConstBytes consumed() const noexcept { return in_.first(pos_); }

    std::uint8_t u8() noexcept;
    std::uint16_t u16() noexcept;
    std::uint32_t u32() noexcept;
    std::uint64_t u64() noexcept;
    // A view of the next n bytes (no copy).
    ConstBytes take(std::size_t n) noexcept;
    // Length-prefixed views; the length is checked against `max` before use.
    ConstBytes vec8(std::size_t max) noexcept;
    ConstBytes vec16(std::size_t max) noexcept;
    // Records e unless an earlier failure was recorded; reading stops.
    void fail(Err e) noexcept {
        if (err_ == Err::ok) err_ = e;
    }
    // fail(e) unless cond holds.
    void check(bool cond, Err e) noexcept {
        if (!cond) fail(e);
    }
    bool ok() const noexcept { return err_ == Err::ok; }
    Err error() const noexcept { return err_; }
    // The first failure; else Err::trailing_bytes unless everything was consumed.
    Status finish() noexcept;

private:
    const std::uint8_t* need(std::size_t n) noexcept;  // null (and truncated) unless n bytes remain
    ConstBytes in_;
    std::size_t pos_ = 0;
    Err err_ = Err::ok;
};

// Bounded writer into a caller-owned buffer. Once a write does not fit, the
// writer is marked failed and every later write is a no-op; check ok() at the end.
class Writer {
public:
    explicit Writer(Bytes out) noexcept : out_(out) {}
    void u8(std::uint8_t v) noexcept;
    void u16(std::uint16_t v) noexcept;
    void u32(std::uint32_t v) noexcept;
    void u64(std::uint64_t v) noexcept;
    void bytes(ConstBytes b) noexcept;
    void zeros(std::size_t n) noexcept;
    void vec8(ConstBytes b) noexcept;
    void vec16(ConstBytes b) noexcept;
    // Reserve n bytes to fill in later (e.g. a length); returns their view.
    Bytes reserve(std::size_t n) noexcept;

    bool ok() const noexcept { return ok_; }
    std::size_t size() const noexcept { return pos_; }
    ConstBytes written() const noexcept { return {out_.data(), pos_}; }
    Bytes unused() noexcept { return ok_ ? out_.subspan(pos_) : Bytes{}; }
    // Mark n bytes of unused() as written (after filling them in place).
    void advance(std::size_t n) noexcept;
    Status status() const noexcept { return ok_ ? Status{} : Status{Err::buffer_too_small}; }

private:
    bool room(std::size_t n) noexcept;
    Bytes out_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

// The three exported (LOCKSTEP_API) are the ones liblockstep-net uses too (its
// address cookies); see "liblockstep-net" in src/CMakeLists.txt.
LOCKSTEP_API void store_be16(std::uint8_t* p, std::uint16_t v) noexcept;
LOCKSTEP_API void store_be32(std::uint8_t* p, std::uint32_t v) noexcept;
void store_be64(std::uint8_t* p, std::uint64_t v) noexcept;
std::uint16_t load_be16(const std::uint8_t* p) noexcept;
LOCKSTEP_API std::uint32_t load_be32(const std::uint8_t* p) noexcept;
std::uint64_t load_be64(const std::uint8_t* p) noexcept;

inline ConstBytes as_bytes(const char* s, std::size_t n) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s), n};
}

}  // namespace lockstep
