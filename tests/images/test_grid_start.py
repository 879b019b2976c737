"""The grid environment in the images' start paths, and the VOMS tools against it.

Every container starts through ``afenv-entrypoint`` (after tini), whatever its command: the
grid directories come from a mounted ``/cvmfs/grid.cern.ch`` when there is one, from the image
otherwise, and a value the user passes wins. ``voms-proxy-init`` in the singleuser image then
finds the experiment's VOMS servers (vomses) and trusts the CA directory it is given.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import docker
import pytest

from afenv.testing import credentials

from .conftest import LABELS, ROOT, run

pytestmark = pytest.mark.docker

CVMFS = "/cvmfs/grid.cern.ch/etc/grid-security"
SHOW = 'printf "%s|%s|%s|%s" "$X509_CERT_DIR" "$X509_VOMS_DIR" "$X509_VOMSES" "$VOMS_USERCONF"'


@pytest.fixture(scope="module")
def grid_tree(tmp_path_factory) -> tuple[credentials.Credentials, Path]:
    directory = tmp_path_factory.mktemp("grid-start")
    creds = credentials.make(directory / "creds")
    credentials.readable(directory / "creds")  # the container user copies the key
    cvmfs = credentials.fake_cvmfs(directory / "cvmfs", creds, ROOT / "images/cms/grid")
    return creds, cvmfs


@pytest.mark.parametrize("role", ["worker", "singleuser"])
def test_every_command_starts_with_the_grid_environment(
    client: docker.DockerClient, cms_images: dict[str, Any], grid_tree, role: str
) -> None:
    creds, cvmfs = grid_tree
    image = cms_images[role]["reference"]
    own = run(client, image, ["sh", "-c", SHOW]).stdout
    assert (
        own == "/etc/grid-security/certificates|/etc/grid-security/vomsdir|/etc/vomses|/etc/vomses"
    )
    mounted = run(client, image, ["sh", "-c", SHOW], binds={str(cvmfs): "/cvmfs"}).stdout
    assert mounted == f"{CVMFS}/certificates|{CVMFS}/vomsdir|{CVMFS}/vomses|{CVMFS}/vomses"
    mine = run(
        client,
        image,
        ["sh", "-c", SHOW],
        binds={str(cvmfs): "/cvmfs"},
        environment={"X509_CERT_DIR": "/home/jovyan/ca", "VOMS_USERCONF": "/home/jovyan/v"},
    ).stdout
    assert mine == f"/home/jovyan/ca|{CVMFS}/vomsdir|{CVMFS}/vomses|/home/jovyan/v"
    # A CA directory mounted over the image's (empty) one, as --ca-dir does: it wins over CVMFS.
    given = run(
        client,
        image,
        ["sh", "-c", SHOW],
        binds={str(cvmfs): "/cvmfs", str(creds.ca_dir): "/etc/grid-security/certificates"},
    ).stdout
    assert given == f"/etc/grid-security/certificates|{CVMFS}/vomsdir|{CVMFS}/vomses|{CVMFS}/vomses"


VOMS = (
    "cp /creds/userkey.pem /tmp/key && chmod 0400 /tmp/key"
    " && voms-proxy-init --cert /creds/usercert.pem --key /tmp/key --out /tmp/plain >/dev/null"
    " && voms-proxy-info --file /tmp/plain --timeleft"
    " && echo --- && voms-proxy-init --voms cms --cert /creds/usercert.pem --key /tmp/key"
    " --out /tmp/cms 2>&1; echo --- && voms-proxy-init --voms lhcb --cert /creds/usercert.pem"
    " --key /tmp/key --out /tmp/lhcb 2>&1; true"
)


@pytest.mark.parametrize("cvmfs_mounted", [False, True], ids=["image-files", "cvmfs"])
def test_voms_proxy_init_uses_the_experiments_vo_files(
    client: docker.DockerClient, cms_images: dict[str, Any], grid_tree, cvmfs_mounted: bool
) -> None:
    """A plain proxy from the user's certificate (trusting the CA directory the start-up chose),
    and `--voms cms` going to CMS's VOMS server from the vomses file; this machine cannot reach
    it, so the AC request fails there, not on an unknown VO as `--voms lhcb` does."""
    creds, cvmfs = grid_tree
    binds = {str(creds.user_cert.parent): "/creds"}
    if cvmfs_mounted:
        binds[str(cvmfs)] = "/cvmfs"
    else:  # the image has no CA for the test user: give it one, where the image looks
        binds[str(creds.ca_dir)] = "/etc/grid-security/certificates"
    done = run(client, cms_images["singleuser"]["reference"], ["sh", "-c", VOMS], binds=binds)
    plain, cms, lhcb = done.stdout.split("---")
    assert done.exit_code == 0, done.stderr[-2000:]
    assert 11 * 3600 < int(plain.strip()) <= 12 * 3600
    assert "Contacting  voms-cms-auth.cern.ch:443 [/DC=ch/DC=cern/OU=computers/CN=cms-auth" in cms
    assert "None of the contacted servers for cms" in cms
    assert "VOMS Server for lhcb not known!" in lhcb


LSC = ROOT / "images/cms/grid/grid-security/vomsdir/cms/voms-cms-auth.cern.ch.lsc"

# Two proxies with a cms AC, one signed as the VOMS server the experiment's LSC file names and
# one by an impostor from the same CA; what the VOMS tools and afenv's own check make of them.
AC_CHECK = (
    "cp /creds/userkey.pem /tmp/key && cp /voms/vomskey.pem /tmp/vkey"
    " && cp /voms/impostorkey.pem /tmp/ikey && chmod 0400 /tmp/key /tmp/vkey /tmp/ikey"
    " && for who in voms impostor; do key=$([ $who = voms ] && echo vkey || echo ikey);"
    " voms-proxy-fake -q -rfc -cert /creds/usercert.pem -key /tmp/key"
    " -hostcert /voms/${who}cert.pem -hostkey /tmp/$key -voms cms"
    " -fqan /cms/Role=NULL/Capability=NULL -uri voms-cms-auth.cern.ch:443 -out /tmp/$who"
    " || exit 1; done"
    " && voms-proxy-info -all -file /tmp/voms 2>&1; echo ---; voms-proxy-info -all"
    " -file /tmp/impostor 2>&1; echo ---; python3 -c 'from afenv_runtime.proxy import"
    ' check_proxy; print(check_proxy("/tmp/voms").summary())\''
)


@pytest.fixture(scope="module")
def voms_tree(tmp_path_factory) -> tuple[credentials.Credentials, Path, Path]:
    """User credentials, a VOMS server double of the cms LSC file (its CA trusted next to the
    test CA), and a fake CVMFS with both CAs and the experiment's VO files."""
    directory = tmp_path_factory.mktemp("voms")
    creds = credentials.make(directory / "creds")
    server = credentials.voms_server(directory / "voms", LSC)
    credentials.trust(creds.ca_dir, server.ca_cert)
    cvmfs = credentials.fake_cvmfs(directory / "cvmfs", creds, ROOT / "images/cms/grid")
    credentials.readable(directory)
    return creds, server.cert.parent, cvmfs


