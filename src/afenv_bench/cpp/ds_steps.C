// Definitions of ds_steps.h: each step applies one cut of ds_selection.h to the candidates that
// passed the steps before it, in the order the legacy loop applies them to one candidate.
#include "ds_steps.h"

#include "ds_selection.h"

#include <cstddef>

namespace afenv_ds {
namespace rdf {

namespace {
template <class Cut>
Mask keep(const Mask &passed, Cut &&cut)
{
   Mask result(passed.size(), 0);
   for (std::size_t i = 0; i < passed.size(); ++i)
      result[i] = passed[i] && cut(i);
   return result;
}
} // namespace

bool trigger(const Names &hlt_names, const Ints &hlt_decisions, const Names &l1_names, const Ints &l1_decisions)
{
   return trigger_pass(hlt_names, hlt_decisions, l1_names, l1_decisions);
}

Mask window(const Doubles &mass, const Ints &pv_ntracks, const Doubles &fd_significance)
{
   Mask result(mass.size(), 0);
   for (std::size_t i = 0; i < mass.size(); ++i)
      result[i] = cut_window(i, mass, pv_ntracks, fd_significance);
   return result;
}

Mask acceptance(const Mask &passed, const Doubles &mu1_pt, const Doubles &mu1_eta, const Doubles &mu2_pt,
                const Doubles &mu2_eta, const Doubles &tr_pt)
{
   return keep(passed, [&](std::size_t i) { return cut_acceptance(i, mu1_pt, mu1_eta, mu2_pt, mu2_eta, tr_pt); });
}

Mask separation(const Mask &passed, const Doubles &mu1_eta, const Doubles &mu1_phi, const Doubles &mu2_eta,
                const Doubles &mu2_phi, const Doubles &tr_eta, const Doubles &tr_phi)
{
   return keep(passed,
               [&](std::size_t i) { return cut_separation(i, mu1_eta, mu1_phi, mu2_eta, mu2_phi, tr_eta, tr_phi); });
}

Mask quality(const Mask &passed, const Doubles &mu1_pt, const Doubles &mu2_pt, const Doubles &tr_pt,
             const Doubles &muon_pt, const Bools &muon_global, const Bools &muon_pf, const Doubles &track_pt,
             const Doubles &track_dz, const Doubles &track_dxy)
{
   return keep(passed, [&](std::size_t i) {
      return cut_quality(i, mu1_pt, mu2_pt, tr_pt, muon_pt, muon_global, muon_pf, track_pt, track_dz, track_dxy);
   });
}

Mask phi_mass(const Mask &passed, const Doubles &ref1_pt, const Doubles &ref1_eta, const Doubles &ref1_phi,
              const Doubles &ref2_pt, const Doubles &ref2_eta, const Doubles &ref2_phi)
{
   return keep(passed, [&](std::size_t i) {
      return cut_phi_mass(i, ref1_pt, ref1_eta, ref1_phi, ref2_pt, ref2_eta, ref2_phi);
   });
}

bool any_left(const Mask &passed)
{
   for (unsigned char p : passed)
      if (p)
         return true;
   return false;
}

int best(const Mask &passed, const Doubles &chi2)
{
   int result = -1;
   for (std::size_t i = 0; i < passed.size(); ++i)
      if (passed[i] && (result < 0 || chi2[i] < chi2[result]))
         result = static_cast<int>(i);
   return result;
}

} // namespace rdf
} // namespace afenv_ds
