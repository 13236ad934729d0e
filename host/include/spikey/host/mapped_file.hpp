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
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;

  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  std::uint64_t size() const { return size_; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::uint64_t size_ = 0;
  std::optional<ProtectedInput> protected_;  // never an output while mapped
};

}  // namespace spikey::host
