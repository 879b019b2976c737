"""CMS's own image checks: `afenv validate cms` runs them after afenv's, in the same running
containers and with afenv's fixtures (``host``: testinfra in the container, ``role``: worker
or singleuser). Reported as ``image.cms.<test>[<role>]``."""

from __future__ import annotations

import shlex

import testinfra

# A scale factor binned in pt, built and evaluated as a CMS analysis does with correctionlib.
CORRECTION = """
import correctionlib.schemav2 as cs
correction = cs.Correction(
    name="muon_sf", version=1, output=cs.Variable(name="weight", type="real"),
    inputs=[cs.Variable(name="pt", type="real")],
    data=cs.Binning(nodetype="binning", input="pt", edges=[0, 50, 1e9], content=[1.1, 0.9],
                    flow="clamp"),
)
evaluator = correction.to_evaluator()
print(evaluator.evaluate(30.0), evaluator.evaluate(70.0))
"""
NANOEVENTS = "from coffea.nanoevents import NanoAODSchema, NanoEventsFactory; print('ok')"


def _python(host: testinfra.host.Host, script: str) -> str:
    result = host.run(f"timeout 180 python -c {shlex.quote(script)}")
    assert result.rc == 0, result.stderr[-2000:]
    return str(result.stdout)


def test_correctionlib_evaluates_a_binned_correction(host: testinfra.host.Host) -> None:
    assert _python(host, CORRECTION).split() == ["1.1", "0.9"]


def test_coffea_nanoevents_imports(host: testinfra.host.Host) -> None:
    assert _python(host, NANOEVENTS).split()[-1] == "ok"
