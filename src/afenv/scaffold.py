"""`afenv init DIR`: a new facility repository, ready for `afenv lock` and `afenv build`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from afenv.build.render import PACKAGED
from afenv.errors import ConfigError
from afenv.spec.grammar import RULES

__all__ = ["ScaffoldResult", "scaffold"]

_SOURCE = PACKAGED / "scaffold"


@dataclass(frozen=True, kw_only=True)
class ScaffoldResult:
    root: Path
    files: tuple[Path, ...]


def scaffold(directory: Path, *, experiment: str) -> ScaffoldResult:
    """Write envs/facility.toml, images/<experiment>/experiment.toml, README.md, .gitignore.

    Refuses to write into a folder that already holds any of them: nothing is overwritten.
    """
    if not RULES["experiment"].accepts(experiment):
        raise ConfigError(f"--experiment: {experiment[:40]!r} is not {RULES['experiment'].says}")
    root = directory.resolve()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: exists and is not a folder; choose another DIR")
    facility = root.name if RULES["facility"].accepts(root.name) else "my-facility"
    fields = {"name": experiment, "title": experiment.upper(), "facility": facility}
    files = {
        root / "envs" / "facility.toml": (_SOURCE / "facility.toml")
        .read_text()
        .replace('name = "icsc-af"', f'name = "{facility}"'),
        root / "images" / experiment / "experiment.toml": _fill("experiment.toml", fields),
        root / "README.md": _fill("README.md", fields),
        root / ".gitignore": (_SOURCE / "gitignore").read_text(),
    }
    existing = [path for path in files if path.exists()]
    if existing:
        raise ConfigError(f"{existing[0]}: exists already; afenv init never overwrites a file")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return ScaffoldResult(root=root, files=tuple(sorted(files)))


def _fill(name: str, fields: dict[str, str]) -> str:
    text = (_SOURCE / name).read_text()
    for key, value in fields.items():
        text = text.replace("{" + key + "}", value)
    return text
