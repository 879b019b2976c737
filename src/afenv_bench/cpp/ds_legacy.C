// The legacy analysis: a compiled, single-threaded TTreeReader event loop, as the original Ds
// normalisation study ran before RDataFrame. It is the baseline users migrate from, and it shares
// ds_selection.h with the RDataFrame modes so all three give identical cutflow and histogram.
#include "ds_selection.h"

#include <RtypesCore.h>
#include <TChain.h>
#include <TFile.h>
#include <TH1D.h>
#include <TTree.h>
#include <TTreeReader.h>
#include <TTreeReaderArray.h>
#include <TTreeReaderValue.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace afenv_ds {

struct LegacyResult {
   Long64_t entries = 0;
   std::vector<Long64_t> cutflow;   // events read, then events with a candidate passing steps 1..k
   std::vector<double> counts;      // BestTriplet_mass bin contents, without under/overflow
   std::vector<double> truth_ds;    // same, for best candidates that are true Ds+ (needs gen_kind)
   std::vector<double> truth_dplus; // same, for true D+
};

// Reads an integer event id whatever its stored type (inputs differ: UInt_t, Long64_t, ...).
class IdReader {
public:
   IdReader(TTreeReader &reader, const char *name, const std::string &type)
   {
      if (type == "UInt_t")
         Make<UInt_t>(reader, name);
      else if (type == "Int_t")
         Make<Int_t>(reader, name);
      else if (type == "ULong64_t")
         Make<ULong64_t>(reader, name);
      else if (type == "Long64_t")
         Make<Long64_t>(reader, name);
      else if (type == "UShort_t")
         Make<UShort_t>(reader, name);
      else if (type == "Short_t")
         Make<Short_t>(reader, name);
      else
         throw std::invalid_argument(std::string("unsupported type ") + type + " for branch " + name);
   }
   ULong64_t Get() const { return fGet(); }

private:
   template <class T>
   void Make(TTreeReader &reader, const char *name)
   {
      auto value = std::make_shared<TTreeReaderValue<T>>(reader, name);
      fGet = [value]() { return static_cast<ULong64_t>(**value); };
   }
   std::function<ULong64_t()> fGet;
};

static std::vector<double> bin_contents(const TH1D &h)
{
   std::vector<double> contents(h.GetNbinsX());
   for (int bin = 1; bin <= h.GetNbinsX(); ++bin)
      contents[bin - 1] = h.GetBinContent(bin);
   return contents;
}

