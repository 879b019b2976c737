"""The base image: the configured one if present or pullable, else a debootstrapped Debian.

This machine reaches no container registry but does reach a Debian mirror, so bootstrapping is
the normal path here, not a fallback of last resort. The bootstrapped image is cached (by suite
and mirror) and reused until `--refresh-base`.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from afenv import engine
from afenv.engine import BOOTSTRAP_REPOSITORY, Engine, ImageInfo
from afenv.errors import BuildError
from afenv.spec import DebianSpec

__all__ = ["RECIPE", "BaseImage", "ensure_base", "find_base"]

# How the bootstrapped base is made; a base made another way is not reused.
RECIPE = "slim-1"
# Kept out of the base and, through dpkg, out of every package installed later (Debian's own
# slim images do the same): documentation but its copyright files, manuals, translations.
_DPKG_EXCLUDES = """\
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
"""


def _slim(rootfs: Path) -> None:
    """No apt lists, caches, logs, manuals or translations; every package stays installed and
    C.UTF-8 (in libc) stays the locale."""
    (rootfs / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/dpkg/dpkg.cfg.d/01-afenv-slim").write_text(_DPKG_EXCLUDES)
    for pattern in (
        "var/lib/apt/lists/*",
        "var/cache/apt/*",
        "var/cache/debconf/*-old",
        "var/cache/ldconfig/aux-cache",
        "var/log/*",
        "usr/share/man/*",
        "usr/share/info/*",
        "usr/share/lintian/*",
    ):
        for path in rootfs.glob(pattern):
            _remove(path)
    for path in (rootfs / "usr/share/locale").glob("*"):
        if path.name != "locale.alias":
            _remove(path)
    for path in (rootfs / "usr/share/doc").glob("*/*"):
        if path.name != "copyright":
            _remove(path)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@dataclass(frozen=True, kw_only=True)
class BaseImage:
    reference: str
    image_id: str
    origin: str  # "local", "pulled" or "bootstrapped"


def _dated_tag(image: ImageInfo, suite: str) -> str | None:
    """The image's dated tag (``afenv/debian:trixie-20261124``): a stable name to build FROM."""
    prefix = f"{BOOTSTRAP_REPOSITORY}:{suite}-"
    dated = sorted(t for t in image.tags if t.startswith(prefix))
    return dated[-1] if dated else None


def _find_bootstrapped(docker: Engine, spec: DebianSpec, mirror: str) -> BaseImage | None:
    # Images built FROM the base inherit its labels, so the labels alone do not find it: the
    # base is the one carrying a dated afenv/debian tag.
    images = docker.images(
        f"{engine.ROLE}=base",
        f"{engine.SUITE}={spec.suite}",
        f"{engine.MIRROR}={mirror}",
        f"{engine.PREFIX}recipe={RECIPE}",
    )
    tagged = [(tag, image) for image in images if (tag := _dated_tag(image, spec.suite))]
    if not tagged:
        return None
    reference, image = max(tagged, key=lambda pair: pair[0])
    return BaseImage(reference=reference, image_id=image.id, origin="bootstrapped")


def find_base(docker: Engine, spec: DebianSpec, mirror: str) -> BaseImage | None:
    """The base as it is in the engine now: no pull, no bootstrap."""
    image = docker.image(spec.base_image)
    if image is not None:
        return BaseImage(reference=spec.base_image, image_id=image.id, origin="local")
    return _find_bootstrapped(docker, spec, mirror)


def ensure_base(
    docker: Engine,
    spec: DebianSpec,
    mirror: str,
    *,
    refresh: bool = False,
    report: Callable[[str], None] = lambda _: None,
) -> BaseImage:
    if not refresh:
        image = docker.image(spec.base_image)
        if image is not None:
            return BaseImage(reference=spec.base_image, image_id=image.id, origin="local")
        report(f"pulling {spec.base_image}")
        image = docker.pull(spec.base_image, report)
        if image is not None:
            return BaseImage(reference=spec.base_image, image_id=image.id, origin="pulled")
        cached = _find_bootstrapped(docker, spec, mirror)
        if cached is not None:
            return cached
    return _bootstrap(docker, spec, mirror, report)


def _bootstrap(
    docker: Engine, spec: DebianSpec, mirror: str, report: Callable[[str], None]
) -> BaseImage:
    if shutil.which("debootstrap") is None:
        raise BuildError(
            f"base image {spec.base_image} is not available and debootstrap is not installed; "
            f"run scripts/ensure-docker.sh (installs it) or `apt-get install debootstrap`"
        )
    today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    reference = f"{BOOTSTRAP_REPOSITORY}:{spec.suite}-{today}"
    with tempfile.TemporaryDirectory(prefix="afenv-debootstrap-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        report(f"debootstrap --variant=minbase {spec.suite} from {mirror}")
        # Suite and mirror passed their grammars in the spec; a list, never a shell line.
        result = subprocess.run(
            ["debootstrap", "--variant=minbase", spec.suite, str(rootfs), mirror],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if result.returncode != 0:
            tail = " | ".join(result.stdout.strip().splitlines()[-3:])
            raise BuildError(
                f"debootstrap of {spec.suite} from {mirror} failed: {tail}; check the mirror "
                f"(host apt sources or [debian] mirror in envs/facility.toml)"
            )
        _slim(rootfs)
        archive = Path(tmp) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            for child in sorted(rootfs.iterdir()):
                tar.add(child, arcname=child.name)
        labels = engine.image_labels(
            role="base", suite=spec.suite, mirror=mirror, bootstrapped=today, recipe=RECIPE
        )
        changes = [f'LABEL {k}="{v}"' for k, v in sorted(labels.items())]
        changes += ["ENV LANG=C.UTF-8", 'CMD ["bash"]']
        report(f"importing {reference}")
        image = docker.import_rootfs(archive, reference, changes)
    docker.tag(image.id, f"{BOOTSTRAP_REPOSITORY}:{spec.suite}")
    return BaseImage(reference=reference, image_id=image.id, origin="bootstrapped")
