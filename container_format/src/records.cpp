// The container's fixed records (SPEC.md §3): file header, chunk frames, index, footer.
#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "legacy/records_v1_v3.hpp"
#include "spikey/format/archive.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/wire.hpp"

namespace spikey::format {

namespace {

[[noreturn]] void fail(const std::string& message) { throw ArchiveError(message); }

void require_size(std::span<const std::uint8_t> bytes, std::size_t size, const char* what) {
  if (bytes.size() < size) fail(std::string(what) + " is truncated");
}

}  // namespace

std::string checksum_hex(std::uint64_t checksum) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(checksum));
  return text;
}

// ---- §3.2 file header -------------------------------------------------------------------

std::vector<std::uint8_t> serialize(const FileHeader& header) {
  std::vector<std::uint8_t> out;
  WireWriter w(out);
  w.bytes(kFileMagic);
  w.u16(header.format_version);
  w.u16(0);                               // reserved
  w.u32(kFileHeaderSize);                 // header size
  w.u64(header.metadata_size);
  w.u64(header.metadata_checksum);
  w.u64(checksum64(out));                 // header checksum over bytes 0..31
  return out;
}

FileHeader read_file_header_fields(std::span<const std::uint8_t> bytes) {
  require_size(bytes, kFileHeaderSize, "file header");
  WireReader r(bytes);
  r.bytes(kFileMagic.size());
  FileHeader h;
  h.format_version = r.u16();
  r.u16();  // reserved
  r.u32();  // header size
  h.metadata_size = r.u64();
  h.metadata_checksum = r.u64();
  return h;
}

FileHeader parse_file_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kFileMagic.size() || !std::equal(kFileMagic.begin(), kFileMagic.end(), bytes.begin()))
    fail("not a Spikey archive (bad magic at byte 0)");
  require_size(bytes, kFileHeaderSize, "file header");
  WireReader r(bytes);
  r.bytes(kFileMagic.size());
  FileHeader h;
  h.format_version = r.u16();
  const std::uint16_t reserved = r.u16();
  const std::uint32_t header_size = r.u32();
  h.metadata_size = r.u64();
  h.metadata_checksum = r.u64();
  const std::uint64_t stored = r.u64();
  if (stored != checksum64(bytes.first(32))) fail("file header checksum mismatch (bytes 0..39)");
  if (h.format_version == 0 || h.format_version > kFormatVersion)
    fail("archive format version " + std::to_string(h.format_version) + " is not supported (this reader knows 1.." +
         std::to_string(kFormatVersion) + ")");
  if (reserved != 0 || header_size != kFileHeaderSize) fail("file header has unknown fields (byte 10)");
  return h;
}

// ---- §3.4 chunk record: a salvage frame (version 4 on; legacy/ holds versions 1-3) ---------

std::vector<std::uint8_t> serialize(const ChunkHeader& header, std::uint16_t version) {
  std::vector<std::uint8_t> out;
  WireWriter w(out);
  w.u32(kChunkMagic);
  w.u32(header.chunk_index);
  if (version <= legacy::kLastVersion) {
    legacy::write_chunk_header_fields(w, header);
    return out;
  }
  if (header.payload_size > 0xffffffffu) throw std::length_error("chunk payload over 4 GiB");
  w.u32(static_cast<std::uint32_t>(header.payload_size));
  w.u64(header.payload_checksum);
  return out;
}

bool starts_chunk_record(std::span<const std::uint8_t> bytes) { return bytes.size() >= 4 && load_u32_le(bytes.data()) == kChunkMagic; }

ChunkHeader parse_chunk_header(std::span<const std::uint8_t> bytes, std::uint64_t file_offset, std::uint16_t version) {
  require_size(bytes, chunk_header_size(version), "chunk header");
  WireReader r(bytes);
  if (r.u32() != kChunkMagic) fail("chunk header at byte " + std::to_string(file_offset) + " has a bad magic");
  ChunkHeader h;
  h.chunk_index = r.u32();
  if (version <= legacy::kLastVersion) {
    legacy::read_chunk_header_fields(r, h, file_offset);
    return h;
  }
  h.payload_size = r.u32();
  h.payload_checksum = r.u64();
  return h;
}

// ---- §3.5 index ---------------------------------------------------------------------------

std::vector<std::uint8_t> serialize_index(std::span<const IndexEntry> entries, std::uint16_t version) {
  std::vector<std::uint8_t> out;
  out.reserve(entries.size() * index_entry_size(version));
  WireWriter w(out);
  for (const auto& e : entries) {
    if (version <= legacy::kLastVersion) {
      legacy::write_index_entry(w, e);
      continue;
    }
    if (e.payload_size > 0xffffffffu) throw std::length_error("chunk payload over 4 GiB");
    w.u32(static_cast<std::uint32_t>(e.payload_size));
    w.u64(e.samples_checksum);
  }
  return out;
}

std::vector<IndexEntry> parse_index(std::span<const std::uint8_t> bytes, std::uint16_t version) {
  const std::size_t entry_size = index_entry_size(version);
  if (bytes.size() % entry_size != 0) fail("index size is not a multiple of the entry size");
  std::vector<IndexEntry> entries(bytes.size() / entry_size);
  WireReader r(bytes);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    if (version <= legacy::kLastVersion) {
      legacy::read_index_entry(r, e, i);
      continue;
    }
    e.payload_size = r.u32();
    e.samples_checksum = r.u64();
  }
  return entries;
}

// ---- §3.6 footer --------------------------------------------------------------------------

std::vector<std::uint8_t> serialize(const Footer& footer) {
  std::vector<std::uint8_t> out;
  WireWriter w(out);
  w.u64(footer.index_offset);
  w.u64(footer.chunk_count);
  w.u64(footer.index_checksum);
  w.u64(footer.reserved);
  w.u64(checksum64(out));  // footer checksum over bytes 0..31
  w.bytes(kFooterMagic);
  return out;
}

Footer parse_footer(std::span<const std::uint8_t> bytes) {
  require_size(bytes, kFooterSize, "footer");
  if (!std::equal(kFooterMagic.begin(), kFooterMagic.end(), bytes.begin() + 40))
    fail("archive is truncated or damaged: no end marker in the last 8 bytes");
  WireReader r(bytes);
  Footer f;
  f.index_offset = r.u64();
  f.chunk_count = r.u64();
  f.index_checksum = r.u64();
  f.reserved = r.u64();
  if (r.u64() != checksum64(bytes.first(32))) fail("footer checksum mismatch");
  if (f.reserved != 0) fail("footer has a non-zero reserved field");
  return f;
}

// ---- §3.7 metadata copy trailer (version 10) -----------------------------------------------

std::vector<std::uint8_t> serialize(const MetadataTrailer& trailer) {
  std::vector<std::uint8_t> out;
  WireWriter w(out);
  w.u64(trailer.metadata_size);
  w.u64(trailer.metadata_checksum);
  w.bytes(kMetadataCopyMagic);
  return out;
}

MetadataTrailer parse_metadata_trailer(std::span<const std::uint8_t> bytes) {
  require_size(bytes, kMetadataTrailerSize, "metadata copy trailer");
  if (!std::equal(kMetadataCopyMagic.begin(), kMetadataCopyMagic.end(), bytes.begin() + 16)) fail("metadata copy trailer has no magic");
  WireReader r(bytes);
  MetadataTrailer t;
  t.metadata_size = r.u64();
  t.metadata_checksum = r.u64();
  return t;
}

}  // namespace spikey::format
