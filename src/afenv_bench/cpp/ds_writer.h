// Fills the CMS-style Tree3Mu/ntuple from flat, column-wise arrays made by the Python generator.
//
// The generator draws everything vectorised in numpy; only the per-event copy into std::vector
// branches happens here, compiled, because a Python loop over events would be the bottleneck.
#ifndef AFENV_DS_WRITER_H
#define AFENV_DS_WRITER_H

#include <RtypesCore.h>
#include <TTree.h>

#include <map>
#include <string>
#include <vector>

namespace afenv_ds {

class NtupleWriter {
public:
   enum Collection { kMuon = 0, kTrack = 1, kTriplet = 2 };

   NtupleWriter(TTree *tree, const std::vector<std::string> &hlt_names, const std::vector<std::string> &l1_names)
      : fHltNames(hlt_names), fL1Names(l1_names)
   {
      tree->Branch("run", &fRun, "run/i");
      tree->Branch("lumi", &fLumi, "lumi/i");
      tree->Branch("evt", &fEvt, "evt/l");
      tree->Branch("Trigger_hltname", &fHltNames);
      tree->Branch("Trigger_hltdecision", &fHltDecision);
      tree->Branch("Trigger_l1name", &fL1Names);
      tree->Branch("Trigger_l1decision", &fL1Decision);
      for (const char *name : {"MuonPt", "MuonEta", "MuonPhi"})
         AddDouble(name, kMuon);
      for (const char *name : {"Muon_isGlobal", "Muon_isPF"})
         tree->Branch(name, &fBools[name]);
      for (const char *name : {"TrackPt", "TrackEta", "TrackPhi", "Track_dz", "Track_dxy"})
         AddDouble(name, kTrack);
      for (const char *name :
           {"Triplet2_Mass", "FlightDistBS_SV_Significance", "TripletVtx2_Chi2", "Mu01_Pt", "Mu01_Eta", "Mu01_Phi",
            "Mu02_Pt", "Mu02_Eta", "Mu02_Phi", "Tr_Pt", "Tr_Eta", "Tr_Phi", "RefTrack1_Pt", "RefTrack1_Eta",
            "RefTrack1_Phi", "RefTrack2_Pt", "RefTrack2_Eta", "RefTrack2_Phi"})
         AddDouble(name, kTriplet);
      for (const char *name : {"RefittedPV2_NTracks", "gen_kind"})
         tree->Branch(name, &fInts[name]);
      fTree = tree;
   }

   void SetEventIds(const UInt_t *run, const UInt_t *lumi, const ULong64_t *evt)
   {
      fRunIn = run;
      fLumiIn = lumi;
      fEvtIn = evt;
   }
   // Row-major [event][name] decisions.
   void SetTriggers(const int *hlt, const int *l1)
   {
      fHltIn = hlt;
      fL1In = l1;
   }
   // n_events + 1 offsets per collection into the flat arrays.
   void SetOffsets(const Long64_t *muon, const Long64_t *track, const Long64_t *triplet)
   {
      fOffsets[kMuon] = muon;
      fOffsets[kTrack] = track;
      fOffsets[kTriplet] = triplet;
   }
   void SetDouble(const std::string &name, const double *data) { fDoubleIn[name] = data; }
   void SetInt(const std::string &name, const int *data) { fIntIn[name] = data; }
   void SetBool(const std::string &name, const bool *data) { fBoolIn[name] = data; }

   void Fill(Long64_t n_events)
   {
      const std::size_t n_hlt = fHltNames.size();
      const std::size_t n_l1 = fL1Names.size();
      fHltDecision.resize(n_hlt);
      fL1Decision.resize(n_l1);
      for (Long64_t i = 0; i < n_events; ++i) {
         fRun = fRunIn[i];
         fLumi = fLumiIn[i];
         fEvt = fEvtIn[i];
         for (std::size_t k = 0; k < n_hlt; ++k)
            fHltDecision[k] = fHltIn[i * n_hlt + k];
         for (std::size_t k = 0; k < n_l1; ++k)
            fL1Decision[k] = fL1In[i * n_l1 + k];
         for (auto &[name, buffer] : fDoubles) {
            const Long64_t *offsets = fOffsets[fCollection[name]];
            const double *data = fDoubleIn[name];
            buffer.assign(data + offsets[i], data + offsets[i + 1]);
         }
         const Long64_t *muons = fOffsets[kMuon];
         for (auto &[name, buffer] : fBools) {
            const bool *data = fBoolIn[name];
            buffer.assign(data + muons[i], data + muons[i + 1]);
         }
         const Long64_t *triplets = fOffsets[kTriplet];
         for (auto &[name, buffer] : fInts) {
            const int *data = fIntIn[name];
            buffer.assign(data + triplets[i], data + triplets[i + 1]);
         }
         fTree->Fill();
      }
   }

private:
   void AddDouble(const char *name, Collection collection)
   {
      fCollection[name] = collection;
      fTree0Branch(name);
   }
   void fTree0Branch(const char *name) { fPendingDoubles.push_back(name); }

public:
   // Branches for double collections are created after the map is complete so addresses are stable.
   void Finalize()
   {
      for (const auto &name : fPendingDoubles)
         fTree->Branch(name.c_str(), &fDoubles[name]);
      fPendingDoubles.clear();
   }

private:
   TTree *fTree = nullptr;
   UInt_t fRun = 0, fLumi = 0;
   ULong64_t fEvt = 0;
   std::vector<std::string> fHltNames, fL1Names;
   std::vector<int> fHltDecision, fL1Decision;
   std::map<std::string, std::vector<double>> fDoubles;
   std::map<std::string, std::vector<bool>> fBools;
   std::map<std::string, std::vector<int>> fInts;
   std::map<std::string, Collection> fCollection;
   std::vector<std::string> fPendingDoubles;
   const UInt_t *fRunIn = nullptr, *fLumiIn = nullptr;
   const ULong64_t *fEvtIn = nullptr;
   const int *fHltIn = nullptr, *fL1In = nullptr;
   const Long64_t *fOffsets[3] = {nullptr, nullptr, nullptr};
   std::map<std::string, const double *> fDoubleIn;
   std::map<std::string, const int *> fIntIn;
   std::map<std::string, const bool *> fBoolIn;
};

} // namespace afenv_ds

#endif
