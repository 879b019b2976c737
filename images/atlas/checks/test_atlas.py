"""ATLAS's own image checks (run by `afenv validate atlas` after afenv's, with its fixtures;
reported as ``image.atlas.<test>[<role>]``): the ATLAS plot style draws, and pyhf fits."""

from __future__ import annotations

import shlex

import testinfra

# atlas-mpl-style's ATLAS label on a headless figure, saved as PNG.
STYLE = """
import matplotlib; matplotlib.use("Agg")
import atlas_mpl_style as ampl, matplotlib.pyplot as plt
ampl.use_atlas_style()
figure, axes = plt.subplots()
axes.plot([0, 1], [0, 1])
ampl.draw_atlas_label(0.05, 0.95, ax=axes, status="int", simulation=True)
figure.savefig("/tmp/atlas-style.png")
print(open("/tmp/atlas-style.png", "rb").read(4).hex())
"""
# A one-bin counting experiment: the CLs of mu = 1 is known to lie well inside (0, 1).
FIT = """
import pyhf
model = pyhf.simplemodels.uncorrelated_background(signal=[5.0], bkg=[50.0], bkg_uncertainty=[7.0])
cls = float(pyhf.infer.hypotest(1.0, [52.0] + model.config.auxdata, model))
print(f"{cls:.3f}")
"""


def _python(host: testinfra.host.Host, script: str) -> str:
    result = host.run(f"timeout 180 python -c {shlex.quote(script)}")
    assert result.rc == 0, result.stderr[-2000:]
    return str(result.stdout)


def test_atlas_style_labels_a_plot(host: testinfra.host.Host) -> None:
    assert _python(host, STYLE).split()[-1] == "89504e47"  # PNG


def test_pyhf_hypotest_runs(host: testinfra.host.Host) -> None:
    cls = float(_python(host, FIT).split()[-1])
    assert 0.0 < cls < 1.0