@pytest.mark.parametrize("cvmfs_mounted", [False, True], ids=["image-files", "cvmfs"])
def test_voms_attributes_are_checked_against_the_experiments_lsc_files(
    client: docker.DockerClient, cms_images: dict[str, Any], voms_tree, cvmfs_mounted: bool
) -> None:
    """A cms AC verifies against the LSC file the experiment ships (in the image's vomsdir, or
    CVMFS's copy when mounted): the VOMS tools report its attribute with no warning, and afenv's
    proxy check reports the FQAN. An AC from a server the LSC does not name, though its CA is
    trusted, fails the signature check, so the LSC file is what decides."""
    creds, voms, cvmfs = voms_tree
    binds = {str(creds.user_cert.parent): "/creds", str(voms): "/voms"}
    if cvmfs_mounted:
        binds[str(cvmfs)] = "/cvmfs"
    else:
        binds[str(creds.ca_dir)] = "/etc/grid-security/certificates"
    done = run(client, cms_images["singleuser"]["reference"], ["sh", "-c", AC_CHECK], binds=binds)
    assert done.exit_code == 0, done.stdout[-2000:] + done.stderr[-2000:]
    genuine, impostor, summary = done.stdout.split("---")
    assert "attribute : /cms/Role=NULL/Capability=NULL" in genuine
    assert "Cannot verify AC signature" not in genuine, genuine
    assert "Cannot verify AC signature" in impostor
    assert summary.strip().endswith("left, /cms/Role=NULL/Capability=NULL"), summary


