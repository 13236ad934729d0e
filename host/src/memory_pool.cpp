#include "spikey/host/memory_pool.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

namespace spikey::host {

void* HostMemoryPool::allocate(std::size_t bytes) {
  const std::size_t size = (std::max<std::size_t>(bytes, 1) + kGranule - 1) / kGranule * kGranule;
  {
    const std::lock_guard lock(mutex_);
    // The smallest kept block that holds it, unless more than twice its size: a batch's block
    // for the next batch, not the whole batch's for a last, short one (which would leave the
    // next full batch without).
    if (const auto it = kept_.lower_bound(size); it != kept_.end() && it->first <= 2 * size) {
      void* block = it->second;
      in_use_.emplace(block, it->first);
      kept_.erase(it);
      return block;
    }
  }
  void* block = make_block(size);  // outside the lock: page-locking hundreds of megabytes takes a while
  const std::lock_guard lock(mutex_);
  in_use_.emplace(block, size);
  ++made_;
  return block;
}

void HostMemoryPool::deallocate(void* block) noexcept {
  if (block == nullptr) return;
  std::vector<std::pair<void*, std::size_t>> surplus;
  {
    const std::lock_guard lock(mutex_);
    const auto it = in_use_.find(block);
    if (it == in_use_.end()) return;  // not this pool's: nothing to give back
    kept_.emplace(it->second, block);
    in_use_.erase(it);
    while (kept_.size() > kept_blocks_) {  // the smallest go: the large ones cost the most to make again
      surplus.emplace_back(kept_.begin()->second, kept_.begin()->first);
      kept_.erase(kept_.begin());
    }
  }
  for (const auto& [p, bytes] : surplus) free_block(p, bytes);
}

bool HostMemoryPool::owns(const void* p, std::size_t bytes) const {
  const std::lock_guard lock(mutex_);
  auto it = in_use_.upper_bound(p);  // the first block starting after p
  if (it == in_use_.begin()) return false;
  it = std::prev(it);
  const auto* start = static_cast<const unsigned char*>(it->first);
  const auto* at = static_cast<const unsigned char*>(p);
  return at >= start && static_cast<std::size_t>(at - start) <= it->second && bytes <= it->second - static_cast<std::size_t>(at - start);
}

HostMemoryPool::Counts HostMemoryPool::counts() const {
  const std::lock_guard lock(mutex_);
  Counts c;
  c.made = made_;
  c.in_use = in_use_.size();
  c.kept = kept_.size();
  for (const auto& [block, bytes] : in_use_) c.held_bytes += bytes;
  for (const auto& [bytes, block] : kept_) c.held_bytes += bytes;
  return c;
}

void HostMemoryPool::release_kept() noexcept {
  std::multimap<std::size_t, void*> kept;
  {
    const std::lock_guard lock(mutex_);
    kept.swap(kept_);
  }
  for (const auto& [bytes, block] : kept) free_block(block, bytes);
}

}  // namespace spikey::host
