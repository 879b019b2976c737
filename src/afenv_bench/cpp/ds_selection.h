// Ds+ -> phi(mu mu) pi+ selection, shared by every analysis mode.
//
// The RDataFrame helpers (ds_rdf.C) and the legacy TTreeReader loop (ds_legacy.C) include this one
// header, so the three modes cannot drift apart: identical cutflow and histogram follow by
// construction. The functions are templates over the container type (ROOT::RVec in RDataFrame,
// TTreeReaderArray in the legacy loop); both users are compiled by g++ with optimisation (ACLiC),
// never JIT-compiled by cling.
#ifndef AFENV_DS_SELECTION_H
#define AFENV_DS_SELECTION_H

#include <TTreeReaderArray.h>

#include <cmath>
#include <cstddef>
#include <string>

namespace afenv_ds {

constexpr double kMuonMass = 0.10566;  // GeV
constexpr int kSteps = 6;

// Outcome for one event: how many consecutive selection steps its furthest candidate passed
// (0..kSteps) and the index of the best candidate (minimum vertex chi2 among those passing all
// steps; -1 if none).
struct EventSelection {
   int max_step = 0;
   int best = -1;
};

template <class Container>
std::size_t length(const Container &c)
{
   return c.size();
}

template <class T>
std::size_t length(const TTreeReaderArray<T> &c)
{
   return c.GetSize();
}

template <class Names, class Decisions>
bool fired(const Names &names, const Decisions &decisions, const char *pattern, const char *alternative = nullptr)
{
   const std::size_t n = length(names) < length(decisions) ? length(names) : length(decisions);
   for (std::size_t i = 0; i < n; ++i) {
      if (decisions[i] != 1)
         continue;
      const std::string &name = names[i];
      if (name.find(pattern) != std::string::npos)
         return true;
      if (alternative != nullptr && name.find(alternative) != std::string::npos)
         return true;
   }
   return false;
}

template <class HltNames, class HltDecisions, class L1Names, class L1Decisions>
bool trigger_pass(const HltNames &hlt_names, const HltDecisions &hlt_decisions, const L1Names &l1_names,
                  const L1Decisions &l1_decisions)
{
   return fired(hlt_names, hlt_decisions, "HLT_DoubleMu3_Trk_Tau3mu_v") &&
          fired(l1_names, l1_decisions, "L1_DoubleMu", "L1_TripleMu");
}

inline bool muon_in_acceptance(double pt, double eta)
{
   const double abs_eta = std::abs(eta);
   return (abs_eta < 1.2 && pt > 3.5) || (abs_eta >= 1.2 && abs_eta < 2.4 && pt > 2.0);
}

inline double delta_phi(double phi1, double phi2)
{
   double dphi = phi1 - phi2;
   while (dphi > M_PI)
      dphi -= 2 * M_PI;
   while (dphi < -M_PI)
      dphi += 2 * M_PI;
   return dphi;
}

inline bool delta_r_ok(double eta1, double phi1, double eta2, double phi2)
{
   const double deta = eta1 - eta2;
   const double dphi = delta_phi(phi1, phi2);
   const double dr = std::sqrt(deta * deta + dphi * dphi);
   return dr > 0.0001 && dr < 0.8;
}

inline double pair_mass(double pt1, double eta1, double phi1, double pt2, double eta2, double phi2, double mass)
{
   const double px = pt1 * std::cos(phi1) + pt2 * std::cos(phi2);
   const double py = pt1 * std::sin(phi1) + pt2 * std::sin(phi2);
   const double pz = pt1 * std::sinh(eta1) + pt2 * std::sinh(eta2);
   const double p1 = pt1 * std::cosh(eta1);
   const double p2 = pt2 * std::cosh(eta2);
   const double e = std::sqrt(p1 * p1 + mass * mass) + std::sqrt(p2 * p2 + mass * mass);
   const double m2 = e * e - px * px - py * py - pz * pz;
   return m2 > 0 ? std::sqrt(m2) : 0.0;
}

// First index whose value equals `value` exactly (candidates copy pT from the collections), or -1.
template <class Values>
long first_equal(const Values &values, double value)
{
   const std::size_t n = length(values);
   for (std::size_t i = 0; i < n; ++i)
      if (values[i] == value)
         return static_cast<long>(i);
   return -1;
}

// The cuts of steps 2..6 for candidate `i`, one function per step. The legacy loop applies them
// candidate by candidate (steps_passed); RDataFrame applies them step by step to every surviving
// candidate (ds_rdf.C), so that an event's columns for step k are read only if a candidate passed
// step k-1. Both call these same functions, so their cutflows agree by construction.
template <class D, class I>
bool cut_window(std::size_t i, const D &mass, const I &pv_ntracks, const D &fd_significance)
{
   return mass[i] > 1.62 && mass[i] < 2.02 && pv_ntracks[i] > 1 && fd_significance[i] > 2;
}

template <class D>
bool cut_acceptance(std::size_t i, const D &mu1_pt, const D &mu1_eta, const D &mu2_pt, const D &mu2_eta,
                    const D &tr_pt)
{
   return muon_in_acceptance(mu1_pt[i], mu1_eta[i]) && muon_in_acceptance(mu2_pt[i], mu2_eta[i]) && tr_pt[i] > 1.2;
}

template <class D>
bool cut_separation(std::size_t i, const D &mu1_eta, const D &mu1_phi, const D &mu2_eta, const D &mu2_phi,
                    const D &tr_eta, const D &tr_phi)
{
   return delta_r_ok(mu1_eta[i], mu1_phi[i], mu2_eta[i], mu2_phi[i]) &&
          delta_r_ok(mu1_eta[i], mu1_phi[i], tr_eta[i], tr_phi[i]) &&
          delta_r_ok(mu2_eta[i], mu2_phi[i], tr_eta[i], tr_phi[i]);
}

// The candidate's two muons must be global and particle-flow muons, its track close to the
// beam spot; they are found in the event's collections by their (copied) transverse momenta.
template <class D, class B>
bool cut_quality(std::size_t i, const D &mu1_pt, const D &mu2_pt, const D &tr_pt, const D &muon_pt,
                 const B &muon_global, const B &muon_pf, const D &track_pt, const D &track_dz, const D &track_dxy)
{
   const long m1 = first_equal(muon_pt, mu1_pt[i]);
   const long m2 = first_equal(muon_pt, mu2_pt[i]);
   const long t = first_equal(track_pt, tr_pt[i]);
   if (m1 < 0 || m2 < 0 || t < 0)
      return false;
   if (!(muon_global[m1] && muon_pf[m1] && muon_global[m2] && muon_pf[m2]))
      return false;
   return std::abs(track_dz[t]) < 20 && std::abs(track_dxy[t]) < 0.3;
}

template <class D>
bool cut_phi_mass(std::size_t i, const D &ref1_pt, const D &ref1_eta, const D &ref1_phi, const D &ref2_pt,
                  const D &ref2_eta, const D &ref2_phi)
{
   const double phi_mass =
      pair_mass(ref1_pt[i], ref1_eta[i], ref1_phi[i], ref2_pt[i], ref2_eta[i], ref2_phi[i], kMuonMass);
   return phi_mass > 1.00 && phi_mass < 1.04;
}

// Number of consecutive selection steps (1..6) candidate `i` passes.
template <class D, class I, class B>
int steps_passed(std::size_t i, bool trigger, const D &mass, const I &pv_ntracks, const D &fd_significance,
                 const D &mu1_pt, const D &mu1_eta, const D &mu1_phi, const D &mu2_pt, const D &mu2_eta,
                 const D &mu2_phi, const D &tr_pt, const D &tr_eta, const D &tr_phi, const D &ref1_pt,
                 const D &ref1_eta, const D &ref1_phi, const D &ref2_pt, const D &ref2_eta, const D &ref2_phi,
                 const D &muon_pt, const B &muon_global, const B &muon_pf, const D &track_pt, const D &track_dz,
                 const D &track_dxy)
{
   if (!trigger)
      return 0;
   if (!cut_window(i, mass, pv_ntracks, fd_significance))
      return 1;
   if (!cut_acceptance(i, mu1_pt, mu1_eta, mu2_pt, mu2_eta, tr_pt))
      return 2;
   if (!cut_separation(i, mu1_eta, mu1_phi, mu2_eta, mu2_phi, tr_eta, tr_phi))
      return 3;
   if (!cut_quality(i, mu1_pt, mu2_pt, tr_pt, muon_pt, muon_global, muon_pf, track_pt, track_dz, track_dxy))
      return 4;
   if (!cut_phi_mass(i, ref1_pt, ref1_eta, ref1_phi, ref2_pt, ref2_eta, ref2_phi))
      return 5;
   return kSteps;
}

template <class D, class I, class B>
EventSelection select_event(bool trigger, const D &mass, const I &pv_ntracks, const D &fd_significance,
                            const D &chi2, const D &mu1_pt, const D &mu1_eta, const D &mu1_phi, const D &mu2_pt,
                            const D &mu2_eta, const D &mu2_phi, const D &tr_pt, const D &tr_eta, const D &tr_phi,
                            const D &ref1_pt, const D &ref1_eta, const D &ref1_phi, const D &ref2_pt,
                            const D &ref2_eta, const D &ref2_phi, const D &muon_pt, const B &muon_global,
                            const B &muon_pf, const D &track_pt, const D &track_dz, const D &track_dxy)
{
   EventSelection result;
   const std::size_t n = length(mass);
   for (std::size_t i = 0; i < n; ++i) {
      const int steps = steps_passed(i, trigger, mass, pv_ntracks, fd_significance, mu1_pt, mu1_eta, mu1_phi, mu2_pt,
                                     mu2_eta, mu2_phi, tr_pt, tr_eta, tr_phi, ref1_pt, ref1_eta, ref1_phi, ref2_pt,
                                     ref2_eta, ref2_phi, muon_pt, muon_global, muon_pf, track_pt, track_dz, track_dxy);
      if (steps > result.max_step)
         result.max_step = steps;
      if (steps == kSteps && (result.best < 0 || chi2[i] < chi2[result.best]))
         result.best = static_cast<int>(i);
   }
   return result;
}

} // namespace afenv_ds

#endif
