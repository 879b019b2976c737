"""What every image pair must satisfy, checked inside the running containers (testinfra).

The one copy of these checks: `afenv validate` runs them against its cluster, and afenv's own
image tests run them against the freshly built pair.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import testinfra
from packaging.utils import canonicalize_name

from afenv.benchmark import cling_errors
from afenv_runtime import daskdefaults
from conftest import run  # type: ignore[import-not-found]  # pytest puts this folder on sys.path

RDF_CHECK = (
    "import warnings; warnings.filterwarnings('ignore', message='.*alpha stage.*');"
    "import ROOT, dask, distributed;"
    "df = ROOT.RDataFrame(100).Define('y', 'std::pow(rdfentry_, 2) * 1.0');"
    "print(int(df.Filter('y > 100').Count().GetValue()), ROOT.gROOT.GetVersion())"
)


def test_user(host: testinfra.host.Host, role: str) -> None:
    uid = int(run(host, "id -u").stdout)
    assert uid != 0, "images run as non-root"
    assert run(host, "sh -c 'echo $HOME'").stdout.strip() == "/home/jovyan"
    if role == "singleuser":
        assert run(host, "id -un").stdout.strip() == "jovyan"
        assert uid == 1000


def test_entrypoint(image: dict[str, Any], role: str) -> None:
    config = image["config"]
    assert "tini" in " ".join(config.get("Entrypoint") or []), "tini is PID 1"
    assert config.get("User") not in {None, "", "0", "root"}, "the image's user is not root"
    if role == "worker":
        assert (config.get("Cmd") or [""])[0] == "dask"


def test_jupyterhub_singleuser(host: testinfra.host.Host, role: str) -> None:
    if role != "singleuser":
        pytest.skip("notebook image only")
    result = run(host, "jupyterhub-singleuser --version")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip()[:1].isdigit()
    lab = run(host, "jupyter labextension list")
    assert "dask-labextension" in lab.stdout + lab.stderr


def test_manifest_equals_lock(
    host: testinfra.host.Host, image: dict[str, Any], context: dict[str, Any]
) -> None:
    if not context["afenv_built"]:
        pytest.skip("pair given by image names: no afenv lock to compare with")
    manifest = json.loads(host.file("/opt/afenv/manifest/python.json").content_string)
    assert {e["name"]: (e["version"], e["sha256"]) for e in manifest} == {
        name: tuple(pin) for name, pin in image["lock"].items()
    }
    installed: dict[str, str] = {
        canonicalize_name(name): info["version"]
        for name, info in host.pip.get_packages(pip_path="/opt/afenv/venv/bin/pip").items()
    }
    installed.pop("pip", None)  # Debian's venv brings pip; it is not in the lock
    assert installed == {e["name"]: e["version"] for e in manifest}


def test_grid_layout_and_tools(host: testinfra.host.Host, context: dict[str, Any]) -> None:
    for path in ["/etc/grid-security/certificates", "/etc/grid-security/vomsdir", "/etc/vomses"]:
        assert host.file(path).is_directory, path
    for repository in context["cvmfs"]:
        assert host.file(f"/cvmfs/{repository}").is_directory, repository
    for vo in context.get("vos", []):
        assert host.file(f"/etc/vomses/{vo}").is_file, vo
        lsc = run(host, f"sh -c 'ls /etc/grid-security/vomsdir/{vo}/*.lsc'")
        assert lsc.rc == 0, f"no LSC file for {vo}"
    assert run(host, "voms-proxy-info --version").rc == 0
    assert run(host, "openssl version").rc == 0


# Draws a histogram on a canvas and saves it in every format users save plots in; prints
# "<format> <size> <first 16 bytes in hex>" per file. (Single quotes only: run() wraps it.)
CANVAS_CHECK = (
    "import warnings, os, tempfile; warnings.filterwarnings('ignore', message='.*alpha stage.*');"
    "import ROOT; ROOT.gROOT.SetBatch(True);"
    "d = tempfile.mkdtemp(prefix='afenv-graphics-');"
    "h = ROOT.TH1D('h', 'mass', 62, 1.7, 2.05); h.FillRandom('gaus', 1000);"
    "c = ROOT.TCanvas('c', 'c', 400, 300); h.Draw();"
    "p = lambda f: os.path.join(d, 'c.' + f); formats = ('png', 'jpg', 'gif', 'pdf', 'svg');"
    "[c.SaveAs(p(f)) for f in formats];"
    "[print(f, os.path.getsize(p(f)) if os.path.exists(p(f)) else 0,"
    " open(p(f), 'rb').read(16).hex() if os.path.exists(p(f)) else '-') for f in formats]"
)
MAGIC = {"png": "89504e47", "jpg": "ffd8ff", "gif": "47494638", "pdf": "25504446"}


def test_canvas_saves_every_format(host: testinfra.host.Host) -> None:
    """Headless plots: PNG, JPG and GIF go through TASImage, which needs the X11 client
    libraries; without them ROOT prints an error and writes nothing, with no exception."""
    result = run(host, f'python -c "{CANVAS_CHECK}"')
    assert result.rc == 0, result.stderr
    assert cling_errors(result.stderr) == [], result.stderr
    assert "Error in <" not in result.stderr, result.stderr
    assert "cannot open shared object" not in result.stderr, result.stderr
    saved = {
        fmt: (int(size), head)
        for fmt, size, head in map(str.split, result.stdout.splitlines()[-5:])
    }
    for fmt, (size, head) in saved.items():
        assert size > 0, f"{fmt}: nothing written"
        if fmt == "svg":
            assert "3c" in head[:2], f"svg: starts with {head}"  # '<' of <?xml or <svg
        else:
            assert head.startswith(MAGIC[fmt]), f"{fmt}: starts with {head}"


def test_root_jit_define(host: testinfra.host.Host) -> None:
    result = run(host, f'python -c "{RDF_CHECK}"')
    assert result.rc == 0, result.stderr
    count, version = result.stdout.split()
    assert count == "89"  # n² > 100 for n = 11…99
    assert version.startswith("6.")
    assert cling_errors(result.stderr) == [], "cling reported errors (missing headers or c++?)"


def test_dask_here_uses_afenvs_settings(host: testinfra.host.Host, context: dict[str, Any]) -> None:
    """A scheduler or worker started in either image reads /etc/dask/afenv-cluster.yaml."""
    if not context["afenv_built"]:
        pytest.skip("pair given by image names: afenv's settings are not expected")
    keys = sorted(daskdefaults.SETTINGS)
    code = "import json, dask, distributed;"
    code += f"print(json.dumps([dask.config.get(k) for k in {keys}]))"
    result = run(host, f'python -c "{code}"')
    assert result.rc == 0, result.stderr
    assert json.loads(result.stdout) == [daskdefaults.SETTINGS[k] for k in keys]


def test_no_world_writable_directories_outside_tmp(host: testinfra.host.Host) -> None:
    found = run(
        host,
        "find / -xdev -type d -perm -0002 -not -path /tmp -not -path /var/tmp "
        "-not -path '/proc/*' -not -path '/sys/*' -not -path '/dev/*' -print",
    )
    assert found.stdout.split() == []


def test_no_caches_or_build_leftovers(host: testinfra.host.Host) -> None:
    leftovers = run(
        host,
        "sh -c 'ls -d /root/.cache/pip /home/jovyan/.cache/pip /tmp/wheels* /tmp/*.txt "
        "/opt/afenv/overlay 2>/dev/null; ls /var/lib/apt/lists 2>/dev/null | grep -v -e lock "
        '-e partial -e auxfiles; find / -xdev -name "*.whl" '
        '-not -path "/usr/share/python-wheels/*" '
        '-not -path "/proc/*" 2>/dev/null\'',
    )
    assert leftovers.stdout.split() == []
