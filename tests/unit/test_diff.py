"""`afenv diff`: Debian's version order (held to dpkg's own), the comparison of two locks, and
what the command prints and refuses."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path

import pytest

from afenv.cli import main
from afenv.diff import Contents, compare, debian_compare
from afenv.lock.files import parse_requirements, render_requirements

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = [
    "1.0", "1.0-1", "1.0-2", "1:0.9", "1.0~rc1", "1.0+b1", "2.36-9+deb12u14", "2.36-9+deb12u4",
    "2.36-9", "1.2.3a", "1.2.3", "1.02", "1.10", "1.9", "0.9~", "0.9", "1.0.0", "3.0.17-1~deb12u3",
]  # fmt: skip


def _dpkg(a: str, b: str) -> int:
    for relation, value in (("lt", -1), ("gt", 1)):
        if subprocess.run(["dpkg", "--compare-versions", a, relation, b]).returncode == 0:
            return value
    return 0


def test_debian_versions_sort_as_dpkg_sorts_them() -> None:
    for a, b in itertools.product(VERSIONS, VERSIONS):
        ours = debian_compare(a, b)
        assert (ours > 0) - (ours < 0) == _dpkg(a, b), (a, b)


def _lock(tmp_path: Path, name: str, changes: dict[str, str | None]) -> Path:
    """The cms singleuser lock with some versions changed (None: the package removed)."""
    pins = dict(parse_requirements((ROOT / "images/cms/lock/singleuser.txt").read_text()).pins)
    for package, version in changes.items():
        if version is None:
            pins.pop(package, None)
        else:
            pins[package] = (version, "0" * 64)
    path = tmp_path / name
    path.write_text(render_requirements(pins, header=["test lock"]))
    return path


def test_two_locks_compare_with_dasks_packages_first(tmp_path: Path) -> None:
    old = _lock(tmp_path, "old.txt", {"numpy": "1.0.0", "zzz-new": None})
    new = _lock(tmp_path, "new.txt", {"tornado": "1.0", "zzz-new": "1.0", "jupyterlab": None})
    pins = parse_requirements((ROOT / "images/cms/lock/singleuser.txt").read_text()).pins
    a = Contents(
        "old", {n: v for n, (v, _) in parse_requirements(old.read_text()).pins.items()}, {}
    )
    b = Contents(
        "new", {n: v for n, (v, _) in parse_requirements(new.read_text()).pins.items()}, {}
    )
    changes = [(c.name, c.kind, c.dask) for c in compare(a, b)]
    assert changes == [
        ("tornado", "downgraded", True),  # distributed's order: tornado before numpy
        ("numpy", "upgraded", True),
        ("jupyterlab", "removed", False),
        ("zzz-new", "added", False),
    ]
    assert pins["numpy"][0] != "1.0.0"


def test_debian_pins_compare_by_debians_order() -> None:
    a = Contents("a", {}, {"libc6": "2.36-9+deb12u4", "openssl": "3.0.17-1", "gone": "1"})
    b = Contents("b", {}, {"libc6": "2.36-9+deb12u14", "openssl": "1:3.0.0", "new": "2"})
    assert [(c.name, c.kind) for c in compare(a, b)] == [
        ("gone", "removed"), ("libc6", "upgraded"), ("new", "added"), ("openssl", "upgraded"),
    ]  # fmt: skip


def test_the_command_on_two_lock_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _lock(tmp_path, "old.txt", {"dask": "2020.1.0"})
    new = ROOT / "images/cms/lock/singleuser.txt"
    assert main(["diff", str(old), str(new), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["upgraded"] == 1
    (change,) = data["changes"]
    assert change["name"] == "dask"
    assert change["dask"] is True
    assert main(["diff", str(new), str(new)]) == 0
    assert capsys.readouterr().out.strip() == "no change"


@pytest.mark.parametrize(
    ("argument", "says"),
    [
        ("{tmp}/absent/lock.txt", r"absent/lock.txt: no such lock file"),
        ("{tmp}/junk.txt", r"junk.txt: neither a Python lock .* nor Debian pins"),
    ],
)
def test_bad_arguments_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argument: str, says: str
) -> None:
    (tmp_path / "junk.txt").write_text("this is not a lock\n")
    code = main(["diff", argument.format(tmp=tmp_path), str(ROOT / "images/cms/lock/worker.txt")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert re.search(says, err), err
