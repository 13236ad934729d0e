// Groups channels for the lockstep kernels: up to kLanes channels of equal sample count, in
// the order they come; a group is handed on when it is full, when the next channel's length
// differs, or at the end. Every prediction loop of the lpc and mo encoders and decoders batches
// its channels this way.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "codecs/lanes/lanes.hpp"

namespace spikey::host::lanes {

template <class Item, class Flush>
class LaneBatcher {
 public:
  explicit LaneBatcher(Flush flush) : flush_(std::move(flush)) { items_.reserve(kLanes); }
  LaneBatcher(const LaneBatcher&) = delete;
  LaneBatcher& operator=(const LaneBatcher&) = delete;
  ~LaneBatcher() = default;  // call finish(): a flush may throw

  void add(Item item, std::uint32_t samples) {
    if (!items_.empty() && samples != samples_) finish();
    items_.push_back(std::move(item));
    samples_ = samples;
    if (items_.size() == static_cast<std::size_t>(kLanes)) finish();
  }

  // Hands on the group in progress, if any.
  void finish() {
    if (items_.empty()) return;
    flush_(std::span<const Item>(items_), samples_);
    items_.clear();
  }

 private:
  Flush flush_;
  std::vector<Item> items_;
  std::uint32_t samples_ = 0;
};

}  // namespace spikey::host::lanes
