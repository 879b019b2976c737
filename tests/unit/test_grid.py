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


def test_fqans_are_read_from_the_voms_extension():
    # A certificate whose VOMS extension (1.3.6.1.4.1.8005.100.100.5) holds two FQANs, written
    # with openssl's arbitrary-extension syntax.
    fqans = b"/cms/Role=NULL/Capability=NULL", b"/cms/dcms/Role=NULL/Capability=NULL"
    assert x509._FQAN.findall(b"\x04\x1e" + fqans[0] + b"\x04\x23" + fqans[1]) == list(fqans)


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
    assert grid.grid_environment(image, cvmfs=tmp_path / "absent") == image
    mounted = grid.grid_environment(image, cvmfs=cvmfs)
    assert mounted["X509_CERT_DIR"] == str(cvmfs / "certificates")
    assert mounted["X509_VOMS_DIR"] == str(cvmfs / "vomsdir")
    assert mounted["X509_VOMSES"] == str(cvmfs / "vomses")
    mine = grid.grid_environment({"X509_CERT_DIR": "/mine"}, cvmfs=cvmfs)
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
