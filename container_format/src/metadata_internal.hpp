// The metadata section's parts besides its JSON (SPEC.md §3.3, §4): the stored zstd frame and
// the validation of a parsed section. Internal to the format library.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "spikey/format/archive.hpp"

namespace spikey::format::detail {

// The stored form of the section's plain bytes (u64 JSON size and JSON: `head`; then the
// verbatim bytes, in pieces): zstd frames with their content sizes, using the version 4 dictionary (§3.3).
std::vector<std::uint8_t> compress_metadata(std::span<const std::uint8_t> head, std::span<const std::span<const std::uint8_t>> verbatim,
                                            const MetadataFrameOptions& sizes);

// Throws std::length_error when the plain bytes would exceed kMaxMetadataContentSize: no
// reader takes them.
void require_storable(std::uint64_t content_size);

// A zstd frame of the stored section: where it lies in it and the content size it declares.
struct StoredFrame {
  std::uint64_t offset = 0, size = 0, content_size = 0;
};
// The frames of a stored section; throws ArchiveError unless it is one zstd frame (up to
// version 14) or several (from 15) of known sizes, each within kMaxMetadataFrameContent, in all
// within kMaxMetadataContentSize, that span it exactly.
std::vector<StoredFrame> find_metadata_frames(std::span<const std::uint8_t> stored, std::uint16_t version);
// Appends a frame's content to `out`; throws ArchiveError unless it decompresses to exactly its
// declared size.
void append_metadata_frame(std::span<const std::uint8_t> stored, const StoredFrame& frame, std::uint16_t version, std::vector<std::uint8_t>& out);

// §4.3's rules for a parsed section whose verbatim area holds `verbatim_size` bytes.
void validate(const Metadata& m, std::uint64_t verbatim_size, std::uint16_t version);

}  // namespace spikey::format::detail
