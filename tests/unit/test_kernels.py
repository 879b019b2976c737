"""The experiment's CVMFS kernels (``[kernels.NAME]``): from the spec into the notebook image's
``/etc/afenv/kernels.json``, and the start-up helper that offers only those whose stack is
there. The kernel running for real is an image test (tests/images/test_kernels.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from afenv.build import make_plan
from afenv.build.base import BaseImage
from afenv.lock import load_locks
from afenv.spec import load_project
from afenv_runtime import kernels

ROOT = Path(__file__).resolve().parents[2]
KEY4HEP = {
    "name": "key4hep",
    "display_name": "Key4hep (CVMFS sw.hsf.org)",
    "setup": "/cvmfs/sw.hsf.org/key4hep/setup.sh",
}


def _context_file(experiment: str, role: str, path: str) -> bytes:
    project = load_project(ROOT)
    spec = project.experiments[experiment]
    base = BaseImage(reference="afenv/base:test", image_id="sha256:" + "0" * 64, origin="local")
    plan = make_plan(
        project, spec, load_locks(project, spec), base, lambda w: Path("/nonexistent") / w.filename
    )
    (image,) = [image for image in plan.images if image.role == role]
    (entry,) = [entry for entry in image.files if entry.path == path]
    assert entry.data is not None
    return entry.data


def test_the_spec_reaches_the_notebook_image_only() -> None:
    assert json.loads(_context_file("fcc", "singleuser", "afenv/kernels.json")) == [KEY4HEP]
    assert json.loads(_context_file("cms", "singleuser", "afenv/kernels.json")) == []


def test_only_offers_whose_setup_exists_are_made(tmp_path: Path) -> None:
    other = KEY4HEP | {"name": "other", "setup": "/cvmfs/x.org/setup.sh"}
    exists = {KEY4HEP["setup"]}.__contains__
    assert kernels.available([KEY4HEP, other], exists) == [KEY4HEP]
    (spec_file,) = kernels.write_kernelspecs([KEY4HEP], tmp_path)
    assert spec_file == tmp_path / "kernels" / "key4hep" / "kernel.json"
    spec = json.loads(spec_file.read_text())
    assert spec["display_name"] == KEY4HEP["display_name"]
    assert spec["env"] == {"AFENV_KERNEL_SETUP": KEY4HEP["setup"]}
    assert spec["argv"][-1] == "{connection_file}"


def test_the_kernel_sources_the_setup_without_arguments_and_runs_its_python3(
    tmp_path: Path,
) -> None:
    """The launch line for real (bash): the setup script sees no positional arguments (Key4hep's
    parses them), its PATH's python3 runs, and the connection file reaches ipykernel."""
    stack = tmp_path / "stack"
    (stack / "bin").mkdir(parents=True)
    setup = stack / "setup.sh"
    setup.write_text(f'echo "setup args: $#"\nexport PATH="{stack}/bin:$PATH"\n')
    python3 = stack / "bin" / "python3"
    python3.write_text('#!/bin/sh\necho "python3 $*"\n')
    python3.chmod(0o755)
    spec = kernels.kernelspec(KEY4HEP | {"setup": str(setup)})
    argv = [part.replace("{connection_file}", "/tmp/kernel-1.json") for part in spec["argv"]]
    result = subprocess.run(
        argv, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **spec["env"]},
        timeout=30, check=True,
    )  # fmt: skip
    assert result.stdout == "python3 -m ipykernel_launcher -f /tmp/kernel-1.json\n"
    assert result.stderr == "setup args: 0\n"  # the setup's chatter goes to the log


def test_the_helper_prints_the_folder_only_when_it_offers_a_kernel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = tmp_path / "setup.sh"
    config = tmp_path / "kernels.json"
    config.write_text(json.dumps([KEY4HEP | {"setup": str(setup)}]))
    assert kernels.main(config) == 0
    assert capsys.readouterr() == ("", "")  # no stack: nothing offered, nothing said
    setup.write_text("")
    assert kernels.main(config) == 0
    out, err = capsys.readouterr()
    folder = Path(out.strip())
    assert json.loads((folder / "kernels" / "key4hep" / "kernel.json").read_text())["env"] == {
        "AFENV_KERNEL_SETUP": str(setup)
    }
    assert folder.stat().st_mode & 0o777 == 0o700  # private to the uid
    assert err == f"afenv: offering the 'Key4hep (CVMFS sw.hsf.org)' kernel ({setup} found)\n"
    shutil.rmtree(folder)
    assert kernels.main(tmp_path / "absent.json") == 0  # an image without the file
