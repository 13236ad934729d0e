// Read-only memory map of an input file: large recordings are read in place, chunk by chunk.
// While mapped, the file cannot be an output (ProtectedInput).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>

#include "spikey/host/output_file.hpp"

namespace spikey::host {

class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);  // throws std::runtime_error
  // Bytes already in memory (a NumPy array), read in place: the caller keeps them alive.
  static MappedFile view(std::span<const std::uint8_t> bytes);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;

  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  std::uint64_t size() const { return size_; }

 private:
  MappedFile() = default;
  const std::uint8_t* data_ = nullptr;
  std::uint64_t size_ = 0;
  bool mapped_ = false;  // data_ is this object's mmap (not a view)
  std::optional<ProtectedInput> protected_;  // never an output while mapped
};

}  // namespace spikey::host
