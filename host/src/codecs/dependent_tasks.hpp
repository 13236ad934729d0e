// Tasks that read what earlier tasks wrote, on several threads: a decoder's lane groups, each
// after the groups that decode its sources (and the residual passes it reads). A short
// recording of many channels has fewer chunks than threads; its chunks' groups are what the
// threads can share.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

namespace spikey::host::codecs {

class DependentTasks {
 public:
  using Task = std::function<void(unsigned worker)>;  // worker: which of the run's threads, for per-thread scratch

  // Adds a task to run once the tasks `after` (indices of tasks added before it) have finished;
  // returns its index.
  std::size_t add(std::span<const std::size_t> after, Task task);
  std::size_t size() const { return tasks_.size(); }

  // Runs every task on up to `threads` threads (one: in the order added, on this thread). A task
  // that throws stops the tasks not yet started; the failure of the earliest-added task that
  // failed is rethrown, so the error is the one that running them in order would give.
  void run(unsigned threads);

  // For the tests: on one thread, run the most recently added task whose dependencies have
  // finished first, so that a dependency left out shows as a wrong result every time.
  static void run_latest_ready_first_for_tests(bool on);

 private:
  struct Entry {
    std::vector<std::size_t> after;
    Task task;
  };
  void run_in_order();
  void run_latest_ready_first();
  std::vector<Entry> tasks_;
};

}  // namespace spikey::host::codecs
