#include "legacy/records_v1_v3.hpp"

namespace spikey::format::legacy {

void write_chunk_header_fields(WireWriter& w, const ChunkHeader& header) {
  w.u64(header.first_sample);
  w.u32(header.sample_count);
  w.u32(0);  // reserved
  w.u64(header.payload_size);
  w.u64(header.payload_checksum);
}

void read_chunk_header_fields(WireReader& r, ChunkHeader& h, std::uint64_t file_offset) {
  h.first_sample = r.u64();
  h.sample_count = r.u32();
  if (r.u32() != 0) throw ArchiveError("chunk header at byte " + std::to_string(file_offset) + " has a non-zero reserved field");
  h.payload_size = r.u64();
  h.payload_checksum = r.u64();
}

void write_index_entry(WireWriter& w, const IndexEntry& e) {
  w.u64(e.first_sample);
  w.u32(e.sample_count);
  w.u32(0);  // reserved
  w.u64(e.record_offset);
  w.u64(e.payload_size);
  w.u64(e.payload_checksum);
  w.u64(e.samples_checksum);
}

void read_index_entry(WireReader& r, IndexEntry& e, std::size_t index) {
  e.first_sample = r.u64();
  e.sample_count = r.u32();
  if (r.u32() != 0) throw ArchiveError("index entry " + std::to_string(index) + " has a non-zero reserved field");
  e.record_offset = r.u64();
  e.payload_size = r.u64();
  e.payload_checksum = r.u64();
  e.samples_checksum = r.u64();
}

std::uint64_t read_stream_size(std::span<const std::uint8_t> payload, std::uint64_t& position, const std::string& where) {
  if (payload.size() - position < 4) throw ArchiveError(where + ": payload too short for its stream directory");
  const std::uint64_t size = load_u32_le(payload.data() + position);
  position += 4;
  if (size % 4 != 0) throw ArchiveError(where + ": stream size " + std::to_string(size) + " is invalid");
  return size;
}

}  // namespace spikey::format::legacy