LegacyResult run_legacy(const std::vector<std::string> &files, const std::string &tree_name,
                        const std::vector<std::string> &id_types, const std::string &harvest_path, bool with_truth,
                        int bins, double low, double high)
{
   TChain chain(tree_name.c_str());
   for (const auto &file : files)
      chain.Add(file.c_str());
   TTreeReader reader(&chain);

   IdReader run(reader, "run", id_types.at(0));
   IdReader lumi(reader, "lumi", id_types.at(1));
   IdReader evt(reader, "evt", id_types.at(2));
   TTreeReaderValue<std::vector<std::string>> hlt_names(reader, "Trigger_hltname");
   TTreeReaderArray<int> hlt_decisions(reader, "Trigger_hltdecision");
   TTreeReaderValue<std::vector<std::string>> l1_names(reader, "Trigger_l1name");
   TTreeReaderArray<int> l1_decisions(reader, "Trigger_l1decision");
   TTreeReaderArray<double> muon_pt(reader, "MuonPt");
   TTreeReaderArray<bool> muon_global(reader, "Muon_isGlobal");
   TTreeReaderArray<bool> muon_pf(reader, "Muon_isPF");
   TTreeReaderArray<double> track_pt(reader, "TrackPt");
   TTreeReaderArray<double> track_dz(reader, "Track_dz");
   TTreeReaderArray<double> track_dxy(reader, "Track_dxy");
   TTreeReaderArray<double> mass(reader, "Triplet2_Mass");
   TTreeReaderArray<int> pv_ntracks(reader, "RefittedPV2_NTracks");
   TTreeReaderArray<double> fd_significance(reader, "FlightDistBS_SV_Significance");
   TTreeReaderArray<double> chi2(reader, "TripletVtx2_Chi2");
   TTreeReaderArray<double> mu1_pt(reader, "Mu01_Pt"), mu1_eta(reader, "Mu01_Eta"), mu1_phi(reader, "Mu01_Phi");
   TTreeReaderArray<double> mu2_pt(reader, "Mu02_Pt"), mu2_eta(reader, "Mu02_Eta"), mu2_phi(reader, "Mu02_Phi");
   TTreeReaderArray<double> tr_pt(reader, "Tr_Pt"), tr_eta(reader, "Tr_Eta"), tr_phi(reader, "Tr_Phi");
   TTreeReaderArray<double> ref1_pt(reader, "RefTrack1_Pt"), ref1_eta(reader, "RefTrack1_Eta"),
      ref1_phi(reader, "RefTrack1_Phi");
   TTreeReaderArray<double> ref2_pt(reader, "RefTrack2_Pt"), ref2_eta(reader, "RefTrack2_Eta"),
      ref2_phi(reader, "RefTrack2_Phi");
   std::unique_ptr<TTreeReaderArray<int>> gen_kind;
   if (with_truth)
      gen_kind = std::make_unique<TTreeReaderArray<int>>(reader, "gen_kind");

   std::unique_ptr<TFile> out;
   TTree *selected = nullptr;
   UInt_t out_run = 0, out_lumi = 0;
   ULong64_t out_evt = 0;
   double out_mass = 0;
   if (!harvest_path.empty()) {
      out.reset(TFile::Open(harvest_path.c_str(), "RECREATE"));
      if (!out || out->IsZombie())
         throw std::runtime_error("cannot create " + harvest_path);
      selected = new TTree("selected", "best Ds candidate of each selected event");
      selected->Branch("run", &out_run, "run/i");
      selected->Branch("lumi", &out_lumi, "lumi/i");
      selected->Branch("evt", &out_evt, "evt/l");
      selected->Branch("BestTriplet_mass", &out_mass, "BestTriplet_mass/D");
   }

   TH1D hist("afenv_legacy_mass", "", bins, low, high), hist_ds("afenv_legacy_ds", "", bins, low, high),
      hist_dplus("afenv_legacy_dplus", "", bins, low, high);
   for (TH1D *h : {&hist, &hist_ds, &hist_dplus})
      h->SetDirectory(nullptr);

   LegacyResult result;
   result.cutflow.assign(kSteps + 1, 0);
   while (reader.Next()) {
      ++result.entries;
      const bool trigger = trigger_pass(*hlt_names, hlt_decisions, *l1_names, l1_decisions);
      const EventSelection event =
         select_event(trigger, mass, pv_ntracks, fd_significance, chi2, mu1_pt, mu1_eta, mu1_phi, mu2_pt, mu2_eta,
                      mu2_phi, tr_pt, tr_eta, tr_phi, ref1_pt, ref1_eta, ref1_phi, ref2_pt, ref2_eta, ref2_phi,
                      muon_pt, muon_global, muon_pf, track_pt, track_dz, track_dxy);
      for (int k = 0; k <= event.max_step; ++k)
         ++result.cutflow[k];
      if (event.best < 0)
         continue;
      const double best_mass = mass[event.best];
      hist.Fill(best_mass);
      if (gen_kind) {
         const int kind = (*gen_kind)[event.best];
         if (kind == 2)
            hist_ds.Fill(best_mass);
         else if (kind == 1)
            hist_dplus.Fill(best_mass);
      }
      if (selected) {
         out_run = static_cast<UInt_t>(run.Get());
         out_lumi = static_cast<UInt_t>(lumi.Get());
         out_evt = evt.Get();
         out_mass = best_mass;
         selected->Fill();
      }
   }
   if (reader.GetEntryStatus() != TTreeReader::kEntryBeyondEnd && reader.GetEntryStatus() != TTreeReader::kEntryValid)
      throw std::runtime_error("TTreeReader stopped early with status " + std::to_string(reader.GetEntryStatus()));
   if (selected) {
      out->cd();
      selected->Write();
      out->Close();
   }
   result.counts = bin_contents(hist);
   if (gen_kind) {
      result.truth_ds = bin_contents(hist_ds);
      result.truth_dplus = bin_contents(hist_dplus);
   }
   return result;
}

} // namespace afenv_ds
