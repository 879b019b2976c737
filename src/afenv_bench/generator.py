"""Synthetic Ds⁺→φ(μμ)π⁺ ntuples in the CMS ``Tree3Mu/ntuple`` schema, vectorised and seeded.

Each event holds one to several triplet candidates. With probability ``P_DS`` (``P_DPLUS``) one of
them is a true Ds⁺ (D⁺) decay: a Gaussian triplet mass of ``MASS_RESOLUTION`` around the meson mass,
and the full decay chain D → φπ, φ → μμ with a Breit–Wigner φ, so ΔR, acceptance and the φ-mass
window act as in data. The other candidates are combinatorial: exponential triplet mass, a real or
fake φ, a loosely associated track. Every selection step removes a realistic fraction (trigger
inefficiency, vertex quality, soft muons, bad identification, unmatched objects, φ tails).

Truth, which the analysis never reads:

* branch ``gen_kind`` on each triplet: 0 combinatorial, 1 D⁺, 2 Ds⁺ — tests and the fit check
  read the kind of the selected candidate to know the truth *of the selected sample*;
* ``truth.json`` beside the files: seed, events, files and the numbers of Ds⁺ and D⁺ generated.

The same seed gives the same files: each file draws from ``numpy.random.default_rng([seed, index])``
in fixed-size chunks.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from afenv_bench import _root
from afenv_bench.errors import InputError

__all__ = ["GenerationSummary", "generate"]

TREE_DIRECTORY = "Tree3Mu"
TREE_NAME = "ntuple"
TRUTH_FILE = "truth.json"
GEN_KIND = {0: "combinatorial", 1: "D+", 2: "Ds+"}

MASS_DS = 1.96834
MASS_DPLUS = 1.86966
MASS_RESOLUTION = 0.013
MASS_PHI = 1.019461
WIDTH_PHI = 0.004249
MASS_MUON = 0.10566
MASS_PION = 0.13957
P_DS = 0.24
P_DPLUS = 0.08  # Ds:D⁺ = 3:1
BACKGROUND_MASS_START = 1.55
BACKGROUND_MASS_SCALE = 0.45  # GeV, exponential fall-off of the combinatorial triplet mass

HLT_NAMES = ("HLT_DoubleMu4_3_LowMass_v6", "HLT_DoubleMu3_Trk_Tau3mu_v12", "HLT_Mu8_v13")
L1_NAMES = (
    "L1_SingleMu22",
    "L1_DoubleMu0er1p5_SQ_OS_dR_Max1p4",
    "L1_TripleMu_5_3_0_DoubleMu_5_3_OS_Mass_Max17",
)
CHUNK_EVENTS = 100_000
# LZ4: ZSTD would make the files ~12% smaller but halve the generator's speed, and fast
# decompression keeps the benchmark about analysis rather than about inflating baskets.
COMPRESSION = 404


@dataclass(frozen=True, kw_only=True)
class GenerationSummary:
    files: list[Path]
    events: int
    ds: int
    dplus: int
    seconds: float


def generate(out: Path, *, events: int, files: int, seed: int) -> GenerationSummary:
    """Write ``files`` ROOT files holding ``events`` events, plus ``truth.json``, into ``out``."""
    if events < 1 or files < 1 or files > events:
        raise InputError(
            f"cannot split {events} events into {files} files — use events ≥ files ≥ 1"
        )
    out.mkdir(parents=True, exist_ok=True)
    ROOT = _root.root()
    _root.declare_header(_root.WRITER_HEADER)
    started = time.perf_counter()
    per_file = np.full(files, events // files)
    per_file[: events % files] += 1
    first_event = np.concatenate([[0], np.cumsum(per_file)[:-1]])
    paths, truth_files = [], []
    total = {"ds": 0, "dplus": 0}
    for index in range(files):
        path = out / f"ds_{index:03d}.root"
        rng = np.random.default_rng([seed, index])
        counts = {"ds": 0, "dplus": 0}
        root_file = ROOT.TFile(str(path), "RECREATE")
        root_file.SetCompressionSettings(COMPRESSION)
        root_file.mkdir(TREE_DIRECTORY).cd()
        tree = ROOT.TTree(TREE_NAME, "synthetic Ds -> phi(mumu) pi triplet candidates")
        writer = ROOT.afenv_ds.NtupleWriter(tree, list(HLT_NAMES), list(L1_NAMES))
        done = 0
        while done < per_file[index]:
            n = int(min(CHUNK_EVENTS, per_file[index] - done))
            chunk = _draw_chunk(
                rng, n, run=316_000 + index, first_event=int(first_event[index]) + done
            )
            _fill(writer, chunk, n)
            counts["ds"] += int(np.count_nonzero(chunk["gen_kind"] == 2))
            counts["dplus"] += int(np.count_nonzero(chunk["gen_kind"] == 1))
            done += n
        tree.Write()
        root_file.Close()
        paths.append(path)
        truth_files.append({"file": path.name, "events": int(per_file[index]), **counts})
        total["ds"] += counts["ds"]
        total["dplus"] += counts["dplus"]
    truth = {
        "generator": "afenv_bench.generator",
        "seed": seed,
        "events": events,
        "tree": f"{TREE_DIRECTORY}/{TREE_NAME}",
        "generated": total,
        "truth_branch": "gen_kind",
        "gen_kind": {str(k): v for k, v in GEN_KIND.items()},
        "files": truth_files,
    }
    (out / TRUTH_FILE).write_text(json.dumps(truth, indent=2) + "\n")
    return GenerationSummary(
        files=paths,
        events=events,
        ds=total["ds"],
        dplus=total["dplus"],
        seconds=time.perf_counter() - started,
    )


def _fill(writer, chunk: dict[str, np.ndarray], n: int) -> None:
    writer.SetEventIds(chunk["run"], chunk["lumi"], chunk["evt"])
    writer.SetTriggers(chunk["hlt"], chunk["l1"])
    writer.SetOffsets(chunk["muon_offsets"], chunk["track_offsets"], chunk["triplet_offsets"])
    for name, values in chunk.items():
        if name in _BOOL_COLUMNS:
            writer.SetBool(name, values)
        elif name in _INT_COLUMNS:
            writer.SetInt(name, values)
        elif name in _DOUBLE_COLUMNS:
            writer.SetDouble(name, values)
    writer.Fill(n)


_BOOL_COLUMNS = {"Muon_isGlobal", "Muon_isPF"}
_INT_COLUMNS = {"RefittedPV2_NTracks", "gen_kind"}
_DOUBLE_COLUMNS = {
    "MuonPt", "MuonEta", "MuonPhi", "TrackPt", "TrackEta", "TrackPhi", "Track_dz", "Track_dxy",
    "Triplet2_Mass", "FlightDistBS_SV_Significance", "TripletVtx2_Chi2",
    "Mu01_Pt", "Mu01_Eta", "Mu01_Phi", "Mu02_Pt", "Mu02_Eta", "Mu02_Phi",
    "Tr_Pt", "Tr_Eta", "Tr_Phi",
    "RefTrack1_Pt", "RefTrack1_Eta", "RefTrack1_Phi",
    "RefTrack2_Pt", "RefTrack2_Eta", "RefTrack2_Phi",
}  # fmt: skip


def _draw_chunk(
    rng: np.random.Generator, n: int, *, run: int, first_event: int
) -> dict[str, np.ndarray]:
    local = np.arange(n)
    columns: dict[str, np.ndarray] = {
        "run": np.full(n, run, dtype=np.uint32),
        "lumi": (1 + (first_event + local) // 500).astype(np.uint32),
        "evt": (first_event + local + 1).astype(np.ulonglong),
    }
    columns["hlt"], columns["l1"] = _draw_triggers(rng, n)

    n_cand = 1 + np.minimum(rng.poisson(0.7, n), 5)
    n_triplets = int(n_cand.sum())
    cand_event = np.repeat(local, n_cand)
    first_cand = np.concatenate([[0], np.cumsum(n_cand)[:-1]])
    kind = np.zeros(n_triplets, dtype=np.int32)
    u = rng.random(n)
    event_kind = np.where(u < P_DS, 2, np.where(u < P_DS + P_DPLUS, 1, 0))
    signal_slot = first_cand + (rng.random(n) * n_cand).astype(np.int64)
    kind[signal_slot[event_kind > 0]] = event_kind[event_kind > 0]
    signal = kind > 0

    columns.update(_draw_candidates(rng, kind, signal))
    columns["gen_kind"] = kind
    columns["triplet_offsets"] = _offsets(n_cand)

    # The candidates' objects, then a few unrelated ones, make up each event's collections.
    extra_muons = rng.poisson(0.5, n)
    extra_tracks = rng.poisson(2.0, n)
    muon_event = np.concatenate([cand_event, cand_event, np.repeat(local, extra_muons)])
    track_event = np.concatenate([cand_event, np.repeat(local, extra_tracks)])
    n_extra_mu, n_extra_tr = int(extra_muons.sum()), int(extra_tracks.sum())
    muon_order = np.argsort(muon_event, kind="stable")
    track_order = np.argsort(track_event, kind="stable")

    unmatched = rng.random(n_triplets) < 0.01  # the candidate's pT is not copied exactly
    muon_pt = np.concatenate(
        [columns["Mu01_Pt"], columns["Mu02_Pt"], 1.0 + rng.exponential(3.0, n_extra_mu)]
    )
    columns["Mu01_Pt"] = np.where(
        unmatched, np.nextafter(columns["Mu01_Pt"], np.inf), columns["Mu01_Pt"]
    )
    muon_eta = np.concatenate(
        [columns["Mu01_Eta"], columns["Mu02_Eta"], rng.uniform(-2.4, 2.4, n_extra_mu)]
    )
    muon_phi = np.concatenate(
        [columns["Mu01_Phi"], columns["Mu02_Phi"], rng.uniform(-np.pi, np.pi, n_extra_mu)]
    )
    good_muon = np.concatenate([signal, signal, np.zeros(n_extra_mu, dtype=bool)])
    n_muons = muon_pt.size
    is_global = rng.random(n_muons) > np.where(good_muon, 0.02, 0.10)
    is_pf = rng.random(n_muons) > np.where(good_muon, 0.02, 0.08)
    columns["MuonPt"] = muon_pt[muon_order]
    columns["MuonEta"] = muon_eta[muon_order]
    columns["MuonPhi"] = muon_phi[muon_order]
    columns["Muon_isGlobal"] = is_global[muon_order]
    columns["Muon_isPF"] = is_pf[muon_order]
    columns["muon_offsets"] = _offsets(2 * n_cand + extra_muons)

    track_pt = np.concatenate([columns["Tr_Pt"], 0.5 + rng.exponential(1.5, n_extra_tr)])
    track_eta = np.concatenate([columns["Tr_Eta"], rng.uniform(-2.5, 2.5, n_extra_tr)])
    track_phi = np.concatenate([columns["Tr_Phi"], rng.uniform(-np.pi, np.pi, n_extra_tr)])
    n_tracks = track_pt.size
    good_track = np.concatenate([signal, np.zeros(n_extra_tr, dtype=bool)])
    dz = rng.normal(0.0, 4.0, n_tracks)
    dz = np.where(rng.random(n_tracks) < 0.03, np.sign(dz) * rng.uniform(20.0, 40.0, n_tracks), dz)
    dxy = rng.normal(0.0, np.where(good_track, 0.05, 0.15))
    columns["TrackPt"] = track_pt[track_order]
    columns["TrackEta"] = track_eta[track_order]
    columns["TrackPhi"] = track_phi[track_order]
    columns["Track_dz"] = dz[track_order]
    columns["Track_dxy"] = dxy[track_order]
    columns["track_offsets"] = _offsets(n_cand + extra_tracks)
    return {k: np.ascontiguousarray(v) for k, v in columns.items()}


def _draw_triggers(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    fired = rng.random(n) < 0.88
    hlt_missing = rng.random(n) < 0.5  # a failing event misses either the HLT path or the L1 seeds
    hlt = (rng.random((n, len(HLT_NAMES))) < 0.3).astype(np.int32)
    hlt[:, 1] = (fired | ~hlt_missing).astype(np.int32)
    l1 = (rng.random((n, len(L1_NAMES))) < 0.3).astype(np.int32)
    l1_ok = fired | hlt_missing
    triple = rng.random(n) < 0.5
    l1[:, 1] = (l1_ok & (~triple | (rng.random(n) < 0.6))).astype(np.int32)
    l1[:, 2] = (l1_ok & triple).astype(np.int32)
    return hlt, l1


def _draw_candidates(
    rng: np.random.Generator, kind: np.ndarray, signal: np.ndarray
) -> dict[str, np.ndarray]:
    m = kind.size
    background_mass = BACKGROUND_MASS_START + rng.exponential(BACKGROUND_MASS_SCALE, m)
    meson_mass = np.where(kind == 2, MASS_DS, MASS_DPLUS)
    triplet_mass = np.where(signal, rng.normal(meson_mass, MASS_RESOLUTION), background_mass)

    # φ candidates: a Breit–Wigner φ for signal and a third of the background, else a fake pair.
    real_phi = signal | (rng.random(m) < 0.35)
    breit_wigner = MASS_PHI + 0.5 * WIDTH_PHI * np.tan(np.pi * (rng.random(m) - 0.5))
    dimuon_mass = np.where(real_phi, breit_wigner, rng.uniform(0.4, 1.5, m))
    parent_mass = np.where(signal, meson_mass, triplet_mass)
    dimuon_mass = np.clip(dimuon_mass, 2 * MASS_MUON + 0.01, parent_mass - MASS_PION - 0.01)
    parent_mass = np.maximum(parent_mass, dimuon_mass + MASS_PION + 0.05)

    parent_pt = 6.0 + rng.exponential(6.0, m)
    parent = _four_vector(
        parent_pt, rng.uniform(-2.3, 2.3, m), rng.uniform(-np.pi, np.pi, m), parent_mass
    )
    phi, pion = _two_body(rng, parent, parent_mass, dimuon_mass, np.full(m, MASS_PION))
    mu1, mu2 = _two_body(rng, phi, dimuon_mass, np.full(m, MASS_MUON), np.full(m, MASS_MUON))

    ref1, ref2, pion_kin = _pt_eta_phi(mu1), _pt_eta_phi(mu2), _pt_eta_phi(pion)
    # A combinatorial track is only loosely associated with the dimuon.
    loose = ~signal
    pion_kin[0][loose] = 0.6 + rng.exponential(1.8, int(loose.sum()))
    pion_kin[1][loose] = ref1[1][loose] + rng.normal(0.0, 0.45, int(loose.sum()))
    pion_kin[2][loose] = _wrap(ref1[2][loose] + rng.normal(0.0, 0.45, int(loose.sum())))

    columns: dict[str, np.ndarray] = {
        "Triplet2_Mass": triplet_mass,
        "RefittedPV2_NTracks": np.where(
            rng.random(m) < 0.04, rng.integers(0, 2, m), 2 + rng.poisson(10.0, m)
        ).astype(np.int32),
        "FlightDistBS_SV_Significance": np.where(
            signal, 0.5 + rng.exponential(8.0, m), rng.exponential(2.5, m)
        ),
        "TripletVtx2_Chi2": rng.chisquare(3.0, m) * np.where(signal, 1.0, 1.5),
    }
    for prefix, kin in (("RefTrack1", ref1), ("RefTrack2", ref2)):
        columns[f"{prefix}_Pt"], columns[f"{prefix}_Eta"], columns[f"{prefix}_Phi"] = kin
    # The reconstructed muons and track differ slightly from the refitted ones.
    for prefix, (pt, eta, phi_angle) in (("Mu01", ref1), ("Mu02", ref2), ("Tr", pion_kin)):
        columns[f"{prefix}_Pt"] = pt * (1.0 + rng.normal(0.0, 0.01, m))
        columns[f"{prefix}_Eta"] = eta + rng.normal(0.0, 0.001, m)
        columns[f"{prefix}_Phi"] = _wrap(phi_angle + rng.normal(0.0, 0.001, m))
    return columns


def _offsets(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.longlong)


def _wrap(phi: np.ndarray) -> np.ndarray:
    return (phi + np.pi) % (2 * np.pi) - np.pi


def _four_vector(pt, eta, phi, mass) -> np.ndarray:
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    return np.stack([energy, px, py, pz])


def _two_body(
    rng: np.random.Generator, parent: np.ndarray, mass, mass1, mass2
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic decay in the parent rest frame, boosted to the lab; 4-vectors (E, px, py, pz)."""
    p_star = np.sqrt((mass**2 - (mass1 + mass2) ** 2) * (mass**2 - (mass1 - mass2) ** 2)) / (
        2 * mass
    )
    cos_theta = rng.uniform(-1.0, 1.0, mass.size)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    azimuth = rng.uniform(-np.pi, np.pi, mass.size)
    direction = np.stack([sin_theta * np.cos(azimuth), sin_theta * np.sin(azimuth), cos_theta])
    beta = parent[1:] / parent[0]
    daughters = []
    for sign, daughter_mass in ((1.0, mass1), (-1.0, mass2)):
        momentum = sign * p_star * direction
        energy = np.sqrt(p_star**2 + daughter_mass**2)
        daughters.append(_boost(np.concatenate([energy[None], momentum]), beta))
    return daughters[0], daughters[1]


def _boost(vector: np.ndarray, beta: np.ndarray) -> np.ndarray:
    beta2 = np.sum(beta**2, axis=0)
    gamma = 1.0 / np.sqrt(1.0 - beta2)
    beta_dot_p = np.sum(beta * vector[1:], axis=0)
    factor = np.where(beta2 > 0, (gamma - 1.0) * beta_dot_p / np.where(beta2 > 0, beta2, 1.0), 0.0)
    momentum = vector[1:] + (factor + gamma * vector[0]) * beta
    energy = gamma * (vector[0] + beta_dot_p)
    return np.concatenate([energy[None], momentum])


def _pt_eta_phi(vector: np.ndarray) -> list[np.ndarray]:
    pt = np.hypot(vector[1], vector[2])
    return [pt, np.arcsinh(vector[3] / pt), np.arctan2(vector[2], vector[1])]
