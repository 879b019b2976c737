// The local-mode RDataFrame graph of the Ds selection, booked in compiled code (ds_rdf.C): no JIT
// and no Python-side template instantiation, which together cost several seconds per process
// with string expressions. The distributed mode builds the same graph from Python
// (analysis._book) over the same step functions (ds_steps.h).
#ifndef AFENV_DS_RDF_H
#define AFENV_DS_RDF_H

#include "ds_steps.h"

#include <ROOT/RDataFrame.hxx>
#include <RtypesCore.h>
#include <TH1D.h>

#include <memory>
#include <string>
#include <vector>

namespace afenv_ds {
namespace rdf {

class Analysis {
public:
   Analysis(const std::string &tree, const std::vector<std::string> &files, bool with_truth, int bins, double low,
            double high);
   // Books the harvest: tree `tree` in `path` with run, lumi, evt and BestTriplet_mass of each selected event,
   // the ids converted to fixed types whatever their stored ones (lazy, filled by Run).
   void Snapshot(const std::string &tree, const std::string &path);
   void Run();                         // the one event loop that fills every booked result
   std::vector<Long64_t> Cutflow();    // events, then events with a candidate passing steps 1..6
   std::vector<double> Counts();       // BestTriplet_mass per bin
   std::vector<double> TruthDs();      // same for true Ds+ best candidates (with_truth only)
   std::vector<double> TruthDplus();   // same for true D+

private:
   ROOT::RDataFrame fFrame;
   std::unique_ptr<ROOT::RDF::RNode> fSelected;
   ROOT::RDF::RResultPtr<ROOT::RDF::RCutFlowReport> fReport;
   ROOT::RDF::RResultPtr<TH1D> fMass, fTruthDs, fTruthDplus;
   ROOT::RDF::RResultPtr<ROOT::RDF::RInterface<ROOT::Detail::RDF::RLoopManager>> fSnapshot;
};

} // namespace rdf
} // namespace afenv_ds

#endif
