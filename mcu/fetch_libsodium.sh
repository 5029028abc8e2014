#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fetches libsodium's Debian source package into <dir> through a private apt
# configuration under <dir> (its own sources.list, lists and cache: the
# system's sources are not touched, no root needed). apt verifies the files
# against the archive's signed Release (the system's Debian keyring), and
# dpkg-source against the .dsc checksums. Fails loudly without network.
#   fetch_libsodium.sh <dir> <version>      e.g. 1.0.18-1+deb12u1
# Afterwards <dir>/src is the unpacked tree (debian/patches applied).
set -eu
dir=$1 version=$2
mirror=${LOCKSTEP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=${LOCKSTEP_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
[ -f "$dir/src/.lockstep-fetched-$version" ] && exit 0
for tool in apt-get dpkg-source; do
  command -v $tool >/dev/null 2>&1 || { echo "FAIL: $tool not found (Debian packages apt, dpkg-dev)" >&2; exit 1; }
done
[ -r "$keyring" ] || { echo "FAIL: $keyring not readable (Debian package debian-archive-keyring)" >&2; exit 1; }
apt="$dir/apt"
rm -rf "$apt" "$dir/src" && mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$dir/dl"
cat > "$apt/sources.list" <<SRC
deb-src [signed-by=$keyring] $mirror bookworm main
deb-src [signed-by=$keyring] ${mirror}-security bookworm-security main
deb-src [signed-by=$keyring] $mirror bookworm-updates main
SRC
: > "$apt/status"
set -- -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
       -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o Dir::State::status="$apt/status" \
       -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)" -o Acquire::Retries=1
apt-get "$@" -q update || { echo "FAIL: apt-get update of the private source list failed (no network to $mirror?)" >&2; exit 1; }
(cd "$dir/dl" && apt-get "$@" -q source "libsodium=$version") ||
  { echo "FAIL: apt-get source libsodium=$version failed" >&2; exit 1; }
mv "$dir/dl/libsodium-1.0.18" "$dir/src"
touch "$dir/src/.lockstep-fetched-$version"
