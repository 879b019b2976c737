// The Ds selection for RDataFrame, as functions compiled by g++ (ds_steps.C, built by ACLiC with
// optimisation; a small library of these functions alone, which distributed RDataFrame ships to
// the Dask workers). The RDataFrame graphs only call them, so cling JIT-compiles one-line
// wrappers, never the selection.
//
// Each step returns the mask of candidates that passed every step so far; the graph filters on
// "any candidate left" between steps, so the columns a step reads are read only for events that
// reached it (RDataFrame reads a column for an event only when something evaluates it).
#ifndef AFENV_DS_STEPS_H
#define AFENV_DS_STEPS_H

#include <ROOT/RVec.hxx>

#include <string>

namespace afenv_ds {
namespace rdf {

// One byte per candidate: RVec keeps up to 48 of them inline, so no step allocates per event.
using Mask = ROOT::VecOps::RVec<unsigned char>;
using Doubles = ROOT::VecOps::RVec<double>;
using Ints = ROOT::VecOps::RVec<int>;
using Bools = ROOT::VecOps::RVec<bool>;
using Names = ROOT::VecOps::RVec<std::string>;

bool trigger(const Names &hlt_names, const Ints &hlt_decisions, const Names &l1_names, const Ints &l1_decisions);
Mask window(const Doubles &mass, const Ints &pv_ntracks, const Doubles &fd_significance);
Mask acceptance(const Mask &passed, const Doubles &mu1_pt, const Doubles &mu1_eta, const Doubles &mu2_pt,
                const Doubles &mu2_eta, const Doubles &tr_pt);
Mask separation(const Mask &passed, const Doubles &mu1_eta, const Doubles &mu1_phi, const Doubles &mu2_eta,
                const Doubles &mu2_phi, const Doubles &tr_eta, const Doubles &tr_phi);
Mask quality(const Mask &passed, const Doubles &mu1_pt, const Doubles &mu2_pt, const Doubles &tr_pt,
             const Doubles &muon_pt, const Bools &muon_global, const Bools &muon_pf, const Doubles &track_pt,
             const Doubles &track_dz, const Doubles &track_dxy);
Mask phi_mass(const Mask &passed, const Doubles &ref1_pt, const Doubles &ref1_eta, const Doubles &ref1_phi,
              const Doubles &ref2_pt, const Doubles &ref2_eta, const Doubles &ref2_phi);
bool any_left(const Mask &passed);
// Index of the passing candidate with the smallest vertex chi2 (the first of equal ones), or -1.
int best(const Mask &passed, const Doubles &chi2);

} // namespace rdf
} // namespace afenv_ds

#endif
