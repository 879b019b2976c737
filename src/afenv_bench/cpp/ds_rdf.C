// Definitions of ds_rdf.h: the graph of analysis._book, typed and compiled.
#include "ds_rdf.h"

namespace afenv_ds {
namespace rdf {

namespace {
std::vector<double> bin_contents(ROOT::RDF::RResultPtr<TH1D> &h)
{
   std::vector<double> contents;
   if (!h)
      return contents;
   for (int bin = 1; bin <= h->GetNbinsX(); ++bin)
      contents.push_back(h->GetBinContent(bin));
   return contents;
}
bool has_candidate(const Mask &m)
{
   return !m.empty();
}
double at_best(const Doubles &values, int best_index)
{
   return values[best_index];
}
int kind_at_best(const Ints &kinds, int best_index)
{
   return kinds[best_index];
}
} // namespace

Analysis::Analysis(const std::string &tree, const std::vector<std::string> &files, bool with_truth, int bins,
                   double low, double high)
   : fFrame(tree, files)
{
   // The cutflow comes from the named filters' own pass counts (one Report) rather than from a
   // Count after every step: each booked action costs a call per event, about 15 % here.
   fReport = fFrame.Report();
   ROOT::RDF::RNode node = fFrame;
   node = node.Filter(trigger, {"Trigger_hltname", "Trigger_hltdecision", "Trigger_l1name", "Trigger_l1decision"},
                      "trigger");
   node = node.Define("afenv_window", window, {"Triplet2_Mass", "RefittedPV2_NTracks", "FlightDistBS_SV_Significance"})
             .Filter(has_candidate, {"afenv_window"}, "candidate");
   node = node.Filter(any_left, {"afenv_window"}, "window");
   node = node.Define("afenv_acceptance", acceptance,
                      {"afenv_window", "Mu01_Pt", "Mu01_Eta", "Mu02_Pt", "Mu02_Eta", "Tr_Pt"})
             .Filter(any_left, {"afenv_acceptance"}, "acceptance");
   node = node.Define("afenv_separation", separation,
                      {"afenv_acceptance", "Mu01_Eta", "Mu01_Phi", "Mu02_Eta", "Mu02_Phi", "Tr_Eta", "Tr_Phi"})
             .Filter(any_left, {"afenv_separation"}, "separation");
   node = node.Define("afenv_quality", quality,
                      {"afenv_separation", "Mu01_Pt", "Mu02_Pt", "Tr_Pt", "MuonPt", "Muon_isGlobal", "Muon_isPF",
                       "TrackPt", "Track_dz", "Track_dxy"})
             .Filter(any_left, {"afenv_quality"}, "quality");
   node = node.Define("afenv_phi_mass", phi_mass,
                      {"afenv_quality", "RefTrack1_Pt", "RefTrack1_Eta", "RefTrack1_Phi", "RefTrack2_Pt",
                       "RefTrack2_Eta", "RefTrack2_Phi"})
             .Filter(any_left, {"afenv_phi_mass"}, "phi_mass");
   node = node.Define("afenv_best", best, {"afenv_phi_mass", "TripletVtx2_Chi2"})
             .Define("BestTriplet_mass", at_best, {"Triplet2_Mass", "afenv_best"});
   fMass = node.Histo1D<double>({"afenv_mass", "", bins, low, high}, "BestTriplet_mass");
   if (with_truth) {
      auto kind = node.Define("afenv_best_kind", kind_at_best, {"gen_kind", "afenv_best"});
      fTruthDs = kind.Filter([](int k) { return k == 2; }, {"afenv_best_kind"})
                    .Histo1D<double>({"afenv_ds", "", bins, low, high}, "BestTriplet_mass");
      fTruthDplus = kind.Filter([](int k) { return k == 1; }, {"afenv_best_kind"})
                       .Histo1D<double>({"afenv_dplus", "", bins, low, high}, "BestTriplet_mass");
   }
   fSelected = std::make_unique<ROOT::RDF::RNode>(node);
}

void Analysis::Snapshot(const std::string &tree, const std::string &path)
{
   ROOT::RDF::RSnapshotOptions options;
   options.fLazy = true;
   options.fMode = "RECREATE";
   // The stored id types vary between inputs; these string expressions are the only JIT-compiled
   // code of the local mode, and only when harvesting.
   fSnapshot = fSelected->Redefine("run", "static_cast<UInt_t>(run)")
                  .Redefine("lumi", "static_cast<UInt_t>(lumi)")
                  .Redefine("evt", "static_cast<ULong64_t>(evt)")
                  .Snapshot(tree, path, {"run", "lumi", "evt", "BestTriplet_mass"}, options);
}

void Analysis::Run()
{
   fMass.GetValue();
}

std::vector<Long64_t> Analysis::Cutflow()
{
   auto &report = *fReport;
   std::vector<Long64_t> cutflow{static_cast<Long64_t>(report.At("trigger").GetAll())};
   for (const char *step : {"candidate", "window", "acceptance", "separation", "quality", "phi_mass"})
      cutflow.push_back(static_cast<Long64_t>(report.At(step).GetPass()));
   return cutflow;
}

std::vector<double> Analysis::Counts()
{
   return bin_contents(fMass);
}

std::vector<double> Analysis::TruthDs()
{
   return bin_contents(fTruthDs);
}

std::vector<double> Analysis::TruthDplus()
{
   return bin_contents(fTruthDplus);
}

} // namespace rdf
} // namespace afenv_ds
