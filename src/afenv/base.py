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

import docker
import docker.errors
from docker.models.images import Image

from afenv.config import DebianSpec
from afenv.errors import BuildError
from afenv.labels import MANAGED, afenv_labels

__all__ = ["BOOTSTRAP_REPOSITORY", "BaseImage", "ensure_base"]

BOOTSTRAP_REPOSITORY = "afenv/debian"


@dataclass(frozen=True, kw_only=True)
class BaseImage:
    reference: str
    image_id: str
    origin: str  # "local", "pulled" or "bootstrapped"


def _dated_tag(image: Image, suite: str) -> str | None:
    """The image's dated tag (``afenv/debian:trixie-20261124``): a stable name to build FROM."""
    prefix = f"{BOOTSTRAP_REPOSITORY}:{suite}-"
    dated = sorted(t for t in image.tags if t.startswith(prefix))
    return dated[-1] if dated else None


def _find_bootstrapped(
    client: docker.DockerClient, spec: DebianSpec, mirror: str
) -> tuple[str, Image] | None:
    # Images built FROM the base inherit its labels, so the labels alone do not find it: the
    # base is the one carrying a dated afenv/debian tag.
    images = client.images.list(
        filters={
            "label": [
                f"{MANAGED}=true",
                "io.afenv.role=base",
                f"io.afenv.suite={spec.suite}",
                f"io.afenv.mirror={mirror}",
            ]
        }
    )
    tagged = [(tag, image) for image in images if (tag := _dated_tag(image, spec.suite))]
    return max(tagged, key=lambda pair: pair[0]) if tagged else None


def ensure_base(
    client: docker.DockerClient,
    spec: DebianSpec,
    mirror: str,
    *,
    refresh: bool = False,
    report: Callable[[str], None] = lambda _: None,
) -> BaseImage:
    if not refresh:
        try:
            image = client.images.get(spec.base_image)
            return BaseImage(reference=spec.base_image, image_id=image.id, origin="local")
        except docker.errors.ImageNotFound:
            pass
        try:
            report(f"pulling {spec.base_image}")
            image = client.images.pull(spec.base_image)
            return BaseImage(reference=spec.base_image, image_id=image.id, origin="pulled")
        except docker.errors.APIError as exc:
            report(f"cannot pull {spec.base_image} ({exc.explanation or exc}); bootstrapping")
        cached = _find_bootstrapped(client, spec, mirror)
        if cached is not None:
            reference, image = cached
            return BaseImage(reference=reference, image_id=image.id, origin="bootstrapped")
    return _bootstrap(client, spec, mirror, report)


def _bootstrap(
    client: docker.DockerClient, spec: DebianSpec, mirror: str, report: Callable[[str], None]
) -> BaseImage:
    if shutil.which("debootstrap") is None:
        raise BuildError(
            f"base image {spec.base_image} is not available and debootstrap is not installed; "
            f"run scripts/ensure-docker.sh (installs it) or `apt-get install debootstrap`"
        )
    today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    repository = BOOTSTRAP_REPOSITORY
    tag = f"{spec.suite}-{today}"
    with tempfile.TemporaryDirectory(prefix="afenv-debootstrap-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        report(f"debootstrap --variant=minbase {spec.suite} from {mirror}")
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
        # debootstrap leaves its own caches; they are not part of a clean base.
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        archive = Path(tmp) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            for child in sorted(rootfs.iterdir()):
                tar.add(child, arcname=child.name)
        labels = afenv_labels(role="base") | {
            "io.afenv.suite": spec.suite,
            "io.afenv.mirror": mirror,
            "io.afenv.bootstrapped": today,
        }
        changes = [f'LABEL {k}="{v}"' for k, v in sorted(labels.items())]
        changes += ["ENV LANG=C.UTF-8", 'CMD ["bash"]']
        report(f"importing {repository}:{tag}")
        try:
            client.api.import_image_from_file(
                str(archive), repository=repository, tag=tag, changes=changes
            )
        except docker.errors.APIError as exc:
            raise BuildError(f"docker import of the {spec.suite} rootfs failed: {exc}") from None
    image = client.images.get(f"{repository}:{tag}")
    image.tag(repository, spec.suite)
    return BaseImage(reference=f"{repository}:{tag}", image_id=image.id, origin="bootstrapped")
