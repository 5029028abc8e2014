#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fetches one Debian source package through a private apt configuration (its own
# sources.list, lists and cache under <apt-dir>: the system's sources are not
# read or changed, no root needed). apt verifies the files against the
# archive's signed Release (the Debian archive keyring), and dpkg-source against
# the .dsc checksums. Fails loudly without network. Used by fetch_libsodium.sh
# and fetch_bearssl.sh, which share one <apt-dir> under the build folder.
#   debian_source.sh <apt-dir> <dest-dir> <package> <version>
# Afterwards <dest-dir>/src is the unpacked tree (debian/patches applied).
# LOCKSTEP_DEBIAN_MIRROR and LOCKSTEP_DEBIAN_KEYRING override the mirror and keyring.
set -eu
apt=$1 dir=$2 package=$3 version=$4
unpacked="$package-${version%-*}"  # dpkg-source's folder: the upstream version
mirror=${LOCKSTEP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=${LOCKSTEP_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
[ -f "$dir/src/.lockstep-fetched-$version" ] && exit 0
for tool in apt-get dpkg-source; do
  command -v $tool >/dev/null 2>&1 || { echo "FAIL: $tool not found (Debian packages apt, dpkg-dev)" >&2; exit 1; }
done
[ -r "$keyring" ] || { echo "FAIL: $keyring not readable (Debian package debian-archive-keyring)" >&2; exit 1; }
sources="deb-src [signed-by=$keyring] $mirror bookworm main
deb-src [signed-by=$keyring] ${mirror}-security bookworm-security main
deb-src [signed-by=$keyring] $mirror bookworm-updates main"
# The lists are fetched once per configuration (again when the mirror or keyring changes).
if [ ! -f "$apt/sources.list" ] || [ "$(cat "$apt/sources.list")" != "$sources" ] || [ ! -f "$apt/.updated" ]; then
  rm -rf "$apt" && mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  printf '%s\n' "$sources" > "$apt/sources.list"
  : > "$apt/status"
fi
set -- -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
       -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o Dir::State::status="$apt/status" \
       -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)" -o Acquire::Retries=1
if [ ! -f "$apt/.updated" ]; then
  apt-get "$@" -q update || { echo "FAIL: apt-get update of the private source list failed (no network to $mirror?)" >&2; exit 1; }
  touch "$apt/.updated"
fi
rm -rf "$dir/src" "$dir/dl" && mkdir -p "$dir/dl"
(cd "$dir/dl" && apt-get "$@" -q source "$package=$version") ||
  { echo "FAIL: apt-get source $package=$version failed" >&2; exit 1; }
mv "$dir/dl/$unpacked" "$dir/src"
touch "$dir/src/.lockstep-fetched-$version"
