"""A GSI-only XRootD storage in a validation cluster, for tests and benchmarks.

Debian's xrootd (``xrootd-server`` plus ``xrootd-plugins`` for libXrdSecgsi) exports the
cluster's data volume read-only with ``sec.protbind * only gsi``; an authorization database
lets only the test user (by DN, through a grid-mapfile) read. The host certificate, the CA and
the configuration are written by ``server_files`` into a host directory that is bound read-only
into the storage container.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from afenv.cluster import DATA, Cluster
from afenv.engine import Container
from afenv.testing import credentials

__all__ = [
    "PORT",
    "READY",
    "server_files",
    "start_storage",
    "storage_dockerfile",
    "wait_for_port",
]

PORT = 1094
SERVER_FILES = "/srv/afenv-gsi"
_ETC = "/tmp/xrootd/etc"
# Waits until a server accepts connections, from where the clients are; bounded, no sleep.
READY = """
import socket, sys, time
deadline = time.monotonic() + 60
while True:
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"nothing listens on {sys.argv[1]}:{sys.argv[2]}")
        time.sleep(0.1)
"""


def storage_dockerfile(worker_image: str) -> str:
    """The worker image plus Debian's XRootD server and its GSI plugin, from the mirror the
    image already uses."""
    return (
        f"FROM {worker_image}\nUSER root\n"
        "RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends xrootd-server"
        " xrootd-plugins >/dev/null && rm -rf /var/lib/apt/lists/*\n"
        "USER xrootd\n"
    )


def server_files(directory: Path, creds: credentials.Credentials, host: str) -> Path:
    """Host certificate, CA, grid-mapfile, authorization database and configuration."""
    directory.mkdir()
    credentials.host_certificate(directory, creds, [host])
    shutil.copytree(creds.ca_dir, directory / "certificates")
    (directory / "grid-mapfile").write_text(f'"{credentials.USER_DN}" afenvtest\n')
    (directory / "authdb").write_text(f"u afenvtest {DATA}/ds rl\n")
    (directory / "xrootd.cfg").write_text(
        f"xrd.port {PORT}\nall.export {DATA}/ds r/o\n"
        "all.adminpath /tmp/xrootd\nall.pidpath /tmp/xrootd\n"
        "xrootd.seclib libXrdSec.so\n"
        f"sec.protparm gsi -certdir:{_ETC}/certificates\n"
        f"sec.protparm gsi -cert:{_ETC}/hostcert.pem -key:{_ETC}/hostkey.pem\n"
        f"sec.protparm gsi -gridmap:{_ETC}/grid-mapfile -gmapopt:trymap\n"
        "sec.protparm gsi -crl:0 -d:1\n"
        "sec.protocol gsi\nsec.protbind * only gsi\n"
        f"ofs.authorize 1\nacc.authdb {_ETC}/authdb\n"
    )
    return credentials.readable(directory)


def start_storage(cluster: Cluster, image: str, files: Path) -> Container:
    """The storage container (named ``cluster.run.name("storage")``), once it listens."""
    # As root only to hand the key to the xrootd user (it must be 0400 and its own); the
    # server then drops to that user (-R).
    script = (
        f"mkdir -p /tmp/xrootd && cp -r {SERVER_FILES} {_ETC}"
        f" && chown -R xrootd /tmp/xrootd && chmod 0400 {_ETC}/hostkey.pem"
        f" && cd /tmp/xrootd && exec xrootd -R xrootd -c {_ETC}/xrootd.cfg -n storage"
    )
    server = cluster.start(
        image, "storage", ["sh", "-c", script], user="0", binds={str(files): SERVER_FILES}
    )
    wait_for_port(cluster, server, PORT)
    return server


def wait_for_port(cluster: Cluster, server: Container, port: int) -> None:
    ready = cluster.notebook.exec(["python3", "-c", READY, server.name, str(port)], timeout=120)
    if ready.exit_code != 0:
        raise RuntimeError(ready.stderr + server.log(tail=15))
