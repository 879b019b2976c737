"""FCC's own image checks (run by `afenv validate fcc` after afenv's, with its fixtures;
reported as ``image.fcc.<test>[<role>]``): four-vectors and particle data as FCCAnalyses-style
code uses them, and the Key4hep kernel's offer in the notebook image."""

from __future__ import annotations

import json
import shlex

import pytest
import testinfra

# The Ds+ from the particle table, and an invariant mass with vector (a Z at rest: 2 x 45.6).
PHYSICS = """
import vector
from particle import Particle
ds = Particle.from_pdgid(431)
z = vector.obj(px=0, py=0, pz=45.6, E=45.6) + vector.obj(px=0, py=0, pz=-45.6, E=45.6)
print(ds.name, round(ds.mass), round(z.mass, 1))
"""


def _python(host: testinfra.host.Host, script: str) -> str:
    result = host.run(f"timeout 180 python -c {shlex.quote(script)}")
    assert result.rc == 0, result.stderr[-2000:]
    return str(result.stdout)


def test_vector_and_particle(host: testinfra.host.Host) -> None:
    assert _python(host, PHYSICS).split() == ["D(s)+", "1968", "91.2"]


def test_key4hep_kernel_offered_only_with_cvmfs(host: testinfra.host.Host, role: str) -> None:
    """The image knows the offer; with no Key4hep on CVMFS (this cluster has none), the
    start-up helper offers nothing, so users see the image's own kernels only."""
    if role != "singleuser":
        pytest.skip("kernels are the notebook image's")
    offers = json.loads(host.file("/etc/afenv/kernels.json").content_string)
    assert [offer["name"] for offer in offers] == ["key4hep"]
    if host.file(offers[0]["setup"]).exists:
        pytest.skip("validated with Key4hep on /cvmfs: the offer is tested by afenv's tests")
    result = host.run("timeout 60 python -m afenv_runtime.kernels")
    assert (result.rc, result.stdout, result.stderr) == (0, "", "")
