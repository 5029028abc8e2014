#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fetches BearSSL's Debian source package (MIT) into <dir>/src through the
# private apt configuration <apt-dir> (debian_source.sh: verified by apt and
# dpkg-source; fails loudly without network).
#   fetch_bearssl.sh <apt-dir> <dir> <version>        e.g. 0.6+dfsg.1-3
set -eu
exec sh "$(dirname "$0")/debian_source.sh" "$1" "$2" bearssl "$3"
