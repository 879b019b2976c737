"""Extended binned RooFit of BestTriplet_mass: Gaussian D⁺ and Ds⁺ peaks on an exponential.

The fit range stops at the last bin edge below the 2.02 GeV triplet-mass cut, because the bins
above it are empty by construction and would bias the exponential. Yields refer to that range.
Gaussians rather than Crystal Balls: the resolution is Gaussian in our generator and the radiative
tail matters little at this precision; it keeps the plotted curve reproducible from
``report.json`` alone (see ``curve``).
"""

from __future__ import annotations

import math

import numpy as np

from afenv_bench import _root
from afenv_bench.errors import AnalysisError

__all__ = ["MASS_CUT_HIGH", "curve", "fit", "fit_range", "truth_check"]

MASS_CUT_HIGH = 2.02


def fit_range(bins: int, low: float, high: float) -> tuple[float, float, int]:
    """(low, high, number of bins) of the fit: whole bins up to the triplet-mass cut."""
    width = (high - low) / bins
    n = min(bins, math.floor((MASS_CUT_HIGH - low) / width + 1e-9))
    return low, low + n * width, n


def fit(counts: list[int], *, bins: int, low: float, high: float) -> dict:
    ROOT = _root.root()
    ROOT.RooMsgService.instance().setGlobalKillBelow(ROOT.RooFit.WARNING)
    fit_low, fit_high, n = fit_range(bins, low, high)
    total = float(sum(counts[:n]))
    if total < 20:
        raise AnalysisError(
            f"only {total:.0f} selected candidates in the fit range — run on more events"
        )
    histogram = ROOT.TH1D("afenv_fit_input", "", n, fit_low, fit_high)
    histogram.SetDirectory(ROOT.nullptr)
    for b, value in enumerate(counts[:n], start=1):
        histogram.SetBinContent(b, value)
        histogram.SetBinError(b, math.sqrt(value))
    mass = ROOT.RooRealVar("mass", "m(#mu#mu#pi) [GeV]", fit_low, fit_high)
    data = ROOT.RooDataHist("data", "", ROOT.RooArgList(mass), histogram)
    mean_ds = ROOT.RooRealVar("mean_ds", "", 1.968, 1.94, 2.00)
    sigma_ds = ROOT.RooRealVar("sigma_ds", "", 0.013, 0.004, 0.04)
    mean_dplus = ROOT.RooRealVar("mean_dplus", "", 1.870, 1.84, 1.90)
    sigma_dplus = ROOT.RooRealVar("sigma_dplus", "", 0.012, 0.004, 0.04)
    slope = ROOT.RooRealVar("slope", "", -1.0, -30.0, 30.0)
    ds = ROOT.RooGaussian("ds", "", mass, mean_ds, sigma_ds)
    dplus = ROOT.RooGaussian("dplus", "", mass, mean_dplus, sigma_dplus)
    background = ROOT.RooExponential("background", "", mass, slope)
    n_ds = ROOT.RooRealVar("n_ds", "", 0.5 * total, 0.0, 2.0 * total)
    n_dplus = ROOT.RooRealVar("n_dplus", "", 0.2 * total, 0.0, 2.0 * total)
    n_background = ROOT.RooRealVar("n_background", "", 0.3 * total, 0.0, 2.0 * total)
    model = ROOT.RooAddPdf(
        "model",
        "",
        ROOT.RooArgList(ds, dplus, background),
        ROOT.RooArgList(n_ds, n_dplus, n_background),
    )
    result = model.fitTo(data, Extended=True, Save=True, PrintLevel=-1, Verbose=False)
    status, cov_quality = int(result.status()), int(result.covQual())

    def value(variable) -> dict:
        return {"value": variable.getVal(), "error": variable.getError()}

    return {
        "model": "extended binned ML: Gaussian Ds+ + Gaussian D+ + exponential",
        "range": [fit_low, fit_high],
        "status": status,
        "cov_quality": cov_quality,
        "ok": status == 0 and cov_quality >= 2,
        "yields": {"ds": value(n_ds), "dplus": value(n_dplus), "background": value(n_background)},
        "parameters": {
            "mean_ds": value(mean_ds),
            "sigma_ds": value(sigma_ds),
            "mean_dplus": value(mean_dplus),
            "sigma_dplus": value(sigma_dplus),
            "slope": value(slope),
        },
    }


def truth_check(fit_result: dict, truth_counts: dict[str, list[int]], *, fit_bins: int) -> dict:
    """Pulls of the fitted yields against the true selected Ds⁺/D⁺ counts in the fit range."""
    check: dict = {"source": "gen_kind of the best candidate", "max_abs_pull": 3.0}
    ok = True
    for name in ("ds", "dplus"):
        true = int(sum(truth_counts[name][:fit_bins]))
        fitted = fit_result["yields"][name]
        pull = (fitted["value"] - true) / fitted["error"] if fitted["error"] > 0 else math.inf
        check[name] = {
            "true": true,
            "fitted": fitted["value"],
            "error": fitted["error"],
            "pull": pull,
        }
        ok = ok and abs(pull) < 3.0
    check["ok"] = ok
    return check


def curve(fit_result: dict, x: np.ndarray, bin_width: float) -> dict[str, np.ndarray]:
    """Expected counts per bin of each component at ``x``, from the fitted parameters alone."""
    low, high = fit_result["range"]
    p = {k: v["value"] for k, v in fit_result["parameters"].items()}
    y = {k: v["value"] for k, v in fit_result["yields"].items()}
    components = {
        "ds": y["ds"] * _gauss(x, p["mean_ds"], p["sigma_ds"], low, high),
        "dplus": y["dplus"] * _gauss(x, p["mean_dplus"], p["sigma_dplus"], low, high),
        "background": y["background"] * _exponential(x, p["slope"], low, high),
    }
    components = {k: v * bin_width for k, v in components.items()}
    components["total"] = sum(components.values())
    return components


def _gauss(x, mean, sigma, low, high):
    norm = 0.5 * (
        math.erf((high - mean) / (sigma * math.sqrt(2)))
        - math.erf((low - mean) / (sigma * math.sqrt(2)))
    )
    return np.exp(-0.5 * ((x - mean) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi) * norm)


def _exponential(x, slope, low, high):
    if abs(slope) < 1e-12:
        return np.full_like(x, 1.0 / (high - low))
    norm = (math.exp(slope * high) - math.exp(slope * low)) / slope
    return np.exp(slope * x) / norm
