"""Throw-away grid credentials for tests, made with the real tools: openssl for a test CA and a
user certificate, xrdgsiproxy (xrootd-client) for an RFC 3820 proxy, openssl again for an
expired proxy signed by the same user.

Nothing here is ever committed: every call writes into the directory it is given (a pytest
temporary directory), and the keys die with it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

USER_DN = "/DC=org/DC=afenv-test/CN=afenv test user"
CA_DN = "/DC=org/DC=afenv-test/CN=afenv test CA"
HOURS = 12


class ToolMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Credentials:
    ca_dir: Path  # hashed CA directory, as /etc/grid-security/certificates
    ca_cert: Path
    ca_key: Path
    user_cert: Path
    user_key: Path
    proxy: Path  # valid for HOURS
    expired_proxy: Path


def make(directory: Path, *, user_dn: str = USER_DN) -> Credentials:
    for tool in ("openssl", "xrdgsiproxy"):
        if shutil.which(tool) is None:
            raise ToolMissing(f"{tool} is not installed (Debian: openssl, xrootd-client)")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_cert,
        "-subj", CA_DN, "-days", "2",
        "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    ca_dir = directory / "certificates"
    ca_dir.mkdir(exist_ok=True)
    digest = _openssl("x509", "-hash", "-noout", "-in", ca_cert).strip()
    shutil.copyfile(ca_cert, ca_dir / f"{digest}.0")
    # GSI checks a CA's namespace policy; this one lets the test CA sign its own subtree.
    (ca_dir / f"{digest}.signing_policy").write_text(
        f"access_id_CA X509 '{CA_DN}'\npos_rights globus CA:sign\n"
        "cond_subjects globus '\"/DC=org/DC=afenv-test/*\"'\n"
    )
    user_key, user_cert = directory / "userkey.pem", directory / "usercert.pem"
    request = directory / "user.csr"
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", user_key, "-out", request,
        "-subj", user_dn,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", request, "-CA", ca_cert, "-CAkey", ca_key, "-set_serial", "2",
        "-days", "1", "-out", user_cert,
    )  # fmt: skip
    user_key.chmod(0o400)  # the grid tools refuse a readable key
    proxy = directory / "x509up_test"
    subprocess.run(
        ["xrdgsiproxy", "init", "-certdir", str(ca_dir), "-cert", str(user_cert),
         "-key", str(user_key), "-out", str(proxy), "-valid", f"{HOURS}:00"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return Credentials(
        ca_dir=ca_dir,
        ca_cert=ca_cert,
        ca_key=ca_key,
        user_cert=user_cert,
        user_key=user_key,
        proxy=proxy,
        expired_proxy=_expired_proxy(directory, user_cert, user_key, user_dn),
    )


def host_certificate(
    directory: Path, credentials: Credentials, names: list[str]
) -> tuple[Path, Path]:
    """A server certificate for ``names`` (CN the first, every name a DNS SAN), signed by the
    test CA: (certificate, key)."""
    key, request, cert = (
        directory / "hostkey.pem",
        directory / "host.csr",
        directory / "hostcert.pem",
    )
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request,
        "-subj", f"/DC=org/DC=afenv-test/CN={names[0]}",
    )  # fmt: skip
    extensions = directory / "host.cnf"
    extensions.write_text(
        "subjectAltName=" + ",".join(f"DNS:{name}" for name in names) + "\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", request, "-CA", credentials.ca_cert, "-CAkey", credentials.ca_key,
        "-set_serial", "3", "-days", "1", "-extfile", extensions, "-out", cert,
    )  # fmt: skip
    return cert, key


def fake_cvmfs(directory: Path, credentials: Credentials, vo_files: Path | None = None) -> Path:
    """A /cvmfs tree whose grid.cern.ch holds the hashed test CA (and the VO files of an
    experiment's grid/ folder), readable by every user; returns the directory to mount at
    /cvmfs."""
    grid = directory / "grid.cern.ch" / "etc" / "grid-security"
    shutil.copytree(credentials.ca_dir, grid / "certificates")
    if vo_files is not None:
        shutil.copytree(vo_files / "grid-security" / "vomsdir", grid / "vomsdir")
        shutil.copytree(vo_files / "vomses", grid / "vomses")
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return directory


def _expired_proxy(directory: Path, user_cert: Path, user_key: Path, user_dn: str) -> Path:
    """A proxy certificate (proxyCertInfo, signed by the user) whose validity ended yesterday."""
    key, request, cert = directory / "expired.key", directory / "expired.csr", directory / "ex.pem"
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request,
        "-subj", f"{user_dn}/CN=4242",
    )  # fmt: skip
    extensions = directory / "proxy.cnf"
    extensions.write_text(
        "proxyCertInfo=critical,language:id-ppl-inheritAll\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "x509", "-req", "-in", request, "-CA", user_cert, "-CAkey", user_key,
        "-set_serial", "4242", "-days", "-1", "-extfile", extensions, "-out", cert,
    )  # fmt: skip
    proxy = directory / "x509up_expired"
    proxy.write_bytes(cert.read_bytes() + key.read_bytes() + user_cert.read_bytes())
    proxy.chmod(0o600)
    return proxy


def _openssl(*arguments: str | Path) -> str:
    done = subprocess.run(
        ["openssl", *map(str, arguments)], check=True, capture_output=True, text=True
    )
    return done.stdout
