"""The bad-input corpus: what a hostile or careless contributor can put into a facility
repository or onto the command line, each case run through the real CLI in-process.

Every case asserts the documented exit code, exactly one `afenv: error:` line, the file or field
named, and that no shell payload ran (a marker file stays absent). Free-text fields that accept
the payload by design (titles, descriptions, environment values) are rendered into the real
Dockerfiles instead and must stay one literal value there: the same instructions as with a
benign value, and no unescaped ``$``.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from afenv.build import make_plan
from afenv.build.base import BaseImage
from afenv.build.render import Templates
from afenv.cli import main
from afenv.lock import load_locks
from afenv.lock.drift import file_digest
from afenv.spec import load_project

ROOT = Path(__file__).resolve().parents[2]
MARKER = "/tmp/afenv-corpus-marker"

# What a hostile contributor tries in every string field.
PAYLOADS: dict[str, str] = {
    "quote-break": f'" ; touch {MARKER} ; echo "',
    "newline-instruction": f"x\nRUN touch {MARKER}",
    "command-substitution": f"$(touch {MARKER})",
    "backticks": f"`touch {MARKER}`",
    "path-escape": "../../etc",
    "nul-byte": "a\x00b",
    "space": "a b",
    "empty": "",
    "huge": "x" * 5000,
    "single-quote-break": f"'; touch {MARKER}; '",
}
# Fields whose grammar is "one printable line": some payloads are fine values there.
FREE_TEXT = {"experiment.title", "experiment.description", "env.CMS_PATH"}


@dataclass(frozen=True)
class Case:
    id: str
    edit: Callable[[Path], None]  # changes the facility repository
    argv: tuple[str, ...]
    exit_code: int
    named: str  # must appear in the error line


def _dump(data: dict[str, Any]) -> str:
    """TOML for our spec shapes: tables of scalars, string lists and sub-tables (JSON strings
    and arrays are valid TOML)."""
    lines: list[str] = []

    def table(prefix: str, values: dict[str, Any]) -> None:
        scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in scalars.items())
        for key, value in values.items():
            if isinstance(value, dict):
                table(f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key), value)

    table("", data)
    return "\n".join(lines) + "\n"


def _set(file: str, path: tuple[str, ...], value: object) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        spec = root / file
        data = tomllib.loads(spec.read_text())
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        spec.write_text(_dump(data))

    return edit


def _rename_env(payload: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        spec = root / "images/cms/experiment.toml"
        data = tomllib.loads(spec.read_text())
        data["env"] = {payload: "x"}
        spec.write_text(_dump(data))

    return edit


FACILITY = "envs/facility.toml"
EXPERIMENT = "images/cms/experiment.toml"
STRING_FIELDS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    # field -> (file, key path, is a list)
    "facility.name": (FACILITY, ("facility", "name"), False),
    "facility.index-url": (FACILITY, ("facility", "index-url"), False),
    "facility.exclude-newer": (FACILITY, ("facility", "exclude-newer"), False),
    "debian.suite": (FACILITY, ("debian", "suite"), False),
    "debian.base-image": (FACILITY, ("debian", "base-image"), False),
    "debian.mirror": (FACILITY, ("debian", "mirror"), False),
    "debian.packages": (FACILITY, ("debian", "packages"), True),
    "python.version": (FACILITY, ("python", "version"), False),
    "python.platform": (FACILITY, ("python", "platform"), False),
    "core.packages": (FACILITY, ("core", "packages"), True),
    "build.packages": (FACILITY, ("build", "packages"), True),
    "roles.singleuser.packages": (FACILITY, ("roles", "singleuser", "packages"), True),
    "roles.singleuser.debian": (FACILITY, ("roles", "singleuser", "debian"), True),
    "experiment.name": (EXPERIMENT, ("experiment", "name"), False),
    "experiment.title": (EXPERIMENT, ("experiment", "title"), False),
    "experiment.description": (EXPERIMENT, ("experiment", "description"), False),
    "experiment.vos": (EXPERIMENT, ("experiment", "vos"), True),
    "experiment.cvmfs": (EXPERIMENT, ("experiment", "cvmfs"), True),
    "packages.pip": (EXPERIMENT, ("packages", "pip"), True),
    "packages.apt": (EXPERIMENT, ("packages", "apt"), True),
    "env.CMS_PATH": (EXPERIMENT, ("env", "CMS_PATH"), False),
    "resources.mem-guarantee": (EXPERIMENT, ("resources", "mem-guarantee"), False),
    "resources.mem-limit": (EXPERIMENT, ("resources", "mem-limit"), False),
}


def _accepts(field: str, payload: str) -> bool:
    """Whether the field's grammar takes the payload (free text only, one printable line)."""
    if field not in FREE_TEXT:
        return False
    if not payload:
        return field.startswith("env.")  # an empty environment value is a value
    limit = 1000 if field.startswith("env.") else 200
    return len(payload) <= limit and not re.search(r"[\x00-\x1f\x7f]", payload)


