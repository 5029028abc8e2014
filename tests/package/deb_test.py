#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Debian package: build it with CPack from this build tree (what `make deb`
does), check its contents with `dpkg-deb -c` and its control fields with
`dpkg-deb -f`, install it with dpkg into a scratch root (its own dpkg database),
then run the installed CLI and read the installed man page."""
from pkgrun import run
import argparse, glob, os, subprocess, sys, tempfile

WANTED = [
    "./usr/bin/lockstep",
    "./usr/include/lockstep/lockstep.h",
    "./usr/include/lockstep/version.hpp",
    "./usr/include/lockstep/openssl/provider.hpp",
    "./usr/include/lockstep/sodium/provider.hpp",
    "./usr/{libdir}/cmake/lockstep/lockstepConfig.cmake",
    "./usr/{libdir}/cmake/lockstep/lockstepConfigVersion.cmake",
    "./usr/{libdir}/cmake/lockstep/lockstepTargets.cmake",
    "./usr/{libdir}/pkgconfig/lockstep.pc",
    "./usr/share/man/man1/lockstep.1",
    "./usr/share/bash-completion/completions/lockstep",
    "./usr/lib/systemd/system/lockstep-serve@.service",
    "./usr/share/doc/lockstep/LICENSE",
    "./usr/lib/{multiarch}/wireshark/plugins/lockstep.lua",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    a = ap.parse_args()
    multiarch = run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]).strip()
    with tempfile.TemporaryDirectory(prefix="lockstep-deb-") as tmp:
        run(["cpack", "-G", "DEB", "--config", os.path.join(a.build, "CPackConfig.cmake"), "-B", tmp])
        debs = glob.glob(os.path.join(tmp, "*.deb"))
        assert len(debs) == 1, debs
        deb = debs[0]

        listing = run(["dpkg-deb", "-c", deb])
        paths = {line.split()[-1] if " -> " not in line else line.split()[-3] for line in listing.splitlines()}
        # GNUInstallDirs' libdir: lib/<multiarch> when configured for /usr, else lib.
        libdir = f"lib/{multiarch}" if f"./usr/lib/{multiarch}/pkgconfig/lockstep.pc" in paths else "lib"
        wanted = [w.format(libdir=libdir, multiarch=multiarch) for w in WANTED]
        missing = [w for w in wanted if w not in paths]
        assert not missing, f"not in the package: {missing}\n{listing}"
        assert not any("/src/" in p for p in paths), "src/ is in the package"
        libs = [p for p in paths if os.path.basename(p).startswith("liblockstep")]
        assert len(libs) >= 4, libs  # lockstep, -openssl, -sodium, -net

        version = run(["dpkg-deb", "-f", deb, "Version"]).strip()
        depends = run(["dpkg-deb", "-f", deb, "Depends"])
        assert "libssl3" in depends, depends  # from dpkg-shlibdeps
        suggests = run(["dpkg-deb", "-f", deb, "Suggests"])
        assert "lua-luaossl" in suggests and "tshark" in suggests, suggests  # the dissector's decryption

        # Install into a scratch root with its own (empty) dpkg database. Its
        # dependencies are the host's libraries, not in that database: forced.
        root = os.path.join(tmp, "root")
        for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"]:
            os.makedirs(os.path.join(root, d))
        open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
        run(["dpkg", "--root", root, "--force-not-root", "--force-depends", "--force-script-chrootless",
             "--log", os.path.join(root, "var/log/dpkg.log"), "-i", deb])
        status = run(["dpkg", "--root", root, "-s", "lockstep"])
        assert "Status: install ok installed" in status, status
        owned = run(["dpkg", "--root", root, "-L", "lockstep"])
        assert "/usr/bin/lockstep" in owned, owned
        cli = os.path.join(root, "usr/bin/lockstep")
        out = run([cli, "--version"]).strip()
        assert out == f"lockstep {version}", (out, version)
        # The man page as man(1) shows it: it renders, names the command and its version.
        page = run(["man", "-l", "-Tutf8", os.path.join(root, "usr/share/man/man1/lockstep.1")],
                   env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
        assert "lockstep serve" in page and version in page, page[:2000]
        run(["dpkg", "--root", root, "--force-not-root", "--force-script-chrootless", "-r", "lockstep"])
        assert not os.path.exists(cli), "dpkg -r left the CLI behind"
    print(f"ok: {os.path.basename(deb)}: {len(paths)} paths, installed into and removed from a scratch root")


if __name__ == "__main__":
    main()
