// Fills the CMS-style Tree3Mu/ntuple from flat, column-wise arrays made by the Python generator.
//
// The generator draws everything vectorised in numpy; only the per-event copy into std::vector
// branches happens here, compiled, because a Python loop over events would be the bottleneck.
#ifndef AFENV_DS_WRITER_H
#define AFENV_DS_WRITER_H

#include <RtypesCore.h>
#include <TTree.h>

#include <deque>

// The fill loop is the generator's hot path; ask cling to optimise it like compiled code.
#pragma cling optimize(3)
#include <stdexcept>
#include <string>
#include <vector>

namespace afenv_ds {

class NtupleWriter {
public:
   enum Collection { kMuon = 0, kTrack = 1, kTriplet = 2 };

   NtupleWriter(TTree *tree, const std::vector<std::string> &hlt_names, const std::vector<std::string> &l1_names)
      : fTree(tree), fHltNames(hlt_names), fL1Names(l1_names)
   {
      fTree->Branch("run", &fRun, "run/i");
      fTree->Branch("lumi", &fLumi, "lumi/i");
      fTree->Branch("evt", &fEvt, "evt/l");
      fTree->Branch("Trigger_hltname", &fHltNames);
      fTree->Branch("Trigger_hltdecision", &fHltDecision);
      fTree->Branch("Trigger_l1name", &fL1Names);
      fTree->Branch("Trigger_l1decision", &fL1Decision);
      for (const char *name : {"MuonPt", "MuonEta", "MuonPhi"})
         Add(fDoubles, name, kMuon);
      for (const char *name : {"Muon_isGlobal", "Muon_isPF"})
         Add(fBools, name, kMuon);
      for (const char *name : {"TrackPt", "TrackEta", "TrackPhi", "Track_dz", "Track_dxy"})
         Add(fDoubles, name, kTrack);
      for (const char *name :
           {"Triplet2_Mass", "FlightDistBS_SV_Significance", "TripletVtx2_Chi2", "Mu01_Pt", "Mu01_Eta", "Mu01_Phi",
            "Mu02_Pt", "Mu02_Eta", "Mu02_Phi", "Tr_Pt", "Tr_Eta", "Tr_Phi", "RefTrack1_Pt", "RefTrack1_Eta",
            "RefTrack1_Phi", "RefTrack2_Pt", "RefTrack2_Eta", "RefTrack2_Phi"})
         Add(fDoubles, name, kTriplet);
      for (const char *name : {"RefittedPV2_NTracks", "gen_kind"})
         Add(fInts, name, kTriplet);
   }

   void SetEventIds(const UInt_t *run, const UInt_t *lumi, const ULong64_t *evt)
   {
      fRunIn = run;
      fLumiIn = lumi;
      fEvtIn = evt;
   }
   // Row-major [event][trigger name] decisions.
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
   void SetDouble(const std::string &name, const double *data) { Find(fDoubles, name).input = data; }
   void SetInt(const std::string &name, const int *data) { Find(fInts, name).input = data; }
   void SetBool(const std::string &name, const bool *data) { Find(fBools, name).input = data; }

   void Fill(Long64_t n_events)
   {
      fHltDecision.resize(fHltNames.size());
      fL1Decision.resize(fL1Names.size());
      for (Long64_t i = 0; i < n_events; ++i) {
         fRun = fRunIn[i];
         fLumi = fLumiIn[i];
         fEvt = fEvtIn[i];
         for (std::size_t k = 0; k < fHltDecision.size(); ++k)
            fHltDecision[k] = fHltIn[i * fHltDecision.size() + k];
         for (std::size_t k = 0; k < fL1Decision.size(); ++k)
            fL1Decision[k] = fL1In[i * fL1Decision.size() + k];
         Copy(fDoubles, i);
         Copy(fBools, i);
         Copy(fInts, i);
         fTree->Fill();
      }
   }

private:
   template <class T>
   struct Column {
      std::string name;
      Collection collection;
      std::vector<T> buffer;
      const T *input = nullptr;
   };

   // std::deque keeps element addresses stable while columns are added, as TTree branches need.
   template <class T>
   void Add(std::deque<Column<T>> &columns, const char *name, Collection collection)
   {
      columns.push_back(Column<T>{name, collection, {}, nullptr});
      fTree->Branch(name, &columns.back().buffer);
   }

   template <class T>
   static Column<T> &Find(std::deque<Column<T>> &columns, const std::string &name)
   {
      for (auto &column : columns)
         if (column.name == name)
            return column;
      throw std::invalid_argument("NtupleWriter: unknown column " + name);
   }

   template <class T>
   void Copy(std::deque<Column<T>> &columns, Long64_t i)
   {
      for (auto &column : columns) {
         const Long64_t *offsets = fOffsets[column.collection];
         column.buffer.assign(column.input + offsets[i], column.input + offsets[i + 1]);
      }
   }

   TTree *fTree;
   UInt_t fRun = 0, fLumi = 0;
   ULong64_t fEvt = 0;
   std::vector<std::string> fHltNames, fL1Names;
   std::vector<int> fHltDecision, fL1Decision;
   std::deque<Column<double>> fDoubles;
   std::deque<Column<bool>> fBools;
   std::deque<Column<int>> fInts;
   const UInt_t *fRunIn = nullptr, *fLumiIn = nullptr;
   const ULong64_t *fEvtIn = nullptr;
   const int *fHltIn = nullptr, *fL1In = nullptr;
   const Long64_t *fOffsets[3] = {nullptr, nullptr, nullptr};
};

} // namespace afenv_ds

#endif
