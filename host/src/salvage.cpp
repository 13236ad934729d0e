#include "spikey/host/salvage.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/archive_writer.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/format/wire.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/mapped_file.hpp"
#include "spikey/host/output_file.hpp"
#include "spikey/host/parallel.hpp"

namespace spikey::host {

namespace fs = std::filesystem;
using format::ArchiveError;

namespace {

struct Recovered {
  format::FileHeader header;
  format::MetadataSection section;
  std::uint64_t metadata_end = 0;
};

// Header and metadata. A damaged header is worked around when the metadata checksum it holds
// still matches the zstd frame found right after it: the metadata is then known intact.
Recovered recover_metadata(std::span<const std::uint8_t> file, std::vector<std::string>& notes) {
  if (file.size() < format::kFileHeaderSize) throw ArchiveError("cannot salvage: the file is shorter than an archive header");
  Recovered r;
  try {
    r.header = format::parse_file_header(file.first(format::kFileHeaderSize));
  } catch (const ArchiveError& e) {
    const std::uint64_t size = format::find_metadata_section_size(file.subspan(format::kFileHeaderSize));
    const format::FileHeader fields = format::read_file_header_fields(file.first(format::kFileHeaderSize));
    const std::uint64_t claimed_checksum = fields.metadata_checksum;
    if (size == 0 || format::checksum64(file.subspan(format::kFileHeaderSize, size)) != claimed_checksum)
      throw ArchiveError(std::string("cannot salvage: the file header is damaged (") + e.what() +
                         ") and the metadata after it cannot be confirmed intact");
    r.header.metadata_size = size;
    r.header.metadata_checksum = claimed_checksum;
    const std::uint16_t version = fields.format_version;
    r.header.format_version = version >= 4 && version <= format::kFormatVersion ? version : format::kFormatVersion;
    notes.push_back(std::string("file header damaged (") + e.what() + "); metadata found after it and matched its checksum");
  }
  if (r.header.format_version < 4)
    throw ArchiveError("cannot salvage format version " + std::to_string(r.header.format_version) +
                       ": chunks carry salvage frames from version 4 on (decompress still reads every intact chunk)");
  if (r.header.metadata_size > file.size() - format::kFileHeaderSize)
    throw ArchiveError("cannot salvage: the file ends inside the metadata section, which every chunk needs");
  const auto stored = file.subspan(format::kFileHeaderSize, r.header.metadata_size);
  if (format::checksum64(stored) != r.header.metadata_checksum)
    throw ArchiveError("cannot salvage: the metadata section is damaged (it holds the codec parameters every chunk needs)");
  try {
    r.section = format::parse_metadata_section(stored, r.header.format_version);
  } catch (const ArchiveError&) {
    if (r.header.format_version == format::kFormatVersion) throw;
    r.section = format::parse_metadata_section(stored, format::kFormatVersion);  // header version byte was the damage
    r.header.format_version = format::kFormatVersion;
  }
  r.metadata_end = format::kFileHeaderSize + r.header.metadata_size;
  return r;
}

// The index, when footer and index are both intact and agree with the metadata.
std::optional<std::vector<format::IndexEntry>> recover_index(std::span<const std::uint8_t> file, const Recovered& r,
                                                             std::vector<std::string>& notes) {
  const std::uint64_t chunk_count = r.section.metadata.chunk_count();
  try {
    if (file.size() < r.metadata_end + format::kFooterSize) throw ArchiveError("no footer");
    const format::Footer footer = format::parse_footer(file.last(format::kFooterSize));
    const std::uint64_t index_size = chunk_count * format::index_entry_size(r.header.format_version);
    if (footer.chunk_count != chunk_count || footer.index_offset < r.metadata_end ||
        footer.index_offset + index_size + format::kFooterSize != file.size())
      throw ArchiveError("footer does not match the file");
    const auto bytes = file.subspan(footer.index_offset, index_size);
    if (format::checksum64(bytes) != footer.index_checksum) throw ArchiveError("index checksum mismatch");
    return format::parse_index(bytes, r.header.format_version);
  } catch (const ArchiveError& e) {
    notes.push_back(std::string("index not usable (") + e.what() + "); chunks found by scanning their frames");
    return std::nullopt;
  }
}

struct FoundChunk {
  std::uint64_t payload_offset = 0;
  std::uint64_t payload_size = 0;  // 0: not found
  std::uint64_t samples_checksum = 0;
};

// A frame at `at` that names a chunk of this recording and whose payload matches its checksum.
bool frame_is_intact(std::span<const std::uint8_t> file, std::uint64_t at, std::uint16_t version, std::uint64_t chunk_count,
                     std::uint64_t max_payload, std::uint64_t* chunk, std::uint64_t* payload_size) {
  if (file.size() - at < format::kChunkFrameSize || !format::starts_chunk_record(file.subspan(at))) return false;
  const format::ChunkHeader frame = format::parse_chunk_header(file.subspan(at, format::kChunkFrameSize), at, version);
  *chunk = frame.chunk_index;
  *payload_size = frame.payload_size;
  const std::uint64_t room = file.size() - at - format::kChunkFrameSize;
  return *chunk < chunk_count && *payload_size > 0 && *payload_size <= max_payload && *payload_size <= room &&
         format::checksum64(file.subspan(at + format::kChunkFrameSize, *payload_size)) == frame.payload_checksum;
}

}  // namespace

SalvageReport salvage_archive(const fs::path& damaged, const fs::path& output, const SalvageOptions& options) {
  std::error_code ec;
  if (fs::exists(output, ec) && fs::equivalent(damaged, output, ec))
    throw std::invalid_argument("the output must not be the damaged archive itself");
  const MappedFile map(damaged);
  const std::span<const std::uint8_t> file = map.bytes();
  SalvageReport report;
  report.input_bytes = file.size();
  const Recovered r = recover_metadata(file, report.notes);
  const format::Metadata& meta = r.section.metadata;
  const std::uint64_t chunk_count = meta.chunk_count();
  report.chunks = chunk_count;
  report.sample_rate = meta.sample_rate;
  const auto index = recover_index(file, r, report.notes);

  // Scan for frames. A chunk's payload cannot be larger than a few times its raw samples.
  const std::uint64_t max_payload = 8 * meta.chunk_samples * std::max<std::size_t>(meta.channels.size(), 1) * 2 + (1u << 20);
  std::vector<FoundChunk> found(chunk_count);
  std::uint64_t at = r.metadata_end, skipped = 0;
  std::uint8_t magic[4];
  format::store_u32_le(magic, format::kChunkMagic);
  while (at < file.size()) {
    std::uint64_t chunk = 0, size = 0;
    if (frame_is_intact(file, at, r.header.format_version, chunk_count, max_payload, &chunk, &size)) {
      if (found[chunk].payload_size == 0) found[chunk] = {at + format::kChunkFrameSize, size, 0};
      at += format::kChunkFrameSize + size;
      continue;
    }
    const auto* next = static_cast<const std::uint8_t*>(::memmem(file.data() + at + 1, file.size() - at - 1, magic, sizeof magic));
    const std::uint64_t to = next == nullptr ? file.size() : static_cast<std::uint64_t>(next - file.data());
    skipped += to - at;
    at = to;
  }
  if (index) skipped -= std::min<std::uint64_t>(skipped, index->size() * format::index_entry_size(r.header.format_version) + format::kFooterSize);
  if (skipped > 0) report.notes.push_back(std::to_string(skipped) + " byte(s) between chunk records were skipped as damaged");

  // Decode every found chunk; its samples checksum comes from the intact index or, without
  // one, from the decoded samples themselves (the payload checksum already matched).
  ordered_parallel<int>(chunk_count, options.threads, 4 * std::size_t{std::max(1u, options.threads)}, [&](std::size_t i) {
    FoundChunk& f = found[i];
    if (f.payload_size == 0) return 0;
    const std::uint64_t* expected = index && !(*index)[i].lost() ? &(*index)[i].samples_checksum : nullptr;
    try {
      const DecodedChunk decoded = decode_payload(meta, r.header.format_version, i, file.subspan(f.payload_offset, f.payload_size),
                                                  f.payload_offset, {}, expected);
      f.samples_checksum = samples_checksum_of(decoded);
    } catch (const ArchiveError&) {
      f.payload_size = 0;  // intact bytes that do not decode: treat as lost
    }
    return 0;
  }, [](std::size_t, int&) {});

  // An archive of nothing but lost chunks is no salvage: fail, and write nothing.
  if (std::none_of(found.begin(), found.end(), [](const FoundChunk& f) { return f.payload_size != 0; }))
    throw ArchiveError("nothing to salvage in " + damaged.string() + ": none of its " + std::to_string(chunk_count) +
                       " chunk(s) is intact");
  TemporaryPath temporary(output, options.overwrite);
  {
    format::ArchiveWriter writer(temporary.path(), r.section);
    for (std::uint64_t i = 0; i < chunk_count; ++i) {
      const FoundChunk& f = found[i];
      if (f.payload_size == 0)
        writer.append_lost_chunk(meta.chunk_first_sample(i), meta.chunk_sample_count(i));
      else
        writer.append_chunk(meta.chunk_first_sample(i), meta.chunk_sample_count(i), file.subspan(f.payload_offset, f.payload_size),
                            f.samples_checksum);
    }
    report.output_bytes = writer.finish();
  }
  // Check the new archive as a reader will see it before it takes the output's name.
  const format::ArchiveReader reader(temporary.path());
  RestoreOptions check;
  check.threads = options.threads;
  check.fill_lost = true;
  const RestoreReport restored = restore_sources(reader, check);
  if (!restored.mismatched_files.empty())
    throw ArchiveError("salvage check failed: rebuilt " + restored.mismatched_files.front() + " does not match its original checksum");
  report.incomplete_files = restored.incomplete_files;
  temporary.commit();

  for (std::uint64_t i = 0; i < chunk_count; ++i) {
    if (found[i].payload_size != 0) {
      ++report.recovered;
      continue;
    }
    ++report.lost;
    const format::ChunkChannels present = format::channels_in_chunk(meta, meta.chunk_first_sample(i), meta.chunk_sample_count(i));
    const std::uint64_t first = meta.chunk_first_sample(i), end = first + meta.chunk_sample_count(i);
    if (!report.lost_ranges.empty() && report.lost_ranges.back().end_chunk == i && report.lost_ranges.back().channels == present.channel) {
      report.lost_ranges.back().end_chunk = i + 1;
      report.lost_ranges.back().end_sample = end;
    } else {
      report.lost_ranges.push_back({i, i + 1, first, end, present.channel});
    }
  }
  return report;
}

}  // namespace spikey::host
