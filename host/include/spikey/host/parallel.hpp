// Threading across chunks: the encoder and decoder treat chunks as independent jobs.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace spikey::host {

inline unsigned default_thread_count() { return std::max(1u, std::thread::hardware_concurrency()); }

// Threads for each of `tasks` jobs run at once on `threads` threads: the threads left over
// when there are fewer jobs than threads (at least one each), for work within a job.
inline unsigned threads_within(std::size_t tasks, unsigned threads) {
  if (tasks == 0 || tasks >= threads) return 1;
  return static_cast<unsigned>((threads + tasks - 1) / tasks);
}

// Runs produce(i) for i in [0, count) on `threads` threads and hands the results to
// consume(i, result) on the calling thread in ascending order of i. At most `window`
// results wait for consumption, which bounds memory. The first exception thrown by
// produce or consume stops the work and is rethrown here.
template <typename Result>
void ordered_parallel(std::size_t count, unsigned threads, std::size_t window,
                      const std::function<Result(std::size_t)>& produce,
                      const std::function<void(std::size_t, Result&)>& consume) {
  if (threads <= 1 || count <= 1) {  // in order on the calling thread: no thread to start and join
    for (std::size_t i = 0; i < count; ++i) {
      Result r = produce(i);
      consume(i, r);
    }
    return;
  }
  window = std::max<std::size_t>(window, threads);
  std::vector<std::optional<Result>> slots(std::min(window, std::max<std::size_t>(count, 1)));
  std::mutex mutex;
  std::condition_variable changed;
  std::size_t next_to_claim = 0;
  std::size_t next_to_consume = 0;
  std::exception_ptr error;

  auto worker = [&] {
    for (;;) {
      std::size_t i;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return error || next_to_claim >= count || next_to_claim < next_to_consume + slots.size(); });
        if (error || next_to_claim >= count) return;
        i = next_to_claim++;
      }
      try {
        Result r = produce(i);
        std::lock_guard lock(mutex);
        slots[i % slots.size()].emplace(std::move(r));
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
      }
      changed.notify_all();
    }
  };

  std::vector<std::thread> pool;
  const unsigned worker_count = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(count, 1)));
  for (unsigned t = 0; t < worker_count; ++t) pool.emplace_back(worker);
  try {
    while (next_to_consume < count) {
      std::optional<Result> ready;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return error || slots[next_to_consume % slots.size()].has_value(); });
        if (error) break;
        ready = std::move(slots[next_to_consume % slots.size()]);
        slots[next_to_consume % slots.size()].reset();
      }
      consume(next_to_consume, *ready);
      {
        std::lock_guard lock(mutex);
        ++next_to_consume;
      }
      changed.notify_all();
    }
  } catch (...) {
    std::lock_guard lock(mutex);
    if (!error) error = std::current_exception();
  }
  changed.notify_all();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

// Runs body(i) for i in [0, count) on up to `threads` threads; rethrows the first exception.
inline void parallel_for(std::size_t count, unsigned threads, const std::function<void(std::size_t)>& body) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (std::size_t i; !failed && (i = next++) < count;) {
      try {
        body(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  const unsigned n = static_cast<unsigned>(std::min<std::size_t>(std::max(1u, threads), count));
  if (n <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < n; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);
}

// A barrier for a team whose steps take tens of microseconds: members spin on a generation
// counter (yielding after a while, so an oversubscribed machine still makes progress) instead of
// sleeping in the kernel, which would cost about as much as a step.
class SpinBarrier {
 public:
  explicit SpinBarrier(unsigned members) : members_(members) {}
  void arrive_and_wait() {
    const unsigned generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == members_) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.store(generation + 1, std::memory_order_release);
      return;
    }
    for (unsigned spins = 0; generation_.load(std::memory_order_acquire) == generation; ++spins)
      if (spins > 4096) std::this_thread::yield();
  }

 private:
  const unsigned members_;
  std::atomic<unsigned> arrived_{0};
  std::atomic<unsigned> generation_{0};
};

// Runs body(member, members, sync) on `members` threads at once (the caller is member 0), for
// loops of many short steps each split across the team (training batches), where starting
// threads per step would cost more than the step: members call sync.arrive_and_wait() between
// a step's phases. The body must not throw (a member that left would leave the others waiting).
template <class Body>
void run_as_team(unsigned members, Body&& body) {
  members = std::max(1u, members);
  SpinBarrier sync(members);
  std::vector<std::thread> pool;
  for (unsigned m = 1; m < members; ++m) pool.emplace_back([&, m] { body(m, members, sync); });
  body(0u, members, sync);
  for (auto& t : pool) t.join();
}

}  // namespace spikey::host
