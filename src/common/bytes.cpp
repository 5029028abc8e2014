// SPDX-License-Identifier: Apache-2.0
#include "common/bytes.hpp"

#include <cstring>

namespace lockstep {

void secure_wipe(void* p, std::size_t n) noexcept {
    if (n == 0) return;
    std::memset(p, 0, n);
    // The empty asm receives p and clobbers memory, so the compiler must assume
    // the zeros are read afterwards and cannot drop the memset as a dead store
    // (also across inlining and LTO). A plain memset, not a byte loop: the
    // engine wipes its whole workspace (up to ~100 KiB) when it is destroyed.
    __asm__ __volatile__("" : : "r"(p) : "memory");
}

bool ct_equal(ConstBytes a, ConstBytes b) noexcept {
    if (a.size() != b.size()) return false;
    std::uint8_t acc = 0;
    for (std::size_t i = 0; i < a.size(); ++i) acc |= static_cast<std::uint8_t>(a[i] ^ b[i]);
    // Fold through a volatile so the compiler cannot turn this into an early exit.
    volatile std::uint8_t folded = acc;
    return folded == 0;
}

void store_be16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
    store_be16(p, static_cast<std::uint16_t>(v >> 16));
    store_be16(p + 2, static_cast<std::uint16_t>(v));
}
void store_be64(std::uint8_t* p, std::uint64_t v) noexcept {
    store_be32(p, static_cast<std::uint32_t>(v >> 32));
    store_be32(p + 4, static_cast<std::uint32_t>(v));
}
std::uint16_t load_be16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t load_be32(const std::uint8_t* p) noexcept {
    return (static_cast<std::uint32_t>(load_be16(p)) << 16) | load_be16(p + 2);
}
std::uint64_t load_be64(const std::uint8_t* p) noexcept {
    return (static_cast<std::uint64_t>(load_be32(p)) << 32) | load_be32(p + 4);
}

const std::uint8_t* Reader::need(std::size_t n) noexcept {
    if (err_ != Err::ok) return nullptr;
    if (remaining() < n) {
        err_ = Err::truncated;
        return nullptr;
    }
    const std::uint8_t* p = in_.data() + pos_;
    pos_ += n;
    return p;
}
std::uint8_t Reader::u8() noexcept {
    const std::uint8_t* p = need(1);
    return p ? *p : 0;
}
std::uint16_t Reader::u16() noexcept {
    const std::uint8_t* p = need(2);
    return p ? load_be16(p) : 0;
}
std::uint32_t Reader::u32() noexcept {
    const std::uint8_t* p = need(4);
    return p ? load_be32(p) : 0;
}
std::uint64_t Reader::u64() noexcept {
    const std::uint8_t* p = need(8);
    return p ? load_be64(p) : 0;
}
ConstBytes Reader::take(std::size_t n) noexcept {
    const std::uint8_t* p = need(n);
    return p ? ConstBytes{p, n} : ConstBytes{};
}
ConstBytes Reader::vec8(std::size_t max) noexcept {
    const std::size_t n = u8();
    check(n <= max, Err::too_long);
    return take(n);
}
ConstBytes Reader::vec16(std::size_t max) noexcept {
    const std::size_t n = u16();
    check(n <= max, Err::too_long);
    return take(n);
}
Status Reader::finish() noexcept {
    check(remaining() == 0, Err::trailing_bytes);
    return err_;
}

bool Writer::room(std::size_t n) noexcept {
    if (!ok_ || out_.size() - pos_ < n) {
        ok_ = false;
        return false;
    }
    return true;
}
void Writer::u8(std::uint8_t v) noexcept {
    if (room(1)) out_[pos_++] = v;
}
void Writer::u16(std::uint16_t v) noexcept {
    if (room(2)) {
        store_be16(out_.data() + pos_, v);
        pos_ += 2;
    }
}
void Writer::u32(std::uint32_t v) noexcept {
    if (room(4)) {
        store_be32(out_.data() + pos_, v);
        pos_ += 4;
    }
}
void Writer::u64(std::uint64_t v) noexcept {
    if (room(8)) {
        store_be64(out_.data() + pos_, v);
        pos_ += 8;
    }
}
void Writer::bytes(ConstBytes b) noexcept {
    if (room(b.size())) {
        if (!b.empty()) std::memmove(out_.data() + pos_, b.data(), b.size());
        pos_ += b.size();
    }
}
void Writer::zeros(std::size_t n) noexcept {
    if (room(n)) {
        std::memset(out_.data() + pos_, 0, n);
        pos_ += n;
    }
}
void Writer::vec8(ConstBytes b) noexcept {
    if (b.size() > 0xff) {
        ok_ = false;
        return;
    }
    u8(static_cast<std::uint8_t>(b.size()));
    bytes(b);
}
void Writer::vec16(ConstBytes b) noexcept {
    if (b.size() > 0xffff) {
        ok_ = false;
        return;
    }
    u16(static_cast<std::uint16_t>(b.size()));
    bytes(b);
}
Bytes Writer::reserve(std::size_t n) noexcept {
    if (!room(n)) return {};
    Bytes v = out_.subspan(pos_, n);
    pos_ += n;
    return v;
}
void Writer::advance(std::size_t n) noexcept {
    if (room(n)) pos_ += n;
}

}  // namespace lockstep