def _spec_cases() -> list[Case]:
    cases = []
    for field, (file, path, is_list) in STRING_FIELDS.items():
        for name, payload in PAYLOADS.items():
            if _accepts(field, payload):
                continue  # see test_free_text_stays_one_literal_value
            value: object = [payload] if is_list else payload
            cases.append(
                Case(f"{field}={name}", _set(file, path, value), ("lock", "--check"), 2, field)
            )
    for name, payload in PAYLOADS.items():
        cases.append(Case(f"env-name={name}", _rename_env(payload), ("lock", "--check"), 2, "env."))
    for field, value in [
        ("benchmark.events", -5),
        ("benchmark.events", 10**15),
        ("benchmark.events", "many"),
        ("benchmark.events", True),
        ("benchmark.files", 0),
        ("benchmark.seed", -1),
        ("resources.cpu-limit", 0),
        ("resources.cpu-limit", 1000),
        ("resources.cpu-guarantee", "1"),
        ("resources.cpu-guarantee", True),
        ("experiment.vos", "cms"),
        ("packages.pip", ["numpy>=1"]),  # re-pins a facility package
        ("packages.pip", ["coffea @ https://example.org/coffea.whl"]),
        ("packages.pip", ["a" * 300]),
    ]:
        table, key = field.split(".")
        cases.append(
            Case(
                f"{field}={str(value)[:20]}",
                _set(EXPERIMENT, (table, key), value),
                ("lock", "--check"),
                2,
                field,
            )
        )
    return cases


def _write(file: str, data: bytes) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / file
        if path.is_dir():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return edit