# In the client: the preload ships the proxy when a Client connects; report the workers' state.
_CONNECT = r"""
import json, os, stat, warnings
warnings.filterwarnings("ignore", message=".*alpha stage.*", category=UserWarning)
from distributed import Client

def seen():
    path = os.environ.get("X509_USER_PROXY")
    info = os.stat(path) if path and os.path.exists(path) else None
    ca = os.environ["X509_CERT_DIR"]
    return {"mode": info and stat.S_IMODE(info.st_mode), "uid": info and info.st_uid,
            "ca": sorted(os.listdir(ca)) if os.path.isdir(ca) else None}

client = Client("tcp://scheduler:8786", timeout=60)
client.wait_for_workers(2, timeout=180)
print(json.dumps(list(client.run(seen).values())))
"""


def test_ca_dir_and_proxy_options_reach_every_container(cms_cluster, grid_tree) -> None:
    """What `--ca-dir` and `--proxy` do: the host CA directory in every container, the proxy
    private to the client's user where voms-proxy-init would leave it, and from there shipped
    to the workers by the preload when a Client connects."""
    import json

    from afenv.options import GridOptions

    creds, _ = grid_tree
    with cms_cluster(grid=GridOptions(ca_dir=creds.ca_dir, proxy=creds.proxy)) as cluster:
        mode = cluster.notebook.exec(["stat", "-c", "%a %u", "/tmp/x509up_u1000"], timeout=60)
        workers = cluster.notebook.exec(["python3", "-c", _CONNECT], timeout=300)
    assert mode.stdout.split() == ["600", "1000"], mode.stderr
    assert workers.exit_code == 0, workers.stderr[-2000:]
    states = json.loads(workers.stdout.strip().splitlines()[-1])
    assert len(states) == 2
    for state in states:
        assert (state["mode"], state["uid"]) == (0o600, 1000)
        assert state["ca"] == sorted(p.name for p in creds.ca_dir.iterdir())


# The environment of the process whose command line matches argv[1] (procps' pgrep), not tini
# (PID 1, which started before the entry point and names the command too) and not this shell.
_ENVIRON_OF = (
    'pid=$(pgrep -f "$1" | grep -vx -e 1 -e $$ | head -n 1) && [ -n "$pid" ]'
    ' && tr "\\0" "\\n" < /proc/$pid/environ | grep "^X509_CERT_DIR="'
)


@pytest.mark.parametrize(
    ("role", "command", "pattern"),
    [
        ("singleuser", None, "jupyter-lab"),  # the image's own start script
        ("worker", ["dask", "scheduler", "--port", "8786"], "dask scheduler"),
        ("worker", ["dask", "worker", "tcp://127.0.0.1:8786"], "dask worker"),  # retries on
    ],
    ids=["notebook-server", "dask-scheduler", "dask-worker"],
)
def test_long_running_start_paths_see_cvmfs(
    client: docker.DockerClient,
    cms_images: dict[str, Any],
    grid_tree,
    role: str,
    command: list[str] | None,
    pattern: str,
) -> None:
    """The processes a facility runs for hours started through the entry point too: their own
    environment (read from /proc) names the mounted CVMFS CA directory."""
    _, cvmfs = grid_tree
    started = client.containers.run(
        cms_images[role]["reference"],
        command,
        detach=True,
        labels=LABELS,
        volumes={str(cvmfs): {"bind": "/cvmfs", "mode": "ro"}},
    )
    try:
        deadline = time.monotonic() + 120
        while True:  # poll until the process exists (a condition, not a delay)
            found = started.exec_run(["sh", "-c", _ENVIRON_OF, "-", pattern])
            if found.exit_code == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    finally:
        started.remove(force=True)
    assert found.output.decode().strip() == f"X509_CERT_DIR={CVMFS}/certificates", found.output
