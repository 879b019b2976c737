"""Where the grid tools find trust anchors and VO files, in every start path of every image.

``grid_environment`` is the one rule: a value the user set wins; otherwise a CA directory
mounted over the image's own (empty in the image: ``afenv validate --ca-dir``, a hub's
hostPath), since someone put it there on purpose; otherwise CVMFS's grid tree
(``/cvmfs/grid.cern.ch/etc/grid-security``) when it is mounted; otherwise the image's own
directories. The image's entry point (``afenv-entrypoint``) applies it before the notebook
server, ``dask worker``, ``dask scheduler`` or any other command starts, and the proxy plugin
applies it on each worker. No third-party import here: the entry point must start fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["CVMFS_GRID", "GRID_VARIABLES", "IMAGE_GRID", "grid_environment"]

CVMFS_GRID = Path("/cvmfs/grid.cern.ch/etc/grid-security")
# The image's own grid directories (Debian's packages and the experiment's grid/ files). The
# images carry these as ENV too, so `docker exec` shells get them; such a value is the image's,
# not the user's, and yields to CVMFS.
IMAGE_GRID = {
    "X509_CERT_DIR": "/etc/grid-security/certificates",
    "X509_VOMS_DIR": "/etc/grid-security/vomsdir",
    "X509_VOMSES": "/etc/vomses",
}
_IN_CVMFS = {
    "X509_CERT_DIR": "certificates",
    "X509_VOMS_DIR": "vomsdir",
    "X509_VOMSES": "vomses",
}
GRID_VARIABLES = tuple(IMAGE_GRID)


def grid_environment(
    environ: Mapping[str, str] | None = None,
    *,
    cvmfs: Path = CVMFS_GRID,
    image_ca: Path = Path(IMAGE_GRID["X509_CERT_DIR"]),
) -> dict[str, str]:
    """X509_CERT_DIR, X509_VOMS_DIR and X509_VOMSES for this machine."""
    current = os.environ if environ is None else environ
    result = {}
    for name, image_default in IMAGE_GRID.items():
        value = current.get(name)
        mounted = cvmfs / _IN_CVMFS[name]
        if value and value != image_default:
            result[name] = value
        elif name == "X509_CERT_DIR" and _holds_files(image_ca):
            result[name] = image_default  # a CA directory mounted there
        elif mounted.exists():
            result[name] = str(mounted)
        else:
            result[name] = image_default
    return result


def _holds_files(directory: Path) -> bool:
    # The images ship their CA directory empty (the experiment's grid/ has VO files only).
    try:
        return any(directory.iterdir())
    except OSError:
        return False