def _replace_by_dir(file: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        (root / file).unlink()
        (root / file).mkdir()

    return edit


def _symlink(file: str, target: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / file
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        path.symlink_to(target)

    return edit


def _file_cases() -> list[Case]:
    cases = []
    for file, named in ((FACILITY, "facility.toml"), (EXPERIMENT, "experiment.toml")):
        for name, data in [
            ("binary", bytes(range(256)) * 4),
            ("deep", b"a = " + b"[" * 100_000 + b"]" * 100_000 + b"\n"),
            ("empty", b""),
            ("latin-1", "title = 'caf\xe9'\n".encode("latin-1")),
            ("huge", b"# " + b"x" * (2 << 20) + b"\n"),
            ("bad-syntax", b"[experiment\n"),
        ]:
            cases.append(Case(f"{named}:{name}", _write(file, data), ("lock", "--check"), 2, named))
        cases.append(
            Case(f"{named}:dir", _replace_by_dir(file), ("lock", "--check"), 2, "experiment")
            if file == EXPERIMENT
            else Case(f"{named}:dir", _replace_by_dir(file), ("lock", "--check"), 2, named)
        )
        cases.append(
            Case(f"{named}:symlink", _symlink(file, "/etc/hostname"), ("lock", "--check"), 2, named)
        )
    for name, link, target in [
        ("grid-file-absolute", "images/cms/grid/vomses/cms", "/etc/passwd"),
        ("grid-file-relative", "images/cms/grid/vomses/cms", "../../../../../../etc/hostname"),
        ("grid-folder", "images/cms/grid", "/etc/ssl"),
        ("lsc-file", "images/cms/grid/grid-security/vomsdir/cms/voms-cms-auth.cern.ch.lsc", "/x"),
    ]:
        cases.append(Case(f"symlink:{name}", _symlink(link, target), ("lock", "--check"), 2, link))
    # Credentials put where the image's /etc would receive them are refused at load.
    key = b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
    for name, file, data in [
        ("proxy", "images/cms/grid/x509up_u0", b"proxy"),
        ("hostkey", "images/cms/grid/grid-security/hostkey.pem", key),
        ("ca-dir", "images/cms/grid/grid-security/certificates/1234abcd.0", b"x"),
        ("key-in-lsc", "images/cms/grid/grid-security/vomsdir/cms/voms-cms-auth.cern.ch.lsc", key),
        ("key-in-vomses", "images/cms/grid/vomses/cms", key),
    ]:
        named = file.removeprefix("images/cms/")
        cases.append(Case(f"grid-secret:{name}", _write(file, data), ("lock", "--check"), 2, named))
    for name in ("bad name.ipynb", "-x.ipynb", "$(touch x).ipynb"):
        edit = _write(f"images/cms/notebooks/{name}", b"{}")
        cases.append(Case(f"notebook:{name}", edit, ("lock", "--check"), 2, "notebook's name"))
    for name in ("check.py", "test_Bad.py", "test_$(touch x).py", "test_a.txt"):
        edit = _write(f"images/cms/checks/{name}", b"def test_x():\n    pass\n")
        cases.append(Case(f"check:{name}", edit, ("lock", "--check"), 2, "checks/ holds plain"))
    cases.append(
        Case(
            "symlink:check-file",
            _symlink("images/cms/checks/test_x.py", "/etc/hostname"),
            ("lock", "--check"),
            2,
            "test_x.py",
        )
    )
    kernel = {"display-name": "Stack", "setup": "/cvmfs/cms.cern.ch/stack/setup.sh"}
    for name, offers, named in [
        ("name", {"Bad Name": kernel}, "kernels.'Bad Name'"),
        ("image-kernel", {"python3": kernel}, "a kernel the image has already"),
        ("outside-cvmfs", {"k": kernel | {"setup": "/etc/profile"}}, "kernels.k.setup"),
        ("dotdot", {"k": kernel | {"setup": "/cvmfs/cms.cern.ch/../x.sh"}}, "kernels.k.setup"),
        ("quote", {"k": kernel | {"setup": "/cvmfs/cms.cern.ch/a';x.sh"}}, "kernels.k.setup"),
        ("repo", {"k": kernel | {"setup": "/cvmfs/sw.hsf.org/setup.sh"}}, "not in experiment"),
        ("field", {"k": kernel | {"argv": "sh"}}, "kernels.k.argv"),
        ("no-display", {"k": {"setup": kernel["setup"]}}, "kernels.k.display-name"),
        ("not-table", {"k": "x"}, "kernels.k"),
    ]:
        edit = _set(EXPERIMENT, ("kernels",), offers)
        cases.append(Case(f"kernels:{name}", edit, ("lock", "--check"), 2, named))
    cases.append(
        Case(
            "symlink:experiment-folder",
            _symlink("images/cms", "/etc"),
            ("lock", "--check"),
            2,
            "images/cms",
        )
    )
    return cases


def _relock(root: Path, file: str) -> None:
    """Re-digest one lock file in inputs.json, as a contributor who knows afenv would."""
    inputs = root / "envs/lock/inputs.json"
    data = json.loads(inputs.read_text())
    data["files"][file] = file_digest((root / file).read_text())
    inputs.write_text(json.dumps(data))


def _lock_edit(file: str, change: Callable[[str], str], relock: bool) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / file
        path.write_text(change(path.read_text()))
        if relock:
            _relock(root, file)

    return edit


def _lock_cases() -> list[Case]:
    inputs = "envs/lock/inputs.json"
    pylock = "envs/lock/facility.pylock.toml"
    validate = ("validate", "cms")
    cases = [
        Case(f"inputs.json:{n}", _write(inputs, d), validate, 3, "inputs.json")
        for n, d in [
            ("garbled", b"{not json"),
            ("list", b"[]"),
            ("wrong-types", b'{"inputs": [], "files": 3}'),
            ("binary", b"\xff\xfe\x00"),
        ]
    ]
    cases.append(Case("inputs.json:dir", _replace_by_dir(inputs), validate, 3, "inputs.json"))
    cases.append(
        Case(
            "inputs.json:names-a-host-file",
            _lock_edit(
                inputs,
                lambda t: t.replace('"files": {', '"files": {"../../../usr/bin/ls": "sha256:0", '),
                relock=False,
            ),
            validate,
            3,
            "../../../usr/bin/ls",
        )
    )
    for name, file, change in [
        ("pylock-without-hashes", pylock, lambda t: re.sub(r"hashes = \{[^}]*\}", "", t)),
        ("pylock-not-toml", pylock, lambda t: t + "\n[[[\n"),
        ("pylock-packages-not-list", pylock, lambda _: 'packages = "x"\n'),
        (
            "image-pin-not-in-facility-lock",
            "images/cms/lock/worker.txt",
            lambda t: re.sub(
                r"(numpy==\S+ \\\n\s+--hash=sha256:)[0-9a-f]{64}", r"\g<1>" + "0" * 64, t
            ),
        ),
        ("debian-pin-injection", "images/cms/lock/debian.txt", lambda t: t + "vim=1;touch /x\n"),
        ("debian-pin-newline", "envs/lock/debian.txt", lambda t: t + "tini=$(reboot)\n"),
        (
            "notebook-debian-pin-injection",
            "envs/lock/debian-notebook.txt",
            lambda t: t + "pandoc=1 `id`\n",
        ),
        ("core-stray-line", "envs/lock/core.txt", lambda t: t + "--index-url http://evil\n"),
    ]:
        for relock in (False, True):
            cases.append(
                Case(
                    f"{name}{'-redigested' if relock else ''}",
                    _lock_edit(file, change, relock),
                    validate,
                    3,
                    Path(file).name,
                )
            )
    cases.append(
        Case("lock-file-missing", lambda r: (r / pylock).unlink(), validate, 3, "facility.pylock")
    )
    state = ".afenv/state.json"

    def state_edit(data: bytes | None) -> Callable[[Path], None]:
        def edit(root: Path) -> None:
            (root / ".afenv").mkdir(exist_ok=True)
            if data is None:
                (root / state).mkdir()
            else:
                (root / state).write_bytes(data)

        return edit

    for name, data in [
        ("empty", b""),
        ("garbled", b"{"),
        ("list", b"[]"),
        ("images-list", b'{"images": []}'),
        ("promoted-number", b'{"promoted": {"cms": 3}}'),
        ("binary", b"\x00\xff"),
        ("dir", None),
    ]:
        cases.append(Case(f"state:{name}", state_edit(data), ("list",), 2, "state.json"))
    return cases


def _cli_cases() -> list[Case]:
    nothing = lambda _root: None  # noqa: E731
    argvs: list[tuple[tuple[str, ...], str]] = [
        (("build", "cms", "--workers", "-1"), "--workers: -1"),
        (("build", "cms", "--workers", "0"), "--workers: 0"),
        (("build", "cms", "--workers", "100000"), "--workers: 100000"),
        (("build", "cms", "--workers", "two"), "--workers"),
        (("validate", "cms", "--registration-timeout", "-5"), "--registration-timeout"),
        (("validate", "cms", "--lanes", "0"), "--lanes: 0 is out of range"),
        (("build", "cms", "--lanes", "9"), "--lanes: 9 is out of range"),
        (("validate", "--worker-image", "UPPER:bad", "--singleuser-image", "x"), "UPPER:bad"),
        (("validate", "--worker-image", "a@sha256:zz", "--singleuser-image", "x"), "a@sha256:zz"),
        (("validate", "--worker-image", "a;rm -rf /", "--singleuser-image", "x"), "--worker-image"),
        (("validate", "--worker-image", "x:1"), "--singleuser-image"),
        (("validate",), "name an experiment"),
        (("bench", "ds", "cms", "--events", "-5"), "--events: -5"),
        (("bench", "ds", "cms", "--events", "0"), "--events: 0"),
        (("bench", "ds", "cms", "--events", str(10**20)), "--events"),
        (("bench", "ds", "cms", "--files", "0"), "--files"),
        (("bench", "ds", "cms", "--seed", "-1"), "--seed"),
        (("bench", "ds", "cms", "--modes", "local,gpu"), "--modes"),
        (("bench", "ds", "cms", "--modes", ","), "--modes"),
        (("bench", "xx", "cms"), "invalid choice"),
        (("build",), "experiment"),
        (("build", "lhcb"), "unknown experiment 'lhcb'"),
        (("build", "cms;touch /tmp/x"), "unknown experiment"),
        (("init", "/tmp/afenv-corpus-init", "--experiment", "Bad Name"), "--experiment"),
        (("frobnicate",), "invalid choice"),
        (("--json", "list"), "unrecognized arguments: --json"),
        (("validate", "cms", "--cvmfs", "/nonexistent-afenv"), "--cvmfs: /nonexistent-afenv is"),
        (("bench", "ds", "cms", "--ca-dir", "/etc/hostname"), "--ca-dir: /etc/hostname is not"),
        (("build", "cms", "--proxy", "/nonexistent/x509up"), "--proxy: no X509 proxy at"),
        (("validate", "cms", "--notebook", "/nonexistent/a.ipynb"), "a.ipynb: not a notebook file"),
        (("validate", "cms", "--notebook", "/tmp/a b.ipynb"), "the notebook's name must be"),
        (("validate", "cms", "--notebook", "/tmp/x;rm.ipynb"), "the notebook's name must be"),
        (("push", "cms"), "--registry"),
        (("push", "cms", "--registry", "Registry.Example.org"), "--registry: 'Registry.Exam"),
        (("push", "cms", "--registry", "reg.example.org:99999"), "port 99999 is not"),
        (("push", "cms", "--registry", "facility"), "read as a Docker Hub namespace"),
        (("push", "cms", "--registry", "reg.example.org/a;touch /x"), "--registry"),
        (("push", "cms", "--registry", "reg.example.org/UP"), "--registry"),
        (("push", "lhcb", "--registry", "reg.example.org"), "unknown experiment 'lhcb'"),
        (("matrix", "cms", "lhcb"), "unknown experiment 'lhcb'"),
        (("matrix", "--workers", "0"), "--workers: 0"),
        (("matrix", "--out", "/etc/hostname"), "--out: /etc/hostname is a file"),
        (("hub",), "required: COMMAND"),
        (("hub", "profiles", "--spawner", "helm"), "--spawner: invalid choice: 'helm'"),
        (("hub", "profiles", "--namespace", "Hub_NS"), "--namespace: 'Hub_NS' is not"),
        (("hub", "profiles", "--namespace", "a;touch /x"), "--namespace:"),
        (("hub", "profiles", "--cvmfs", "nfs"), "--cvmfs: 'nfs' is not"),
        (("hub", "profiles", "--cvmfs-hostpath", "cvmfs"), "--cvmfs-hostpath: 'cvmfs' is not"),
        (("hub", "profiles", "--cvmfs-hostpath", "/a:/b"), "--cvmfs-hostpath:"),
        (("hub", "profiles", "--ca-dir", "/etc/$(id)"), "--ca-dir:"),
        (("hub", "profiles", "--service-account", "A"), "--service-account:"),
        (("hub", "profiles", "--api-server-cidr", "10.0.0.1/8"), "--api-server-cidr:"),
        (("hub", "profiles", "--default", "lhcb"), "unknown experiment 'lhcb'"),
        (("hub", "profiles", "--out", "/etc/hostname"), "--out: /etc/hostname is a file"),
        (("hub", "profiles", "--out", "/etc/hostname/hub"), "--out: /etc/hostname/hub cannot"),
        (("hub", "profiles", "--registry", "Registry.Example.org"), "--registry: 'Registry.Exa"),
        (("hub", "profiles", "--registry", "facility"), "read as a Docker Hub namespace"),
        (("hub", "profiles"), "no validated pair to offer"),
    ]
    cases = [Case(f"cli:{' '.join(argv)[:50]}", nothing, argv, 2, named) for argv, named in argvs]
    # A directory the engine's bind syntax would split (':'), and a proxy that is a directory.
    odd = "/tmp/afenv-corpus:cvmfs"
    cases.append(
        Case("cli:cvmfs-colon", lambda _r: Path(odd).mkdir(exist_ok=True), ("validate", "cms",
             "--cvmfs", odd), 2, "--cvmfs: /tmp/afenv-corpus:cvmfs must be an absolute path")
    )  # fmt: skip
    cases.append(
        Case("cli:proxy-dir", nothing, ("validate", "cms", "--proxy", "/tmp"), 2,
             "--proxy: cannot read X509 proxy /tmp")
    )  # fmt: skip
    return cases


CASES = _spec_cases() + _file_cases() + _lock_cases() + _cli_cases()


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 150
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_line_with_its_exit_code(
    case: Case, project_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = Path(MARKER)
    marker.unlink(missing_ok=True)
    case.edit(project_copy)
    # No Docker engine is reachable: every case must fail on the input, before the engine.
    env = {"DOCKER_HOST": "tcp://127.0.0.1:9", "HOME": str(project_copy)}
    code = main(["--project", str(project_copy), *case.argv], env=env)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == case.exit_code, err
    assert len(lines) == 1, err
    assert lines[0].startswith("afenv: error: "), err
    assert case.named in lines[0], lines[0]
    assert len(lines[0]) < 1500, "long values are shortened"
    assert not marker.exists(), "a payload ran"


def _instructions(dockerfile: str) -> list[str]:
    """The instruction keyword of every logical line (continuations joined, comments out)."""
    logical = re.sub(r"\\\n", " ", dockerfile)
    return [
        line.split()[0]
        for line in logical.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _plan_dockerfiles(root: Path) -> list[str]:
    project = load_project(root)
    experiment = project.experiment("cms")
    base = BaseImage(reference="afenv/debian:trixie-1", image_id="sha256:" + "1" * 64, origin="x")
    plan = make_plan(
        project,
        experiment,
        load_locks(project, experiment),
        base,
        lambda wheel: Path("/nonexistent") / wheel.filename,
    )
    return [image.dockerfile for image in plan.images]


FREE_CASES = [
    (field, name)
    for field in sorted(FREE_TEXT)
    for name, payload in PAYLOADS.items()
    if _accepts(field, payload)
]


@pytest.mark.parametrize(("field", "payload"), FREE_CASES)
def test_free_text_stays_one_literal_value(project_copy: Path, field: str, payload: str) -> None:
    before = _plan_dockerfiles(project_copy)
    file, path, _ = STRING_FIELDS[field]
    _set(file, path, PAYLOADS[payload])(project_copy)
    dockerfiles = _plan_dockerfiles(project_copy)
    assert [_instructions(d) for d in dockerfiles] == [_instructions(d) for d in before]
    for dockerfile, benign in zip(dockerfiles, before, strict=True):
        for line in set(dockerfile.splitlines()) - set(benign.splitlines()):
            # Where the value landed, Docker sees no substitution and no end of the string.
            if not line.lstrip().startswith("#"):
                # (Docker expands $ in ENV and LABEL words; backticks are literal there.)
                assert not re.search(r"(?<!\\)\$", line), line
                assert not re.search(r'(?<!\\)"\s*;', line), line


def _template_data(template: str, value: str) -> dict[str, Any]:
    """Template data with ``value`` in every slot a spec value can reach."""
    if template == "singleuser":
        return _template_data("worker", value) | {
            "role": "singleuser",
            "notebook_debian_pins": [value, "pandoc=1"],
        }
    return {
        "title": "T",
        "role": "worker",
        "afenv_version": "0",
        "base_image": "afenv/debian:trixie",
        "mirror": value,
        "suite": value,
        "python_version": "3.13",
        "debian_pins": [value, "a=1"],
        "experiment_debian_pins": [value],
        "experiment_packages": True,
        "cvmfs": [value, "c.d"],
        "experiment": value,
        "env": [["NAME", value]],
        "grid": True,
        "labels": [("io.afenv.x", value)],
    }


def _run_words(dockerfile: str) -> list[list[str]]:
    """Each RUN instruction as the shell would split it into words."""
    logical = re.sub(r"\\\n", " ", dockerfile)
    return [shlex.split(line[4:]) for line in logical.splitlines() if line.startswith("RUN ")]


@pytest.mark.parametrize(
    "payload",
    [p for p in PAYLOADS.values() if p and not re.search(r"[\x00-\x1f\x7f]", p)]
    + ["x; touch /tmp/afenv-corpus-marker; y", "a && reboot", "$HOME", "a|b"],
)
@pytest.mark.parametrize("template", ["worker", "singleuser"])
def test_templates_quote_even_what_the_grammar_would_refuse(payload: str, template: str) -> None:
    """Defence in depth: each role's template rendered with a hostile value in every slot, no
    spec check in between: each value stays one shell word and one Dockerfile string."""
    templates = Templates(None)
    name = f"{template}.Dockerfile.j2"
    benign = templates.render(name, _template_data(template, "benign"))
    hostile = templates.render(name, _template_data(template, payload))
    assert _instructions(hostile) == _instructions(benign)
    assert [len(words) for words in _run_words(hostile)] == [
        len(words) for words in _run_words(benign)
    ]


def test_every_string_field_of_the_spec_is_in_the_corpus() -> None:
    """A new spec field needs its grammar and its place here."""
    facility = tomllib.loads((ROOT / FACILITY).read_text())
    experiment = tomllib.loads((ROOT / EXPERIMENT).read_text())
    found = set()
    for prefix_data in (facility, experiment):
        for table, values in prefix_data.items():
            for key, value in values.items():
                if isinstance(value, str | list):
                    found.add(f"{table}.{key}")
    covered = set(STRING_FIELDS) | {"env.CMS_PATH"}
    assert found - covered == set(), found - covered
