// Container records of format versions 1-3, frozen (SPEC.md §3.4, §3.5, §6.3, §9): 40-byte chunk
// headers with first sample and count, 48-byte index entries with record offsets and payload
// checksums, and u32 stream sizes in payloads. Version 4 replaced them with salvage frames, 12-byte
// entries and LEB128 sizes; these are still read (and written for the golden tests). The record
// code calls in here for versions below 4 and nowhere else.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "spikey/format/archive.hpp"
#include "spikey/format/wire.hpp"

namespace spikey::format::legacy {

inline constexpr std::uint16_t kLastVersion = 3;  // versions 1..kLastVersion use these records

// The chunk header's fields after magic and chunk index.
void write_chunk_header_fields(WireWriter& w, const ChunkHeader& header);
void read_chunk_header_fields(WireReader& r, ChunkHeader& header, std::uint64_t file_offset);

// One index entry.
void write_index_entry(WireWriter& w, const IndexEntry& entry);
void read_index_entry(WireReader& r, IndexEntry& entry, std::size_t index);

// A payload's stream size field at `position` (advanced past it); `where` names the field for
// messages.
std::uint64_t read_stream_size(std::span<const std::uint8_t> payload, std::uint64_t& position, const std::string& where);

}  // namespace spikey::format::legacy
