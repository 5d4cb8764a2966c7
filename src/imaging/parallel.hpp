// parallel.hpp — run independent per-page work on the machine's cores.
//
// Pages of a document are independent once the document is parsed: rendering and coding
// them on every core is the cheapest speed-up there is (the converter runs one document per
// process, so its cores are otherwise idle). Worker w handles items w, w + n, w + 2n, ...
// LIMITS: kMaxWorkers threads at most.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

namespace imaging {

inline constexpr unsigned kMaxWorkers = 8;

inline unsigned worker_count(size_t items) {
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  return unsigned(std::min<size_t>({items, hw, kMaxWorkers}));
}

// Calls work(worker_index, worker_count) on `workers` threads (the caller's is worker 0).
inline void run_workers(unsigned workers, const std::function<void(unsigned, unsigned)>& work) {
  std::vector<std::thread> threads;
  for (unsigned w = 1; w < workers; ++w) threads.emplace_back(work, w, workers);
  work(0, workers);
  for (auto& t : threads) t.join();
}

}  // namespace imaging
