"""Network access from the host, trusting what host pip trusts.

The site reaches PyPI through a TLS-intercepting proxy whose CA only the host knows, so every
download afenv makes (wheels, Debian indexes) and every uv run uses the host's CA bundle. The
containers never download anything during a build, so they never need that CA.
"""

from __future__ import annotations

import configparser
import hashlib
import http.client
import socket
import ssl
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from afenv.errors import FetchError

__all__ = ["ca_bundle", "download", "fetch_bytes", "free_port", "tool_env"]

_TIMEOUT = 60.0
_CHUNK = 1 << 20


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (the kernel's choice; a server binds it next)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def ca_bundle(env: Mapping[str, str]) -> Path | None:
    """The CA bundle host pip uses: its environment first, then its config files."""
    for key in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        value = env.get(key)
        if value and Path(value).is_file():
            return Path(value)
    config_files = [Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf")]
    home = env.get("HOME")
    if home:
        config_files += [Path(home) / ".config/pip/pip.conf", Path(home) / ".pip/pip.conf"]
    if env.get("PIP_CONFIG_FILE"):
        config_files.append(Path(env["PIP_CONFIG_FILE"]))
    found: Path | None = None
    for config_file in config_files:
        parser = configparser.ConfigParser()
        try:
            parser.read(config_file)
        except configparser.Error:
            continue
        for section in ("global", "download", "install"):
            value = parser.get(section, "cert", fallback=None)
            if value and Path(value).is_file():
                found = Path(value)  # later files override earlier ones, as in pip
    return found


def tool_env(env: Mapping[str, str]) -> dict[str, str]:
    """Environment for uv: the host's CA bundle made explicit, pip's own config kept out.

    Host pip may carry site constraints and local find-links; our resolution must depend only on
    the index named in envs/facility.toml.
    """
    result = {k: v for k, v in env.items() if not k.startswith(("PIP_", "UV_"))}
    bundle = ca_bundle(env)
    if bundle is not None:
        result["SSL_CERT_FILE"] = str(bundle)
    return result


def _context(env: Mapping[str, str]) -> ssl.SSLContext:
    bundle = ca_bundle(env)
    return ssl.create_default_context(cafile=str(bundle) if bundle else None)


def fetch_bytes(url: str, env: Mapping[str, str], *, what: str) -> bytes:
    """GET a (small) resource whole; ``what`` names it in errors."""
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT, context=_context(env)) as response:
            return bytes(response.read())
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(
            f"cannot download {what} from {url}: {reason}; check the network"
        ) from None


def download(url: str, destination: Path, sha256: str, env: Mapping[str, str]) -> None:
    """Stream ``url`` to ``destination``, accepting it only if its sha256 matches.

    The file appears under its final name only once verified (write to a temporary name in the
    same folder, then rename), so an interrupted or corrupt download leaves nothing behind.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    # Closed by the `with` below; created first so that `finally` knows its name.
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
        dir=destination.parent, prefix=".part-", delete=False
    )
    temporary = Path(handle.name)
    try:
        with (
            handle,
            urllib.request.urlopen(url, timeout=_TIMEOUT, context=_context(env)) as response,
        ):
            announced = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                handle.write(chunk)
                received += len(chunk)
        if announced is not None and announced.isdigit() and received < int(announced):
            # A connection that ends early is a network fault, not other bytes: say so.
            raise FetchError(
                f"cannot download {destination.name} from {url}: the connection closed after "
                f"{received} of {announced} bytes; try again"
            )
        if digest.hexdigest() != sha256:
            raise FetchError(
                f"hash mismatch for {destination.name}: expected sha256:{sha256}, got "
                f"sha256:{digest.hexdigest()} from {url}; the index served other bytes than the "
                f"lock records: re-run `afenv lock` if the release was replaced"
            )
        temporary.replace(destination)
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
        # HTTPException: the server went away mid-file (IncompleteRead) or spoke no HTTP.
        reason = getattr(exc, "reason", None) or exc.__class__.__name__ + f" {exc}"
        raise FetchError(
            f"cannot download {destination.name} from {url}: {' '.join(str(reason).split())[:200]}"
        ) from None
    finally:
        temporary.unlink(missing_ok=True)
