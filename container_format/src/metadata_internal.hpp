// The metadata section's parts besides its JSON (SPEC.md §3.3, §4): the stored zstd frame and
// the validation of a parsed section. Internal to the format library.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "spikey/format/archive.hpp"

namespace spikey::format::detail {

// The stored form of the section's plain bytes (u64 JSON size, JSON, verbatim bytes): one zstd
// frame with its content size, using the version 4 dictionary.
std::vector<std::uint8_t> compress_metadata(const std::vector<std::uint8_t>& plain);

// Throws std::length_error when plain bytes exceed kMaxMetadataContentSize: no reader takes them.
void require_storable(const std::vector<std::uint8_t>& plain);

// The plain bytes of a stored section; throws ArchiveError unless it is one zstd frame of known
// size within kMaxMetadataContentSize that decompresses to exactly that size.
std::vector<std::uint8_t> unpack_metadata(std::span<const std::uint8_t> stored, std::uint16_t version);

// §4.3's rules for a parsed section whose verbatim area holds `verbatim_size` bytes.
void validate(const Metadata& m, std::uint64_t verbatim_size, std::uint16_t version);

}  // namespace spikey::format::detail
