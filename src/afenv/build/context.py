"""Build contexts as data, and their deterministic tar stream.

Docker's classic builder keys COPY cache entries on file content and metadata, so the tar we send
must not depend on when or by whom the files were written: names sorted, mtime 0, uid/gid 0,
modes normalised to 0644/0755.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from afenv.errors import ConfigError

__all__ = ["ContextFile", "file_entry", "inline_entry", "tree_entries", "write_tar"]


@dataclass(frozen=True, kw_only=True)
class ContextFile:
    path: str  # path inside the build context
    sha256: str
    executable: bool = False
    source: Path | None = None  # read from disk when the tar is written...
    data: bytes | None = None  # ...or carried inline


def inline_entry(path: str, text: str | bytes) -> ContextFile:
    data = text.encode() if isinstance(text, str) else text
    return ContextFile(path=path, sha256=hashlib.sha256(data).hexdigest(), data=data)


def file_entry(path: str, source: Path) -> ContextFile:
    """A file from disk, hashed now (the hash goes into the image's content hash)."""
    if source.is_symlink() or not source.is_file():
        raise ConfigError(f"{source}: not a plain file; build contexts take plain files only")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    executable = bool(source.stat().st_mode & 0o111)
    return ContextFile(path=path, sha256=digest, source=source, executable=executable)


def tree_entries(root: Path, prefix: str) -> list[ContextFile]:
    """Every file below ``root`` (caches excluded) as entries under ``prefix``.

    A symbolic link anywhere (``root`` itself included) is refused: following one could put
    host files (``/etc/passwd``, the host's CA certificates) into what is sent to the engine.
    """
    if root.is_symlink():
        raise ConfigError(f"{root}: is a symbolic link; replace it by the folder it points to")
    entries = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise ConfigError(
                f"{path}: is a symbolic link; build contexts take plain files only (copy the "
                f"file in its place)"
            )
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            entries.append(file_entry(f"{prefix}/{path.relative_to(root).as_posix()}", path))
    return entries


def write_tar(entries: Iterable[ContextFile], out: IO[bytes]) -> None:
    directories: set[str] = set()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(entries, key=lambda e: e.path):
            parts = entry.path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in directories:
                    directories.add(directory)
                    tar.addfile(_info(directory, tarfile.DIRTYPE, 0o755, 0))
            if entry.data is not None:
                tar.addfile(
                    _info(entry.path, tarfile.REGTYPE, _mode(entry), len(entry.data)),
                    io.BytesIO(entry.data),
                )
            else:
                assert entry.source is not None
                size = entry.source.stat().st_size
                with entry.source.open("rb") as handle:
                    tar.addfile(_info(entry.path, tarfile.REGTYPE, _mode(entry), size), handle)


def _mode(entry: ContextFile) -> int:
    return 0o755 if entry.executable else 0o644


def _info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
