#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fetches libsodium's Debian source package (ISC) into <dir>/src through the
# private apt configuration <apt-dir> (debian_source.sh: verified by apt and
# dpkg-source; fails loudly without network).
#   fetch_libsodium.sh <apt-dir> <dir> <version>      e.g. 1.0.18-1+deb12u1
set -eu
exec sh "$(dirname "$0")/debian_source.sh" "$1" "$2" libsodium "$3"
