"""The proxy checks and the grid environment, without a cluster (openssl makes the proxies)."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest

from afenv.testing import credentials
from afenv_runtime import grid, x509


@pytest.fixture(scope="module")
def creds(tmp_path_factory) -> credentials.Credentials:
    return credentials.make(tmp_path_factory.mktemp("grid"))


def test_proxy_facts_are_read_from_the_certificate(creds):
    info = grid.check_proxy(creds.proxy)
    assert info.subject.startswith(credentials.USER_DN + "/CN=")
    assert dt.timedelta(hours=11, minutes=58) < info.time_left <= dt.timedelta(hours=12)
    assert info.fqans == ()
    assert "no VOMS attributes" in info.summary()


def test_not_yet_valid_and_expired_are_one_line(creds):
    info = grid.check_proxy(creds.proxy)
    with pytest.raises(grid.ProxyError, match=r"not valid before .* check this machine's clock"):
        grid.check_proxy(creds.proxy, now=info.not_after - dt.timedelta(days=3))
    with pytest.raises(grid.ProxyError, match=r"expired at .* voms-proxy-init"):
        grid.check_proxy(creds.proxy, now=info.not_after)


def test_garbage_is_refused_without_quoting_it(tmp_path):
    secret = (
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----\n"
    )
    path = tmp_path / "x509up"
    path.write_text(secret)
    with pytest.raises(grid.ProxyError) as raised:
        grid.check_proxy(path)
    assert "bm90IGEg" not in str(raised.value)
    assert str(path) in str(raised.value)


def test_unreadable_proxy_names_the_file(tmp_path):
    path = tmp_path / "x509up"
    path.mkdir()  # unreadable as a file even for root
    with pytest.raises(grid.ProxyError, match=r"cannot read X509 proxy .*x509up: Is a directory"):
        grid.check_proxy(path)


def test_find_proxy_follows_the_voms_tools(monkeypatch, tmp_path):
    monkeypatch.delenv("X509_USER_PROXY", raising=False)
    assert str(grid.find_proxy()) == f"/tmp/x509up_u{os.getuid()}"
    monkeypatch.setenv("X509_USER_PROXY", str(tmp_path / "p"))
    assert grid.find_proxy() == tmp_path / "p"
    assert grid.find_proxy(tmp_path / "q") == tmp_path / "q"


def test_fqans_are_whole_der_values_not_a_byte_scan():
    # As in a real AC: octet strings inside sequences, each followed by another element whose
    # tag byte ("0", a SEQUENCE) would extend a raw-byte match.
    fqans = b"/cms/Role=NULL/Capability=NULL", b"/cms/dcms/Role=NULL/Capability=NULL"

    def tlv(tag: int, value: bytes) -> bytes:
        return bytes([tag, len(value)]) + value

    values = tlv(0x30, tlv(0x04, fqans[0]) + tlv(0x30, b"") + tlv(0x04, fqans[1]))
    authority = tlv(0x04, b"cms://voms-cms-auth.cern.ch:443")
    wrapped = tlv(0x04, tlv(0x30, authority + values + tlv(0x30, tlv(0x02, b"\x01"))))
    assert list(x509._fqans(wrapped)) == [f.decode() for f in fqans]
    assert list(x509._fqans(tlv(0x04, b"\x30\xff"))) == []  # not DER inside: nothing, no error


def test_voms_extension_is_reported(tmp_path, creds):
    import subprocess

    ext = tmp_path / "voms.cnf"
    payload = b"/cms/Role=NULL/Capability=NULL"
    der = ":".join(f"{byte:02x}" for byte in bytes([0x04, len(payload)]) + payload)
    ext.write_text(f"1.3.6.1.4.1.8005.100.100.5=DER:{der}\n")
    key, csr, cert = tmp_path / "k", tmp_path / "r", tmp_path / "c"
    subject = credentials.USER_DN + "/CN=7"
    request = [
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key,
        "-out",
        csr,
        "-subj",
        subject,
    ]
    sign = ["x509", "-req", "-in", csr, "-CA", creds.user_cert, "-CAkey", creds.user_key]
    sign += ["-set_serial", "7", "-days", "1", "-extfile", ext, "-out", cert]
    for arguments in (request, sign):
        subprocess.run(["openssl", *map(str, arguments)], check=True, capture_output=True)
    facts = x509.read_first_certificate(cert.read_bytes())
    assert facts.fqans == ("/cms/Role=NULL/Capability=NULL",)


def test_cvmfs_wins_over_image_defaults_and_the_user_wins_over_both(tmp_path):
    cvmfs = tmp_path / "grid-security"
    for name in ("certificates", "vomsdir", "vomses"):
        (cvmfs / name).mkdir(parents=True)
    image = dict(grid.IMAGE_GRID)
    empty_ca = tmp_path / "empty-ca"  # as the images ship it (the host's may be filled)
    empty_ca.mkdir()
    assert grid.grid_environment(image, cvmfs=tmp_path / "absent", image_ca=empty_ca) == image
    mounted = grid.grid_environment(image, cvmfs=cvmfs, image_ca=empty_ca)
    assert mounted["X509_CERT_DIR"] == str(cvmfs / "certificates")
    assert mounted["X509_VOMS_DIR"] == str(cvmfs / "vomsdir")
    assert mounted["X509_VOMSES"] == str(cvmfs / "vomses")
    mine = grid.grid_environment({"X509_CERT_DIR": "/mine"}, cvmfs=cvmfs)
    assert mine["X509_CERT_DIR"] == "/mine"


def test_a_ca_directory_mounted_over_the_images_wins_over_cvmfs(tmp_path):
    """`--ca-dir` or a hub's hostPath fills the image's (empty) CA directory on purpose."""
    cvmfs = tmp_path / "grid-security"
    for name in ("certificates", "vomsdir", "vomses"):
        (cvmfs / name).mkdir(parents=True)
    image_ca = tmp_path / "certificates"
    image_ca.mkdir()
    image = dict(grid.IMAGE_GRID)
    empty = grid.grid_environment(image, cvmfs=cvmfs, image_ca=image_ca)
    assert empty["X509_CERT_DIR"] == str(cvmfs / "certificates")
    (image_ca / "5168735f.0").write_text("a CA")
    mounted = grid.grid_environment(image, cvmfs=cvmfs, image_ca=image_ca)
    assert mounted["X509_CERT_DIR"] == image["X509_CERT_DIR"]
    assert mounted["X509_VOMS_DIR"] == str(cvmfs / "vomsdir")  # only the CAs were given
    mine = grid.grid_environment({"X509_CERT_DIR": "/mine"}, cvmfs=cvmfs, image_ca=image_ca)
    assert mine["X509_CERT_DIR"] == "/mine"


def test_plugin_writes_0600_whatever_the_umask_and_restores_the_environment(creds, tmp_path):
    plugin = grid.ProxyPlugin(creds.proxy.read_bytes(), source=str(creds.proxy))
    assert "BEGIN" not in repr(plugin)
    assert str(creds.proxy) in repr(plugin)
    environ = {"X509_CERT_DIR": "/mine"}
    old = os.umask(0)
    try:
        path = plugin.install(tmp_path, environ)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert environ["X509_USER_PROXY"] == str(path)
    assert environ["X509_CERT_DIR"] == "/mine"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left
    plugin.uninstall(environ)
    assert not path.exists()
    assert environ == {"X509_CERT_DIR": "/mine"}


@pytest.fixture
def unbound(monkeypatch, tmp_path):
    """A process whose GSI binding is unknown, with the VOMS default path in tmp_path."""
    monkeypatch.setattr(grid, "_gsi_path", None)
    default = tmp_path / "x509up_u1000"
    monkeypatch.setattr(grid, "default_proxy", lambda: default)
    local = tmp_path / "worker"
    local.mkdir()
    return local, default


def test_a_worker_whose_gsi_looked_first_gets_the_proxy_where_it_looked(creds, unbound):
    local, default = unbound
    plugin = grid.ProxyPlugin(creds.proxy.read_bytes(), source="p")
    environ: dict[str, str] = {}
    target = plugin.install(local, environ, loaded=True)  # it tried root:// before the proxy
    assert environ["X509_USER_PROXY"] == str(target) == str(local / "x509up")
    for path in (target, default):
        assert path.read_bytes() == creds.proxy.read_bytes()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    plugin.uninstall(environ, loaded=True)
    assert not target.exists()
    assert not default.exists()
    renewed = grid.ProxyPlugin(creds.proxy.read_bytes() + b"\n", source="p")
    renewed.install(local, environ, loaded=True)
    assert default.read_bytes() == creds.proxy.read_bytes() + b"\n"


def test_gsi_that_loads_after_the_proxy_keeps_reading_the_local_file(creds, unbound):
    local, default = unbound
    first = grid.ProxyPlugin(creds.proxy.read_bytes(), source="p")
    environ: dict[str, str] = {}
    first.install(local, environ, loaded=False)
    assert not default.exists()
    first.uninstall(environ, loaded=True)  # a root:// read happened meanwhile: GSI took x509up
    second = grid.ProxyPlugin(creds.proxy.read_bytes(), source="p")
    second.install(local, environ, loaded=True)
    assert second.paths == [local / "x509up"]
    assert not default.exists()


def test_gsi_loaded_is_read_from_the_process_maps(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /opt/afenv/venv/lib/ROOT/lib/libXrdSecgsi-5.so\n")
    assert grid.gsi_loaded(maps)
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/libc.so.6\n")
    assert not grid.gsi_loaded(maps)
    assert not grid.gsi_loaded(tmp_path / "absent")


def test_start_environment_points_voms_tools_at_cvmfs_unless_the_user_chose(tmp_path):
    from afenv_runtime.entrypoint import start_environment

    cvmfs = tmp_path / "grid-security"
    (cvmfs / "vomses").mkdir(parents=True)
    image = {**grid.IMAGE_GRID, "VOMS_USERCONF": "/etc/vomses"}
    start_environment(image, cvmfs=cvmfs)
    assert image["X509_VOMSES"] == image["VOMS_USERCONF"] == str(cvmfs / "vomses")
    assert image["X509_CERT_DIR"] == "/etc/grid-security/certificates"  # not in this CVMFS
    mine = {"VOMS_USERCONF": "/home/me/vomses"}
    start_environment(mine, cvmfs=cvmfs)
    assert mine["VOMS_USERCONF"] == "/home/me/vomses"


def test_entrypoint_runs_the_command_or_says_why_not(tmp_path):
    import subprocess
    import sys

    entry = [sys.executable, "-m", "afenv_runtime.entrypoint"]
    shown = subprocess.run(
        [*entry, "sh", "-c", 'printf %s "$X509_VOMS_DIR"'], capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout in (grid.IMAGE_GRID["X509_VOMS_DIR"], str(grid.CVMFS_GRID / "vomsdir"))
    exit_code = subprocess.run([*entry, "sh", "-c", "exit 7"], capture_output=True)
    assert exit_code.returncode == 7  # exec'd: the command's status is the container's
    for arguments, message in (
        ([], "no command given"),
        ([str(tmp_path / "absent")], "cannot run"),
    ):
        failed = subprocess.run([*entry, *arguments], capture_output=True, text=True)
        assert failed.returncode == 1
        assert failed.stderr.startswith(f"afenv-entrypoint: error: {message}")
        assert len(failed.stderr.strip().splitlines()) == 1


def test_an_expired_proxy_for_validation_is_refused_before_any_container(creds):
    from afenv.errors import ConfigError
    from afenv.options import GridOptions

    with pytest.raises(ConfigError, match=r"^--proxy: X509 proxy .*x509up_expired expired at"):
        GridOptions(proxy=creds.expired_proxy)
    assert GridOptions(proxy=creds.proxy).proxy == creds.proxy
