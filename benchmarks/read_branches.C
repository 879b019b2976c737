// The I/O ceiling of the Ds benchmark: one thread reads every branch the selection uses, for
// every event, with TTree::GetEntry and nothing else. A mode slower than this spends its time
// beyond reading; a mode faster than this reads less (lazily), as the legacy loop does.
#include <TChain.h>
#include <TTree.h>

#include <string>
#include <vector>

// Returns the number of entries read.
Long64_t read_branches(const std::vector<std::string> &files, const std::string &tree,
                        const std::vector<std::string> &branches)
{
   TChain chain(tree.c_str());
   for (const auto &file : files)
      chain.Add(file.c_str());
   chain.SetBranchStatus("*", false);
   for (const auto &branch : branches)
      chain.SetBranchStatus(branch.c_str(), true);
   Long64_t entry = 0;
   while (chain.GetEntry(entry) > 0)
      ++entry;
   return entry;
}
