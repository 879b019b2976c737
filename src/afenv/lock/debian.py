"""Debian side of the lock: the host's mirror and package versions from its index."""

from __future__ import annotations

import lzma
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from afenv.errors import ConfigError
from afenv.hostnet import fetch_bytes

__all__ = ["host_mirror", "package_versions", "parse_packages_index", "pin"]

_APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


def _source_files(roots: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            files += sorted(p for p in root.iterdir() if p.suffix in {".list", ".sources"})
    return files


def host_mirror(roots: Iterable[Path] = _APT_SOURCES) -> str:
    """The Debian archive URI the host's apt uses (not its security archive).

    We never hard-code a mirror: the site's apt configuration already knows the reachable one.
    """
    for path in _source_files(roots):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(
                    (m.group(1).lower(), m.group(2).strip())
                    for m in re.finditer(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.MULTILINE)
                )
                if "deb" not in fields.get("types", "").split():
                    continue
                suites = fields.get("suites", "").split()
                for uri in fields.get("uris", "").split():
                    if _is_archive(uri, suites):
                        return str(uri).rstrip("/")
        else:
            for line in text.splitlines():
                parts = line.split("#", 1)[0].split()
                if len(parts) >= 3 and parts[0] == "deb":
                    words = [w for w in parts[1:] if not w.startswith("[")]
                    if len(words) >= 2 and _is_archive(words[0], [words[1]]):
                        return words[0].rstrip("/")
    raise ConfigError(
        "no Debian mirror in the host's apt sources (/etc/apt/sources.list*); set "
        "[debian] mirror in envs/facility.toml"
    )


def _is_archive(uri: str, suites: list[str]) -> bool:
    return (
        uri.startswith(("http://", "https://"))
        and "/debian" in uri
        and not any(s.endswith("-security") for s in suites)
        and "security" not in uri
    )


def parse_packages_index(text: str) -> dict[str, str]:
    """Package name -> newest version listed in a Debian ``Packages`` index."""
    versions: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        name = version = None
        for line in stanza.splitlines():
            if line.startswith("Package: "):
                name = line[9:].strip()
            elif line.startswith("Version: "):
                version = line[9:].strip()
        if name and version:
            # An index lists one version per package; keep the first if a mirror repeats one.
            versions.setdefault(name, version)
    return versions


def package_versions(mirror: str, suite: str, env: Mapping[str, str]) -> dict[str, str]:
    url = f"{mirror}/dists/{suite}/main/binary-amd64/Packages.xz"
    data = fetch_bytes(url, env, what=f"the Debian {suite} package index")
    return parse_packages_index(lzma.decompress(data).decode("utf-8", errors="replace"))


def pin(
    packages: Iterable[str], versions: Mapping[str, str], *, where: str, suite: str
) -> dict[str, str]:
    pins: dict[str, str] = {}
    for package in packages:
        if package not in versions:
            raise ConfigError(
                f"{where}: Debian package {package!r} is not in {suite}/main; check its name "
                f"(apt-cache search) or remove it"
            )
        pins[package] = versions[package]
    return pins
