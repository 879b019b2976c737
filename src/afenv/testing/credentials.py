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
    ca_cert, ca_key = _authority(directory, "ca", CA_DN)
    ca_dir = directory / "certificates"
    ca_dir.mkdir(exist_ok=True)
    trust(ca_dir, ca_cert)
    user_cert, user_key = _issue(
        directory, "usercert.pem", "userkey.pem", user_dn, (ca_cert, ca_key), serial=2
    )
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


@dataclass(frozen=True)
class VomsServer:
    """A stand-in for a VO's VOMS server: a certificate with the subject an LSC file names,
    issued by a CA with the LSC's issuer DN. An AC it signs (voms-proxy-fake) verifies against
    that LSC file, the experiment's own one, exactly as a real server's would. The impostor has
    a certificate from the same CA under a DN the LSC does not name."""

    ca_cert: Path
    cert: Path
    key: Path
    impostor_cert: Path
    impostor_key: Path


def voms_server(directory: Path, lsc: Path) -> VomsServer:
    lines = [line.strip() for line in lsc.read_text().splitlines() if line.strip()]
    if len(lines) != 2:  # one server DN and one CA DN is the chain the tests need
        raise ValueError(f"{lsc}: expected a server DN and its CA DN, got {len(lines)} lines")
    server_dn, ca_dn = lines
    directory.mkdir(parents=True, exist_ok=True)
    issuer = _authority(directory, "voms-ca", ca_dn)
    usage = "keyUsage=critical,digitalSignature,keyEncipherment\n"
    cert, key = _issue(
        directory, "vomscert.pem", "vomskey.pem", server_dn, issuer, serial=5, extensions=usage
    )
    impostor_dn = server_dn.rsplit("/CN=", 1)[0] + "/CN=voms-impostor.invalid"
    impostor_cert, impostor_key = _issue(
        directory, "impostorcert.pem", "impostorkey.pem", impostor_dn, issuer, serial=6,
        extensions=usage,
    )  # fmt: skip
    return VomsServer(issuer[0], cert, key, impostor_cert, impostor_key)


def trust(ca_dir: Path, ca_cert: Path) -> None:
    """Add a CA to a hashed CA directory, as the grid tools read /etc/grid-security/certificates;
    its signing policy lets it sign its own namespace (GSI checks that)."""
    digest = _openssl("x509", "-hash", "-noout", "-in", ca_cert).strip()
    subject = _openssl("x509", "-subject", "-noout", "-nameopt", "compat", "-in", ca_cert)
    dn = subject.removeprefix("subject=").strip()
    shutil.copyfile(ca_cert, ca_dir / f"{digest}.0")
    namespace = dn.rsplit("/CN=", 1)[0]
    (ca_dir / f"{digest}.signing_policy").write_text(
        f"access_id_CA X509 '{dn}'\npos_rights globus CA:sign\n"
        f"cond_subjects globus '\"{namespace}/*\"'\n"
    )


def host_certificate(
    directory: Path, credentials: Credentials, names: list[str]
) -> tuple[Path, Path]:
    """A server certificate for ``names`` (CN the first, every name a DNS or IP SAN), signed by
    the test CA: (certificate, key)."""
    alternatives = ",".join(f"{'IP' if _is_ip(name) else 'DNS'}:{name}" for name in names)
    extensions = (
        f"subjectAltName={alternatives}\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
    )
    issuer = (credentials.ca_cert, credentials.ca_key)
    subject = f"/DC=org/DC=afenv-test/CN={names[0]}"
    return _issue(
        directory, "hostcert.pem", "hostkey.pem", subject, issuer, serial=3, extensions=extensions
    )


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def fake_cvmfs(directory: Path, credentials: Credentials, vo_files: Path | None = None) -> Path:
    """A /cvmfs tree whose grid.cern.ch holds the hashed test CA (and the VO files of an
    experiment's grid/ folder), readable by every user; returns the directory to mount at
    /cvmfs."""
    grid = directory / "grid.cern.ch" / "etc" / "grid-security"
    shutil.copytree(credentials.ca_dir, grid / "certificates")
    if vo_files is not None:
        shutil.copytree(vo_files / "grid-security" / "vomsdir", grid / "vomsdir")
        shutil.copytree(vo_files / "vomses", grid / "vomses")
    return readable(directory)


def readable(directory: Path) -> Path:
    """Make a tree readable by every user (a container's uid is not ours); returns it."""
    for path in [directory, *directory.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return directory


def _expired_proxy(directory: Path, user_cert: Path, user_key: Path, user_dn: str) -> Path:
    """A proxy certificate (proxyCertInfo, signed by the user) whose validity ended yesterday."""
    extensions = (
        "proxyCertInfo=critical,language:id-ppl-inheritAll\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    cert, key = _issue(
        directory, "ex.pem", "expired.key", f"{user_dn}/CN=4242", (user_cert, user_key),
        serial=4242, days=-1, extensions=extensions,
    )  # fmt: skip
    proxy = directory / "x509up_expired"
    proxy.write_bytes(cert.read_bytes() + key.read_bytes() + user_cert.read_bytes())
    proxy.chmod(0o600)
    return proxy


def _authority(directory: Path, name: str, dn: str) -> tuple[Path, Path]:
    """A self-signed CA (certificate, key) with subject ``dn``."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
        "-subj", dn, "-days", "2",
        "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return cert, key


def _issue(
    directory: Path,
    cert_name: str,
    key_name: str,
    subject: str,
    issuer: tuple[Path, Path],
    *,
    serial: int,
    days: int = 1,
    extensions: str | None = None,
) -> tuple[Path, Path]:
    """A new key and a certificate for ``subject`` signed by ``issuer`` (certificate, key)."""
    cert, key = directory / cert_name, directory / key_name
    request = cert.with_suffix(".csr")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request, "-subj", subject
    )  # fmt: skip
    signing: list[str | Path] = [
        "-CA",
        issuer[0],
        "-CAkey",
        issuer[1],
        "-set_serial",
        str(serial),
        "-days",
        str(days),
    ]
    if extensions is not None:
        extension_file = cert.with_suffix(".cnf")
        extension_file.write_text(extensions)
        signing += ["-extfile", extension_file]
    _openssl("x509", "-req", "-in", request, *signing, "-out", cert)
    return cert, key


def _openssl(*arguments: str | Path) -> str:
    done = subprocess.run(
        ["openssl", *map(str, arguments)], check=True, capture_output=True, text=True
    )
    return done.stdout
