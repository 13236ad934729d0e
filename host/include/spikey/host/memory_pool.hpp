// Host memory for a batch's samples and packed words that an executor reads or writes directly:
// blocks kept and handed out again from one batch to the next. The CUDA executor's blocks are
// page-locked, so its uploads and downloads run as DMA straight from the gathered samples and
// into the words the payloads are assembled from (no staging copy either way), and a recycled
// block is not faulted in again page by page.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <utility>

#include "spikey/host/uninitialized.hpp"

namespace spikey::host {

class HostMemoryPool {
 public:
  HostMemoryPool(const HostMemoryPool&) = delete;
  HostMemoryPool& operator=(const HostMemoryPool&) = delete;
  virtual ~HostMemoryPool() = default;

  // At least `bytes`, 64-byte aligned: a block given back earlier when one fits (the smallest
  // that does, unless it is more than twice the size asked for), else a new one. Thread-safe.
  void* allocate(std::size_t bytes);
  // Gives back a block allocate() returned; it is kept for reuse (the largest kept_blocks of
  // them; the others go back to their source).
  void deallocate(void* block) noexcept;
  // Whether [p, p + bytes) lies within one block handed out and not given back.
  bool owns(const void* p, std::size_t bytes) const;

  struct Counts {
    std::size_t made = 0;      // blocks obtained from the source so far
    std::size_t in_use = 0;    // blocks handed out now
    std::size_t kept = 0;      // blocks given back and kept for reuse
    std::size_t held_bytes = 0;  // bytes of the blocks in use and kept
  };
  Counts counts() const;

 protected:
  explicit HostMemoryPool(std::size_t kept_blocks = 8) : kept_blocks_(kept_blocks) {}
  // The source of blocks (bytes: a multiple of kGranule).
  virtual void* make_block(std::size_t bytes) = 0;
  virtual void free_block(void* block, std::size_t bytes) noexcept = 0;
  // Returns every kept block to the source; a subclass's destructor calls it, since the base
  // class's destructor can no longer reach the subclass's free_block. Blocks still in use are
  // the caller's error (each pooled allocator keeps its pool alive, so none should be).
  void release_kept() noexcept;

 public:
  static constexpr std::size_t kGranule = std::size_t{2} << 20;  // sizes round up to 2 MiB: batches of similar size share blocks

 private:
  mutable std::mutex mutex_;
  std::map<const void*, std::size_t> in_use_;  // block -> bytes
  std::multimap<std::size_t, void*> kept_;     // bytes -> block
  std::size_t kept_blocks_ = 8;
  std::size_t made_ = 0;
};

// Blocks from the heap (the tests, and any executor without memory of its own to offer).
class HeapMemoryPool final : public HostMemoryPool {
 public:
  explicit HeapMemoryPool(std::size_t kept_blocks = 8) : HostMemoryPool(kept_blocks) {}
  ~HeapMemoryPool() override { release_kept(); }

 private:
  void* make_block(std::size_t bytes) override { return ::operator new(bytes, std::align_val_t{64}); }
  void free_block(void* block, std::size_t) noexcept override { ::operator delete(block, std::align_val_t{64}); }
};

// A vector's allocator from a pool (none: the heap), whose new elements are left uninitialized
// as UninitializedAllocator's. Each allocator keeps its pool alive, so a vector may outlive
// whoever made the pool.
template <class T>
struct PoolAllocator : DefaultInitializingConstruct {
  using value_type = T;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  using is_always_equal = std::false_type;

  std::shared_ptr<HostMemoryPool> pool;

  PoolAllocator() = default;
  explicit PoolAllocator(std::shared_ptr<HostMemoryPool> from) noexcept : pool(std::move(from)) {}
  template <class U>
  PoolAllocator(const PoolAllocator<U>& other) noexcept : pool(other.pool) {}

  T* allocate(std::size_t n) {
    if (pool) return static_cast<T*>(pool->allocate(n * sizeof(T)));
    return std::allocator<T>{}.allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (pool) pool->deallocate(p);
    else std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const PoolAllocator<U>& other) const noexcept {
    return pool == other.pool;
  }
};

}  // namespace spikey::host
