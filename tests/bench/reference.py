"""An independent implementation of the Ds selection with uproot and awkward, for cross-checks.

Written from the issue's definition, not from ds_selection.h, so the two can disagree.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import uproot

MUON_MASS = 0.10566


def select(path: str, tree: str = "Tree3Mu/ntuple") -> dict:
    """Cutflow (7 counts), BestTriplet_mass bin counts and (run, lumi, evt) of selected events."""
    a = uproot.open(path)[tree].arrays(library="ak")
    n_candidates = ak.num(a.Triplet2_Mass)

    hlt = _any_fired(a.Trigger_hltname, a.Trigger_hltdecision, ("HLT_DoubleMu3_Trk_Tau3mu_v",))
    l1 = _any_fired(a.Trigger_l1name, a.Trigger_l1decision, ("L1_DoubleMu", "L1_TripleMu"))
    trigger = hlt & l1
    step1 = ak.broadcast_arrays(trigger, a.Triplet2_Mass)[0]

    step2 = (
        (a.Triplet2_Mass > 1.62)
        & (a.Triplet2_Mass < 2.02)
        & (a.RefittedPV2_NTracks > 1)
        & (a.FlightDistBS_SV_Significance > 2)
    )
    step3 = _accept(a.Mu01_Pt, a.Mu01_Eta) & _accept(a.Mu02_Pt, a.Mu02_Eta) & (a.Tr_Pt > 1.2)
    step4 = (
        _dr_ok(a.Mu01_Eta, a.Mu01_Phi, a.Mu02_Eta, a.Mu02_Phi)
        & _dr_ok(a.Mu01_Eta, a.Mu01_Phi, a.Tr_Eta, a.Tr_Phi)
        & _dr_ok(a.Mu02_Eta, a.Mu02_Phi, a.Tr_Eta, a.Tr_Phi)
    )
    good_muon = a.Muon_isGlobal & a.Muon_isPF
    good_track = (np.abs(a.Track_dz) < 20) & (np.abs(a.Track_dxy) < 0.3)
    step5 = (
        _matched_flag(a.Mu01_Pt, a.MuonPt, good_muon)
        & _matched_flag(a.Mu02_Pt, a.MuonPt, good_muon)
        & _matched_flag(a.Tr_Pt, a.TrackPt, good_track)
    )
    phi_mass = _pair_mass(a)
    step6 = (phi_mass > 1.00) & (phi_mass < 1.04)

    passed = step1
    cutflow = [len(a)]
    for step in (step1, step2, step3, step4, step5, step6):
        passed = passed & step
        cutflow.append(int(ak.sum(ak.any(passed, axis=1))))

    chi2 = ak.where(passed, a.TripletVtx2_Chi2, np.inf)
    best = ak.argmin(chi2, axis=1, keepdims=True)
    selected = ak.any(passed, axis=1)
    best_mass = ak.flatten(a.Triplet2_Mass[best][selected])
    counts, _ = np.histogram(ak.to_numpy(best_mass), bins=62, range=(1.70, 2.05))
    ids = set(
        zip(
            ak.to_list(a.run[selected]),
            ak.to_list(a.lumi[selected]),
            ak.to_list(a.evt[selected]),
            strict=True,
        )
    )
    assert int(ak.sum(n_candidates > 0)) >= cutflow[1]
    return {"cutflow": cutflow, "counts": counts.tolist(), "ids": ids}


def _any_fired(names, decisions, patterns) -> ak.Array:
    flat = ak.flatten(names).to_list()
    hit = np.array([any(p in name for p in patterns) for name in flat], dtype=bool)
    hit = ak.unflatten(hit, ak.num(names))
    return ak.any(hit & (decisions == 1), axis=1)


def _accept(pt, eta):
    abs_eta = np.abs(eta)
    return ((abs_eta < 1.2) & (pt > 3.5)) | ((abs_eta >= 1.2) & (abs_eta < 2.4) & (pt > 2.0))


def _dr_ok(eta1, phi1, eta2, phi2):
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    dr = np.sqrt((eta1 - eta2) ** 2 + dphi**2)
    return (dr > 0.0001) & (dr < 0.8)


def _matched_flag(candidate_pt, collection_pt, flag):
    """flag of the first collection entry whose pT equals the candidate's; False if none."""
    equal = candidate_pt[:, :, np.newaxis] == collection_pt[:, np.newaxis, :]
    matched = ak.any(equal, axis=2)
    first = ak.fill_none(ak.argmax(equal, axis=2), 0)
    flag_at_first = ak.pad_none(flag, 1, axis=1)[first]  # padding keeps index 0 valid when empty
    return matched & ak.fill_none(flag_at_first, False)


def _pair_mass(a):
    def four(pt, eta, phi):
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        return np.sqrt(px**2 + py**2 + pz**2 + MUON_MASS**2), px, py, pz

    e1, x1, y1, z1 = four(a.RefTrack1_Pt, a.RefTrack1_Eta, a.RefTrack1_Phi)
    e2, x2, y2, z2 = four(a.RefTrack2_Pt, a.RefTrack2_Eta, a.RefTrack2_Phi)
    m2 = (e1 + e2) ** 2 - (x1 + x2) ** 2 - (y1 + y2) ** 2 - (z1 + z2) ** 2
    return np.sqrt(np.maximum(m2, 0))
