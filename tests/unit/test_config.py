from __future__ import annotations

from pathlib import Path

import pytest

from afenv.cli import main
from afenv.errors import ConfigError
from afenv.spec import ROLES, load_project

ROOT = Path(__file__).resolve().parents[2]


def test_project_spec_parses_into_typed_objects() -> None:
    project = load_project(ROOT)
    facility = project.facility
    assert facility.debian.suite == "trixie"
    assert facility.python.version == "3.13"
    assert any(r.startswith("root") for r in facility.core)
    assert {"dask", "distributed", "msgpack", "lz4", "cloudpickle", "toolz"} <= set(facility.core)
    assert set(ROLES) == set(facility.roles)
    assert {"jupyterlab", "jupyterhub", "dask-labextension"} <= set(facility.roles["singleuser"])
    assert set(project.experiments) == {"atlas", "cms", "fcc"}
    cms = project.experiment("cms")
    assert set(cms.pip) == {"correctionlib"}
    assert {"coffea", "uproot", "awkward", "hist", "mplhep"} <= set(project.facility.core)
    assert "cms" in cms.vos


def test_unknown_experiment_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown experiment 'lhcb'.*atlas, cms, fcc"):
        load_project(ROOT).experiment("lhcb")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "images/cms/experiment.toml",
            "[packages]",
            "[packages]\npipp = []",
            r"experiment\.toml: packages\.pipp: unknown key; allowed here: pip, apt",
        ),
        (
            "images/cms/experiment.toml",
            '"correctionlib"',
            '"correctionlib>>1"',
            r"packages\.pip: 'correctionlib>>1' is not a valid requirement",
        ),
        (
            "images/cms/experiment.toml",
            '"correctionlib"',
            '"correctionlib", "CorrectionLib"',
            r"packages\.pip: 'CorrectionLib' repeats 'correctionlib'",
        ),
        (
            "images/cms/experiment.toml",
            'name = "cms"',
            'name = "cmss"',
            r"experiment\.name: is 'cmss' but the folder is 'cms'",
        ),
        (
            "images/cms/experiment.toml",
            '"correctionlib"',
            '"correctionlib", "numpy"',
            r"'numpy' is already in facility\.toml; remove it here",
        ),
        (
            "images/cms/experiment.toml",
            "apt = []",
            'apt = ["g++=14"]',
            r"packages\.apt: 'g\+\+=14' is not a Debian package name",
        ),
        (
            "images/cms/experiment.toml",
            "events = 200000",
            "events = -3",
            r"benchmark\.events: must be an integer from 1000 to",
        ),
        (
            "envs/facility.toml",
            'version = "3.13"',
            'version = "3.10"',
            r"python\.version: Debian trixie ships python3 3\.13, not 3\.10",
        ),
        (
            "envs/facility.toml",
            'suite = "trixie"',
            'suite = "woody"',
            r"debian\.suite: 'woody' is not supported",
        ),
        ("envs/facility.toml", "[core]", "[core\n", r"facility\.toml: not valid TOML"),
        (
            "envs/facility.toml",
            'packages = ["uv"]',
            "packages = []",
            r"build\.packages: must name uv",
        ),
        (
            "envs/facility.toml",
            "[roles.worker]\n",
            '[roles.worker]\ndebian = ["pandoc"]\n',
            r"roles\.worker\.debian: a Debian package every image needs belongs in \[debian\]",
        ),
    ],
)
def test_bad_spec_names_file_field_and_fix(
    project_copy: Path, file: str, old: str, new: str, message: str
) -> None:
    _edit(project_copy / file, old, new)
    with pytest.raises(ConfigError, match=message):
        load_project(project_copy)


def test_cli_reports_bad_spec_in_one_line_with_exit_2(
    project_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(project_copy / "images/cms/experiment.toml", "[packages]", "[packages]\npipp = []")
    code = main(["--project", str(project_copy), "lock", "--check"], env={})
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("afenv: error: ")
    assert "packages.pipp" in lines[0]


def test_cli_missing_project_says_where_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project", str(tmp_path), "list"], env={}) == 2
    assert "envs/facility.toml: file not found" in capsys.readouterr().err
