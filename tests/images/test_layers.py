"""Every layer of every afenv image, read byte for byte: no private key, proxy, token or the
host's own CA certificates; no host paths in labels, history or manifests."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from afenv.build.plan import MANIFEST_DIR

from .conftest import ROOT

pytestmark = pytest.mark.docker

# A key, not a mention of one (cryptography's parsers hold the marker as a constant).
PRIVATE_KEY = re.compile(
    rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----\r?\n"
    rb"(?:[A-Za-z0-9+/=:, -]*\r?\n)?[A-Za-z0-9+/=]{60,}"
)
SECRET_NAMES = re.compile(r"(^|/)(x509up_u?\d*|\.netrc|\.pypirc|\.git-credentials|\.dockercfg)$")
SITE_CAS = Path("/usr/local/share/ca-certificates")
CHUNK = 1 << 20


def _site_ca_fingerprints() -> list[bytes]:
    """A distinctive line (base64 of the DER body) of each CA this host alone trusts."""
    lines = []
    for certificate in sorted(SITE_CAS.glob("*.crt")) if SITE_CAS.is_dir() else ():
        body = [
            line
            for line in certificate.read_bytes().splitlines()
            if line and not line.startswith(b"-----")
        ]
        if len(body) > 4:
            lines.append(body[len(body) // 2])
    return lines


def _layer_files(
    image: docker.models.images.Image,
) -> Iterator[tuple[str, str, tarfile.TarFile, tarfile.TarInfo]]:
    """(layer, path, layer tar, member) for every regular file of every layer."""
    with tempfile.TemporaryFile() as saved:
        for chunk in image.save(chunk_size=CHUNK):
            saved.write(chunk)
        saved.seek(0)
        with tarfile.open(fileobj=saved) as outer:
            for member in outer.getmembers():
                if not member.isfile():
                    continue
                blob = outer.extractfile(member)
                assert blob is not None
                head = blob.read(262)
                blob.seek(0)
                if head[257:262] != b"ustar":  # not a layer (config JSON, manifest)
                    continue
                with tarfile.open(fileobj=blob, mode="r:") as layer:
                    for entry in layer:
                        if entry.isfile():
                            yield member.name, entry.name, layer, entry


def _scan(image: docker.models.images.Image, needles: list[bytes]) -> list[str]:
    """Findings, except keys that are byte for byte a file of an installed (locked) wheel:
    test fixtures the package publishes (tornado's test.key), listed with their hash in the
    wheel's RECORD."""
    found = []
    keys: dict[str, tuple[str, str]] = {}  # path -> (layer, sha256 as RECORD writes it)
    recorded: set[tuple[str, str]] = set()
    tail = max((len(n) for n in needles), default=0) + 256
    for layer_name, path, layer, entry in _layer_files(image):
        if SECRET_NAMES.search(path):
            found.append(f"{layer_name}: {path}: a credential file name")
        handle = layer.extractfile(entry)
        assert handle is not None
        digest = hashlib.sha256()
        previous = b""
        key = ca = False
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            window = previous + chunk
            key = key or bool(PRIVATE_KEY.search(window))
            ca = ca or any(needle in window for needle in needles)
            previous = window[-tail:]
            if path.endswith(".dist-info/RECORD"):
                recorded |= _record(path, window)
        if key:
            keys[path] = (
                layer_name,
                base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode(),
            )
        if ca:
            found.append(f"{layer_name}: {path}: this host's CA certificate")
    for path, (layer_name, sha) in sorted(keys.items()):
        if (path, sha) not in recorded:
            found.append(f"{layer_name}: {path}: a private key")
    return found


def _record(path: str, text: bytes) -> set[tuple[str, str]]:
    """(installed path, sha256) pairs of a wheel's RECORD, paths made relative to the root."""
    site = path.rsplit("/", 2)[0]
    pairs = set()
    for line in text.decode(errors="replace").splitlines():
        name, _, rest = line.partition(",")
        if rest.startswith("sha256="):
            pairs.add((f"{site}/{name}", rest.split(",")[0].removeprefix("sha256=")))
    return pairs


def test_no_secret_or_host_trust_in_any_layer(client: docker.DockerClient, cms_images) -> None:
    """Both images, every layer (they share the base and the core venv, not the rest)."""
    needles = _site_ca_fingerprints()
    for role in ("worker", "singleuser"):
        assert _scan(client.images.get(cms_images[role]["reference"]), needles) == [], role


def test_no_host_paths_or_secrets_in_labels_history_and_manifests(
    client: docker.DockerClient, cms_images
) -> None:
    host_paths = {str(ROOT), os.environ.get("HOME", "/root") + "/", "/work/"}
    for role in ("worker", "singleuser"):
        image = client.images.get(cms_images[role]["reference"])
        texts = {
            "labels": json.dumps(image.labels),
            "history": json.dumps([step.get("CreatedBy", "") for step in image.history()]),
            "manifest": (Path(cms_images[role]["manifest"]) / "python.json").read_text(),
        }
        for what, text in texts.items():
            for path in host_paths:
                assert path not in text, (role, what, path)
            if what == "manifest":
                continue  # package names (asttokens) are no secrets
            lowered = text.lower()
            for word in ("proxy=", "token=", "password", "x509up", "ssl_cert_file", "pip_cert"):
                assert word not in lowered, (role, what, word)
        assert MANIFEST_DIR.startswith("/opt/afenv")


def test_the_scanner_finds_what_it_looks_for(client: docker.DockerClient) -> None:
    """The premise: a key, a proxy and a site CA planted in a layer are all reported."""
    needles = _site_ca_fingerprints() or [b"SITE-CA-STAND-IN-LINE"]
    body = base64.b64encode(os.urandom(48))  # 64 characters, as a PEM line
    key = b"-----BEGIN RSA PRIVATE KEY-----\n" + body + b"\n-----END RSA PRIVATE KEY-----\n"
    files = {"key.pem": key, "x509up_u1000": b"proxy", "ca.crt": b"x\n" + needles[0] + b"\n"}
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        dockerfile = b"FROM scratch\nCOPY . /planted/\n"
        for name, data in {"Dockerfile": dockerfile, **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    image, _ = client.images.build(
        fileobj=context, custom_context=True, labels={"io.afenv.test-image": "true"}, rm=True
    )
    try:
        found = " | ".join(_scan(image, needles))
    finally:
        client.images.remove(image.id, force=True)
    assert "planted/key.pem: a private key" in found
    assert "planted/x509up_u1000: a credential file name" in found
    assert "planted/ca.crt: this host's CA certificate" in found


def test_no_key_or_proxy_in_the_build_contexts(client: docker.DockerClient, cms_images) -> None:
    """What afenv sends the engine, written as the build writes it: no private key and no
    credential file name in any file of either context (wheels included)."""
    from afenv.build.base import find_base
    from afenv.build.context import inline_entry, write_tar
    from afenv.build.plan import make_plan
    from afenv.build.wheelhouse import Wheelhouse
    from afenv.engine import Engine
    from afenv.lock import load_locks
    from afenv.pipeline import cache_dir
    from afenv.spec import load_project

    project = load_project(ROOT)
    experiment = project.experiment("cms")
    locks = load_locks(project, experiment)
    base = find_base(Engine(client), project.facility.debian, locks.mirror)
    assert base is not None
    plan = make_plan(
        project, experiment, locks, base, Wheelhouse(cache_dir(os.environ) / "wheels").path
    )
    assert [image.reference for image in plan.images] == [
        cms_images[role]["reference"] for role in ("worker", "singleuser")
    ]
    found, files = [], 0
    for image in plan.images:
        with tempfile.TemporaryFile() as context:
            write_tar([inline_entry("Dockerfile", image.dockerfile), *image.files], context)
            context.seek(0)
            with tarfile.open(fileobj=context) as tar:
                for member in tar:
                    handle = tar.extractfile(member)
                    if handle is None:
                        continue
                    files += 1
                    if SECRET_NAMES.search(member.name) or PRIVATE_KEY.search(handle.read()):
                        found.append(f"{image.name}: {member.name}")
    assert files > 100  # the runtime, templates, grid files and every wheel were read
    assert found == []
