#include "codecs/dependent_tasks.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace spikey::host::codecs {

namespace {
std::atomic<bool> latest_ready_first{false};
}

void DependentTasks::run_latest_ready_first_for_tests(bool on) { latest_ready_first = on; }

std::size_t DependentTasks::add(std::span<const std::size_t> after, Task task) {
  for (const std::size_t d : after)
    if (d >= tasks_.size()) throw std::logic_error("DependentTasks::add: a task can only wait for tasks added before it");
  tasks_.push_back({std::vector<std::size_t>(after.begin(), after.end()), std::move(task)});
  return tasks_.size() - 1;
}

void DependentTasks::run_in_order() {
  for (Entry& e : tasks_) e.task(0);
}

void DependentTasks::run_latest_ready_first() {
  const std::size_t n = tasks_.size();
  std::vector<char> done(n, 0);
  for (std::size_t finished = 0; finished < n; ++finished) {
    std::size_t i = n;
    while (i-- > 0) {
      if (done[i]) continue;
      const auto& after = tasks_[i].after;
      if (std::all_of(after.begin(), after.end(), [&](std::size_t d) { return done[d] != 0; })) break;
    }
    tasks_[i].task(0);  // the earliest task not done is always ready: i is a task
    done[i] = 1;
  }
}

void DependentTasks::run(unsigned threads) {
  const std::size_t n = tasks_.size();
  if (threads <= 1 || n <= 1) return latest_ready_first ? run_latest_ready_first() : run_in_order();
  enum State : char { pending, done, failed };
  std::vector<State> state(n, pending);
  std::vector<std::exception_ptr> errors(n);
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t next = 0;
  bool stop = false;
  // Tasks are claimed in the order added, so every task a claimed task waits for is claimed
  // too: running, or itself waiting for earlier ones, never for later ones.
  const auto worker = [&](unsigned w) {
    for (;;) {
      std::size_t i = 0;
      bool runnable = true;
      {
        std::unique_lock lock(mutex);
        if (stop || next >= n) return;
        i = next++;
        const auto& after = tasks_[i].after;
        changed.wait(lock, [&] { return std::all_of(after.begin(), after.end(), [&](std::size_t d) { return state[d] != pending; }); });
        runnable = std::all_of(after.begin(), after.end(), [&](std::size_t d) { return state[d] == done; });
        if (!runnable) state[i] = failed;  // what it reads was not written: the earlier failure is the error
      }
      if (!runnable) {
        changed.notify_all();
        continue;
      }
      try {
        tasks_[i].task(w);
      } catch (...) {
        errors[i] = std::current_exception();
      }
      {
        std::lock_guard lock(mutex);
        state[i] = errors[i] ? failed : done;
        if (errors[i]) stop = true;
      }
      changed.notify_all();
    }
  };
  const auto count = static_cast<unsigned>(std::min<std::size_t>(threads, n));
  std::vector<std::thread> pool;
  for (unsigned w = 1; w < count; ++w) {
    try {
      pool.emplace_back(worker, w);
    } catch (const std::system_error&) {  // no more threads to be had: the ones running do the work
      break;
    }
  }
  worker(0);
  for (auto& t : pool) t.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace spikey::host::codecs
