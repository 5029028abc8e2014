#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Three `lockstep serve` behind nginx's stream module (TCP and UDP), sharing one
PostgreSQL registry in a cluster this test creates and stops. One server is killed
mid-run: its clients connect again through the balancer and carry on with the
others; a device revoked in the shared registry is refused by all three.

  fleet_e2e.py --lockstep build/tools/lockstep
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_e2e  # noqa: E402
from cli_e2e import Server, check, read, run_in_env, start_listener, wait_for  # noqa: E402
import pg_cluster  # noqa: E402

NGINX_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


def nginx_conf(env, tcp_port, udp_port, servers):
    up_tcp = "".join(f"    server {s.tcp} max_fails=1 fail_timeout=30s;\n" for s in servers)
    up_udp = "".join(f"    server {s.udp} max_fails=1 fail_timeout=30s;\n" for s in servers)
    return f"""load_module {NGINX_MODULE};
daemon off;
master_process off;
worker_processes 1;
pid {env.path('nginx.pid')};
error_log {env.path('nginx.err')} notice;
events {{ worker_connections 256; }}
stream {{
  upstream fleet_tcp {{
{up_tcp}  }}
  upstream fleet_udp {{
    hash $remote_addr$remote_port consistent;
{up_udp}  }}
  server {{ listen 127.0.0.1:{tcp_port}; proxy_pass fleet_tcp; proxy_connect_timeout 1s; proxy_next_upstream on; }}
  server {{ listen 127.0.0.1:{udp_port} udp; proxy_pass fleet_udp; proxy_timeout 5s; }}
}}
"""


def fleet(env, url):
    R = ["--registry", url]
    for i in range(4):
        env.run("device", "add", *R, "--id", f"dev-{i}", "--out", f"dev-{i}.psk", expect=0)
    servers = [Server(env, "--registry", url, "--registry-staleness", "400") for _ in range(3)]
    nginx = None
    try:
        tport, uport = pg_cluster.free_port(), pg_cluster.free_port()
        with open(env.path("nginx.conf"), "w") as f:
            f.write(nginx_conf(env, tport, uport, servers))
        nginx = subprocess.Popen(["nginx", "-c", env.path("nginx.conf"), "-p", env.tmp], cwd=env.tmp,
                                 stdout=subprocess.DEVNULL, stderr=open(env.path("nginx.out"), "w"))
        lb_tcp, lb_udp = f"127.0.0.1:{tport}", f"127.0.0.1:{uport}"
        wait_for(lambda: env.run("request", lb_tcp, "--psk", "dev-0.psk", "--timeout", "1000").returncode == 0, 10,
                 "nginx to forward")
        for i in range(6):  # spread over the three servers
            env.run("request", lb_tcp, "--psk", f"dev-{i % 4}.psk", "-n", "2", expect=0)
            env.run("request", lb_udp, "--udp", "--psk", f"dev-{i % 4}.psk", "-n", "2", expect=0)
        servers[0].kill()  # one server dies mid-run
        for i in range(8):  # its clients come back through the balancer and are served by the others
            env.run("request", lb_tcp, "--psk", f"dev-{i % 4}.psk", "-n", "2", expect=0)
        for i in range(4):  # over UDP nginx learns of the dead server from the ICMP errors: a retry may be needed
            wait_for(lambda i=i: env.run("request", lb_udp, "--udp", "--psk", f"dev-{i}.psk", "-n", "2",
                                         "--timeout", "1500").returncode == 0, 15, f"dev-{i} over UDP after the kill")
        env.run("device", "revoke", *R, "dev-3", expect=0)
        for s in servers[1:] + [servers[1], servers[2]]:  # straight to each live server, and via nginx
            wait_for(lambda s=s: env.run("request", s.tcp, "--psk", "dev-3.psk").returncode == 4, 5,
                     f"{s.tcp} to refuse the revoked device")
        check(env.run("request", lb_tcp, "--psk", "dev-3.psk").returncode == 4, "nginx path admitted dev-3")
        env.run("request", lb_tcp, "--psk", "dev-2.psk", expect=0)
        for s in servers[1:]:  # the survivors stop cleanly and both served connections
            rc, _ = s.stop()
            m = re.search(r"^stopped: \d+ connections, (\d+) established", read(s.out), re.M)
            check(rc == 0 and m and int(m.group(1)) > 0, f"server {s.tcp}: exit {rc}, {read(s.out)!r}")
    finally:
        if nginx is not None:
            nginx.kill()
            nginx.wait()
        for s in servers:
            s.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lockstep", required=True)
    args = ap.parse_args()
    cli_e2e.SLOW = 1.0
    with tempfile.TemporaryDirectory(prefix="lockstep-pg-") as tmp, pg_cluster.Cluster("", tmp) as pg:
        return 0 if run_in_env(args.lockstep, "fleet", lambda env: fleet(env, pg.url)) else 1


if __name__ == "__main__":
    sys.exit(main())
