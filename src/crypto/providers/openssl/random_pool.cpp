// SPDX-License-Identifier: Apache-2.0
#include "random_pool.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace lockstep::crypto::openssl::detail {
namespace {
// The page: the count of bytes left (a u32) at the start, the bytes after it.
// The count lives in the page, not in the provider object, so that a child's
// zeroed page also reads as empty.
constexpr std::size_t kBytesAt = 64;
static_assert(kBytesAt + kPoolBytes <= 4096, "one page");

std::size_t page_size() noexcept { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }
}  // namespace

std::uint8_t* random_pool_open() noexcept {
#ifdef MADV_WIPEONFORK
    void* p = ::mmap(nullptr, page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    if (::madvise(p, page_size(), MADV_WIPEONFORK) != 0) {
        ::munmap(p, page_size());
        return nullptr;
    }
    (void)::madvise(p, page_size(), MADV_DONTDUMP);  // best effort: not in core dumps
    return static_cast<std::uint8_t*>(p);
#else
    return nullptr;
#endif
}

void random_pool_close(std::uint8_t* page) noexcept {
    if (page == nullptr) return;
    OPENSSL_cleanse(page, kBytesAt + kPoolBytes);
    ::munmap(page, page_size());
}

bool random_pool_take(std::uint8_t* page, std::span<std::uint8_t> out) noexcept {
    std::uint32_t left = 0;
    std::memcpy(&left, page, sizeof left);
    std::uint8_t* bytes = page + kBytesAt;
    if (left < out.size() || left > kPoolBytes) {
        if (RAND_bytes(bytes, static_cast<int>(kPoolBytes)) != 1) {
            OPENSSL_cleanse(page, kBytesAt + kPoolBytes);
            return false;
        }
        left = kPoolBytes;
    }
    // From the end of what is left: each byte handed out once, then wiped.
    left -= static_cast<std::uint32_t>(out.size());
    std::memcpy(out.data(), bytes + left, out.size());
    OPENSSL_cleanse(bytes + left, out.size());
    std::memcpy(page, &left, sizeof left);
    return true;
}

}  // namespace lockstep::crypto::openssl::detail
