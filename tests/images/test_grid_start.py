"""The grid environment in the images' start paths, and the VOMS tools against it.

Every container starts through ``afenv-entrypoint`` (after tini), whatever its command: the
grid directories come from a mounted ``/cvmfs/grid.cern.ch`` when there is one, from the image
otherwise, and a value the user passes wins. ``voms-proxy-init`` in the singleuser image then
finds the experiment's VOMS servers (vomses) and trusts the CA directory it is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from afenv.testing import credentials

from .conftest import ROOT, run

pytestmark = pytest.mark.docker

CVMFS = "/cvmfs/grid.cern.ch/etc/grid-security"
SHOW = 'printf "%s|%s|%s|%s" "$X509_CERT_DIR" "$X509_VOMS_DIR" "$X509_VOMSES" "$VOMS_USERCONF"'


@pytest.fixture(scope="module")
def grid_tree(tmp_path_factory) -> tuple[credentials.Credentials, Path]:
    directory = tmp_path_factory.mktemp("grid-start")
    creds = credentials.make(directory / "creds")
    for path in [directory / "creds", *(directory / "creds").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the container user copies the key
    cvmfs = credentials.fake_cvmfs(directory / "cvmfs", creds, ROOT / "images/cms/grid")
    return creds, cvmfs


@pytest.mark.parametrize("role", ["worker", "singleuser"])
def test_every_command_starts_with_the_grid_environment(
    client: docker.DockerClient, cms_images: dict[str, Any], grid_tree, role: str
) -> None:
    _, cvmfs = grid_tree
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
