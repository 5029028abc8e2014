// SPDX-License-Identifier: Apache-2.0
// The device registry (SQLite backend) and a server's cache of it: schema and
// migrations, every change in the change log, wrapped PSKs, and the cache's
// answers before and after a change reaches it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <string>

#include "crypto/providers/openssl/openssl_provider.hpp"
#include "registry/cache.hpp"
#include "registry/registry.hpp"
#include "registry/wrap.hpp"

namespace lockstep::registry {
namespace {

namespace fs = std::filesystem;

struct TempDb {
    TempDb() {
        path = (fs::temp_directory_path() / ("lockstep-registry-" + std::to_string(::getpid()) + "-" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".db"))
                   .string();
        remove();
    }
    ~TempDb() { remove(); }
    void remove() {
        for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);
    }
    std::string url() const { return "sqlite:" + path; }
    std::string path;
};

Device psk_device(const std::string& id, std::uint8_t fill) {
    Device d;
    d.id = id;
    d.psk_format = PskFormat::raw;
    d.psk.assign(32, fill);
    d.created = d.rotated = 1000;
    return d;
}

std::span<const std::uint8_t> id_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(Registry, MigratesToTheCurrentSchemaOnceAndKeepsData) {
    TempDb db;
    {
        auto r = Registry::open(db.url());
        EXPECT_EQ(r->schema_version(), kSchemaVersion);
        r->add(psk_device("a", 1));
    }
    auto r = Registry::open(db.url());  // a second open migrates nothing and loses nothing
    EXPECT_EQ(r->schema_version(), kSchemaVersion);
    ASSERT_TRUE(r->find("a"));
    EXPECT_EQ(r->find("a")->psk, Buf(32, 1));
    EXPECT_EQ(fs::status(db.path).permissions() & fs::perms::others_read, fs::perms::none);
}

TEST(Registry, RefusesANewerSchema) {
    TempDb db;
    {
        auto r = Registry::open(db.url());
    }
    auto raw = open_sqlite(db.path);
    raw->query("UPDATE schema_version SET version = 99", {});
    EXPECT_THROW(Registry::open(db.url()), RegistryError);
}

TEST(Registry, EveryChangeIsLoggedInOrder) {
    TempDb db;
    auto r = Registry::open(db.url());
    r->add(psk_device("a", 1));
    r->add(psk_device("b", 2));
    EXPECT_THROW(r->add(psk_device("a", 3)), RegistryError);
    EXPECT_TRUE(r->set_state("a", DeviceState::revoked, 2000));
    EXPECT_FALSE(r->set_state("nobody", DeviceState::revoked, 2000));
    EXPECT_TRUE(r->set_psk("b", PskFormat::raw, Buf(16, 9), 3000));
    r->deny(CertDenial{DenyKind::serial, "42", "lost", 4000});
    EXPECT_THROW(r->deny(CertDenial{DenyKind::serial, "42", "again", 4001}), RegistryError);
    const auto ch = r->changes_since(0, 100);
    ASSERT_EQ(ch.size(), 5u);
    EXPECT_EQ(ch[2].key, "a");
    EXPECT_EQ(ch[4].what, "cert");
    EXPECT_EQ(ch[4].key, "serial:42");
    EXPECT_EQ(r->changes_since(ch[3].seq, 100).size(), 1u);
    const auto a = r->find("a");
    EXPECT_EQ(a->state, DeviceState::revoked);
    EXPECT_EQ(a->revoked_at, 2000);
    EXPECT_EQ(r->find("b")->rotated, 3000);
    EXPECT_EQ(r->find("b")->psk, Buf(16, 9));
}

TEST(Registry, WrappedPskOpensOnlyUnderItsKeyAndItsDevice) {
    crypto::openssl::OpenSslProvider p;
    const std::array<std::uint8_t, 32> key{1, 2, 3}, other{4, 5, 6};
    const Buf psk(32, 0x5a);
    const Buf blob = wrap_psk(p, key, "dev", psk);
    EXPECT_EQ(blob.size(), psk.size() + kWrapOverhead);
    Buf out;
    unwrap_psk(p, key, "dev", blob, out);
    EXPECT_EQ(out, psk);
    EXPECT_THROW(unwrap_psk(p, other, "dev", blob, out), RegistryError);  // another key
    EXPECT_THROW(unwrap_psk(p, key, "dev2", blob, out), RegistryError);   // moved to another device
    Buf flipped = blob;
    flipped.back() ^= 1;
    EXPECT_THROW(unwrap_psk(p, key, "dev", flipped, out), RegistryError);
}

TEST(RegistryCache, RevocationAndRotationReachTheCacheAtTheNextPoll) {
    TempDb db;
    auto admin = Registry::open(db.url());
    admin->add(psk_device("a", 1));
    RegistryCache cache(Registry::open(db.url()), {}, CacheOptions{});
    auto k = cache.find(id_of("a"));
    ASSERT_EQ(k.size(), 32u);
    EXPECT_EQ(k[0], 1);
    EXPECT_TRUE(cache.find(id_of("nobody")).empty());
    EXPECT_TRUE(cache.psk_still_allowed("a"));

    ASSERT_TRUE(admin->set_psk("a", PskFormat::raw, Buf(32, 7), 2000));
    EXPECT_EQ(cache.find(id_of("a"))[0], 1);  // cached until the change log is read
    ASSERT_TRUE(cache.poll());
    EXPECT_EQ(cache.find(id_of("a"))[0], 7);

    ASSERT_TRUE(admin->set_state("a", DeviceState::revoked, 3000));
    ASSERT_TRUE(cache.poll());
    EXPECT_TRUE(cache.find(id_of("a")).empty());
    EXPECT_FALSE(cache.psk_still_allowed("a"));
    const auto st = cache.stats();
    EXPECT_EQ(st.invalidations, 2u);
    EXPECT_GE(st.hits, 1u);
}

TEST(RegistryCache, DeniedCertificatesAndRevokedSubjectsAreRefused) {
    TempDb db;
    auto admin = Registry::open(db.url());
    Device cert_dev;
    cert_dev.id = "sensor-7";
    admin->add(cert_dev);
    RegistryCache cache(Registry::open(db.url()), {}, CacheOptions{});
    const std::array<std::uint8_t, 8> kid{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3};
    EXPECT_FALSE(cache.revoked(42, kid, id_of("sensor-7")));
    EXPECT_FALSE(cache.revoked(42, kid, id_of("not-registered")));  // the CA vouches for it
    admin->deny(CertDenial{DenyKind::key_id, "deadbeef00010203", "", 1});
    ASSERT_TRUE(cache.poll());
    EXPECT_TRUE(cache.revoked(43, kid, id_of("sensor-7")));
    EXPECT_FALSE(cache.cert_still_allowed(43, kid, id_of("sensor-7")));
    const std::array<std::uint8_t, 8> kid2{};
    admin->deny(CertDenial{DenyKind::serial, "44", "", 1});
    ASSERT_TRUE(admin->set_state("sensor-7", DeviceState::revoked, 2));
    ASSERT_TRUE(cache.poll());
    EXPECT_TRUE(cache.revoked(44, kid2, id_of("other")));
    EXPECT_TRUE(cache.revoked(45, kid2, id_of("sensor-7")));
    EXPECT_FALSE(cache.revoked(45, kid2, id_of("other")));
}

TEST(RegistryCache, HoldsAtMostItsCapacity) {
    TempDb db;
    auto admin = Registry::open(db.url());
    for (int i = 0; i < 20; ++i) admin->add(psk_device("d" + std::to_string(i), static_cast<std::uint8_t>(i)));
    RegistryCache cache(Registry::open(db.url()), {}, CacheOptions{8, std::chrono::milliseconds(5000)});
    for (int i = 0; i < 20; ++i) {
        const auto k = cache.find(id_of("d" + std::to_string(i)));
        ASSERT_EQ(k.size(), 32u);
        EXPECT_EQ(k[0], i);
    }
    EXPECT_EQ(cache.stats().entries, 8u);
    EXPECT_EQ(cache.stats().misses, 20u);
}

TEST(RegistryCache, WrappedPsksNeedTheWrapKey) {
    TempDb db;
    crypto::openssl::OpenSslProvider p;
    const std::vector<std::uint8_t> key(32, 0x11);
    auto admin = Registry::open(db.url());
    Device d = psk_device("w", 0);
    d.psk_format = PskFormat::wrapped;
    d.psk = wrap_psk(p, key, "w", Buf(32, 0x33));
    admin->add(d);
    RegistryCache with(Registry::open(db.url()), key, CacheOptions{});
    ASSERT_EQ(with.find(id_of("w")).size(), 32u);
    EXPECT_EQ(with.find(id_of("w"))[0], 0x33);
    RegistryCache without(Registry::open(db.url()), {}, CacheOptions{});
    EXPECT_TRUE(without.find(id_of("w")).empty());
    EXPECT_EQ(without.stats().db_errors, 1u);
}

}  // namespace
}  // namespace lockstep::registry
