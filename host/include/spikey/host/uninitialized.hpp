// Allocates like std::allocator, but a resized vector's new elements are left uninitialized
// (default-initialized) where whoever fills it writes every element before anything reads it:
// zero-filling first is a second pass over memory that is then overwritten.
#pragma once

#include <memory>
#include <new>
#include <utility>

namespace spikey::host {

// An allocator's construct(): default-initialization where no value is given (no zero-fill).
struct DefaultInitializingConstruct {
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

template <class T>
struct UninitializedAllocator : std::allocator<T>, DefaultInitializingConstruct {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
};

}  // namespace spikey::host
