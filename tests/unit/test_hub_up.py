"""`afenv hub up|passwd`'s pure parts: the users file, the login against it (JupyterHub's real
Authenticator class), the hub's configuration, and what bad input says before anything starts."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from traitlets.config import Config

from afenv.cli import main
from afenv.errors import ConfigError
from afenv.hub.auth import UsersFileAuthenticator
from afenv.hub.hubconfig import configure
from afenv.hub.settings import HubOffer, HubSettings, load_settings, save_settings
from afenv.hub.users import check_password, hash_password, parse_users, set_password

# One real bcrypt hash (cost 4: these tests check the format, not the cost).
_HASH = "$2b$04$" + "a" * 53


def _settings(tmp_path: Path) -> HubSettings:
    return HubSettings(
        run_id="0a1b2c3d",
        ip="127.0.0.1",
        port=8000,
        hub_ip="172.18.0.1",
        hub_port=40001,
        proxy_api_port=40002,
        proxy_command="/usr/bin/configurable-http-proxy",
        network="afenv-hub-0a1b2c3d",
        state_dir=str(tmp_path),
        users_file=str(tmp_path / "users"),
        admins=("alice",),
        offers=(
            HubOffer(experiment="cms", title="CMS", singleuser="afenv/cms-singleuser:1",
                     worker="afenv/cms-worker:2"),
            HubOffer(experiment="fcc", title="FCC", singleuser="afenv/fcc-singleuser:3",
                     worker="afenv/fcc-worker:4"),
        ),
        workers=2,
        pid=1234,
    )  # fmt: skip


def test_users_file_lines_comments_and_names() -> None:
    text = f"# the facility's users\n\nalice:{_HASH}\nbob-2:{_HASH}\n"
    assert parse_users(text, source="users") == {"alice": _HASH, "bob-2": _HASH}


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("alice", r"users: line 1: is not NAME:HASH"),
        (f"Alice:{_HASH}", r"users: line 1: user 'Alice' is not lower-case"),
        (f"a;rm -rf:{_HASH}", r"user 'a;rm -rf' is not"),
        ("alice:$apr1$abc$def", r"alice's password is not a bcrypt hash"),
        ("alice:secret", r"alice's password is not a bcrypt hash"),
        (f"alice:{_HASH}\nalice:{_HASH}", r"line 2: user alice is listed twice"),
    ],
)
def test_a_bad_users_file_is_refused_with_its_line(line: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_users(line, source="users")


def test_passwords_are_bcrypt_and_checked(tmp_path: Path) -> None:
    users_file = tmp_path / "users"
    assert set_password(users_file, "alice", "correct horse") is True
    assert users_file.stat().st_mode & 0o777 == 0o600
    users = parse_users(users_file.read_text(), source="users")
    assert users["alice"].startswith("$2b$12$")
    assert check_password(users, "alice", "correct horse")
    assert not check_password(users, "alice", "correct horsE")
    assert not check_password(users, "mallory", "correct horse")
    # htpasswd -B writes $2y$: the same algorithm, accepted.
    assert check_password({"alice": "$2y$" + users["alice"][4:]}, "alice", "correct horse")
    assert set_password(users_file, "alice", "battery staple") is False  # changed, not added
    users = parse_users(users_file.read_text(), source="users")
    assert check_password(users, "alice", "battery staple")
    assert not check_password(users, "alice", "correct horse")


def test_weak_or_cut_passwords_are_refused() -> None:
    with pytest.raises(ConfigError, match="shorter than 8"):
        hash_password("short")
    with pytest.raises(ConfigError, match="longer than 72 bytes"):
        hash_password("é" * 40)


def test_the_authenticator_reads_the_file_at_every_login(tmp_path: Path) -> None:
    users_file = tmp_path / "users"
    set_password(users_file, "alice", "correct horse")
    auth = UsersFileAuthenticator(users_file=str(users_file))

    def login(name: str, password: str) -> str | None:
        result: str | None = asyncio.run(
            auth.authenticate(None, {"username": name, "password": password})
        )
        return result

    assert login("alice", "correct horse") == "alice"
    assert login("alice", "wrong password") is None
    assert login("bob", "correct horse") is None
    assert auth.check_allowed("alice")
    set_password(users_file, "bob", "another secret")  # no restart: the next login sees bob
    assert login("bob", "another secret") == "bob"
    users_file.write_text("bob:not-a-hash\n")  # a broken file lets nobody in
    assert login("bob", "another secret") is None
    assert not auth.check_allowed("alice")


def test_settings_round_trip_and_configure_the_hub(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    save_settings(settings)
    assert load_settings(tmp_path / "hub.json") == settings
    (tmp_path / "afenv-token").write_text("secret-token\n")
    c = Config()
    configure(c, settings)
    assert c.JupyterHub.hub_ip == c.JupyterHub.hub_connect_ip == "172.18.0.1"
    assert c.JupyterHub.services == [{"name": "afenv", "api_token": "secret-token"}]
    assert c.PairSpawner.allowed_images == {
        "CMS": "afenv/cms-singleuser:1", "FCC": "afenv/fcc-singleuser:3"
    }  # fmt: skip
    assert c.PairSpawner.partners == {
        "afenv/cms-singleuser:1": "afenv/cms-worker:2",
        "afenv/fcc-singleuser:3": "afenv/fcc-worker:4",
    }
    assert c.PairSpawner.pull_policy == "never"
    assert c.PairSpawner.grid_volumes == {}  # no --cvmfs, no --ca-dir
    (tmp_path / "cvmfs").mkdir()
    configure(c, dataclasses.replace(settings, cvmfs=str(tmp_path / "cvmfs")))
    assert c.PairSpawner.grid_volumes == {str(tmp_path / "cvmfs"): {"bind": "/cvmfs", "mode": "ro"}}
    assert c.Authenticator.admin_users == {"alice"}


def test_damaged_settings_are_named(tmp_path: Path) -> None:
    (tmp_path / "hub.json").write_text('{"run_id": "x"}')
    with pytest.raises(ConfigError, match=r"hub.json: not afenv's hub settings"):
        load_settings(tmp_path / "hub.json")
    assert load_settings(tmp_path / "absent.json") is None


def _cli(project: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--project", str(project), *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--users", "{missing}"], r"missing: no such users file"),
        (["--users", "{users}", "--ip", "0.0.0.0;id"], r"--ip: '0.0.0.0;id' is not an IPv4"),
        (["--users", "{users}", "--port", "70000"], r"--port: 70000 is not a TCP port"),
        (["--users", "{users}", "--workers", "0"], r"--workers: 0 is not 1 to 16"),
        (["--users", "{users}", "--admin", "bob"], r"--admin: 'bob' is not in .*users"),
        (["--users", "{users}", "--cvmfs", "{missing}"], r"--cvmfs: .*missing is not a directory"),
    ],
)
def test_hub_up_refuses_bad_input_before_it_starts_anything(
    project_copy: Path, args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    users = project_copy / "users"
    set_password(users, "alice", "correct horse")
    filled = [a.format(users=users, missing=project_copy / "missing") for a in args]
    code, err = _cli(project_copy, "hub", "up", *filled, capsys=capsys)
    assert code == 2
    assert err.startswith("afenv: error: ")
    assert err.count("\n") == 1
    assert re.search(says, err), err
    assert not (project_copy / ".afenv" / "hub").exists()


def test_hub_passwd_takes_the_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    users = tmp_path / "users"
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["hub", "passwd", str(users), "alice"]) == 0
    assert "added alice" in capsys.readouterr().out
    assert check_password(parse_users(users.read_text(), source="u"), "alice", "correct horse")
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["hub", "passwd", str(users), "Bad;Name"]) == 2
    assert "NAME: 'Bad;Name' is not lower-case" in capsys.readouterr().err


def test_the_cli_needs_no_hub_extra() -> None:
    """afenv without its hub extra (a facility's CI installs only afenv): every command but
    `hub up` works, so the CLI imports neither JupyterHub nor DockerSpawner."""
    blocked = "import sys\nfor name in ('jupyterhub', 'dockerspawner', 'bcrypt'):\n" + (
        "    sys.modules[name] = None  # importing it now raises ImportError\n"
        "import afenv.cli\nprint('imported')"
    )
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"
