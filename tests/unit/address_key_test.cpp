// SPDX-License-Identifier: Apache-2.0
// The key the server loop finds UDP connections by (src/net/io.hpp): equal for
// the same address whatever else its sockaddr_storage holds, different when
// the family, port, address or IPv6 scope differ.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <cstring>

#include "net/io.hpp"

namespace lockstep::net::detail {
namespace {

// An address over storage first filled with `junk` (what an earlier datagram may have left).
Address v4(const char* ip, std::uint16_t port, std::uint8_t junk = 0) {
    Address a;
    std::memset(&a.ss, junk, sizeof a.ss);
    auto* in = reinterpret_cast<sockaddr_in*>(&a.ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &in->sin_addr);
    a.len = sizeof(sockaddr_in);
    return a;
}
Address v6(const char* ip, std::uint16_t port, std::uint32_t scope = 0, std::uint8_t junk = 0) {
    Address a;
    std::memset(&a.ss, junk, sizeof a.ss);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_flowinfo = junk;
    in6->sin6_scope_id = scope;
    ::inet_pton(AF_INET6, ip, &in6->sin6_addr);
    a.len = sizeof(sockaddr_in6);
    return a;
}

TEST(AddressKey, SameAddressSameKeyWhateverTheRestOfTheStorageHolds) {
    const AddressKeyHash h;
    EXPECT_EQ(key_of(v4("127.0.0.1", 40123, 0x00)), key_of(v4("127.0.0.1", 40123, 0xab)));
    EXPECT_EQ(h(key_of(v4("127.0.0.1", 40123, 0x00))), h(key_of(v4("127.0.0.1", 40123, 0xab))));
    EXPECT_EQ(key_of(v6("2001:db8::1", 443, 0, 0x00)), key_of(v6("2001:db8::1", 443, 0, 0x5c)));
    EXPECT_EQ(h(key_of(v6("2001:db8::1", 443, 0, 0x00))), h(key_of(v6("2001:db8::1", 443, 0, 0x5c))));
}

TEST(AddressKey, FamilyPortAddressAndScopeTellAddressesApart) {
    const AddressKey k = key_of(v4("10.0.0.1", 5000));
    EXPECT_NE(k, key_of(v4("10.0.0.1", 5001)));
    EXPECT_NE(k, key_of(v4("10.0.0.2", 5000)));
    EXPECT_NE(k, key_of(v6("::ffff:10.0.0.1", 5000)));  // the same IPv4 address, mapped: another socket address
    EXPECT_NE(key_of(v6("fe80::1", 5000, 1)), key_of(v6("fe80::1", 5000, 2)));
    EXPECT_NE(key_of(v6("2001:db8::1", 5000)), key_of(v6("2001:db8::2", 5000)));
}

}  // namespace
}  // namespace lockstep::net::detail
