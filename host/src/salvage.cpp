#include "spikey/host/salvage.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/archive_writer.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/format/wire.hpp"
#include "codecs/decoder_family.hpp"
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
  std::uint64_t copy_bytes = 0;  // the metadata copy and its trailer before the index (0: not known)
};

// Bytes of the metadata copy and its trailer (§3.7): the section's size up to version 10; from
// 11 the copy's own, from the trailer that ends at the footer's index offset (0 when unreadable).
std::uint64_t metadata_copy_bytes_of(std::span<const std::uint8_t> file, const format::FileHeader& header) {
  if (header.format_version < format::kFirstVersionWithRecords) return format::metadata_copy_bytes(header.format_version, header.metadata_size);
  try {
    if (file.size() < format::kFooterSize) return 0;
    const format::Footer footer = format::parse_footer(file.last(format::kFooterSize));
    if (footer.index_offset < format::kMetadataTrailerSize || footer.index_offset > file.size()) return 0;
    const auto t = format::parse_metadata_trailer(file.subspan(footer.index_offset - format::kMetadataTrailerSize, format::kMetadataTrailerSize));
    return t.metadata_size <= footer.index_offset - format::kMetadataTrailerSize ? t.metadata_size + format::kMetadataTrailerSize : 0;
  } catch (const ArchiveError&) {
    return 0;
  }
}

// Header and metadata at the start of the file. A damaged header is worked around when the
// metadata checksum it holds still matches the zstd frame found right after it: the metadata is
// then known intact.
Recovered recover_primary_metadata(std::span<const std::uint8_t> file, std::vector<std::string>& notes) {
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
  r.copy_bytes = metadata_copy_bytes_of(file, r.header);
  return r;
}

// Version 10's metadata copy (SPEC.md §3.7): found from the footer when it is intact, else as
// the last trailer magic whose preceding bytes match the trailer's checksum.
std::optional<Recovered> recover_metadata_copy(std::span<const std::uint8_t> file) {
  const auto try_trailer = [&](std::uint64_t trailer_at) -> std::optional<Recovered> {
    if (trailer_at < format::kFileHeaderSize || trailer_at > file.size() || file.size() - trailer_at < format::kMetadataTrailerSize)
      return std::nullopt;
    const format::MetadataTrailer t = format::parse_metadata_trailer(file.subspan(trailer_at, format::kMetadataTrailerSize));
    if (t.metadata_size == 0 || t.metadata_size > trailer_at - format::kFileHeaderSize) return std::nullopt;
    const auto copy = file.subspan(trailer_at - t.metadata_size, t.metadata_size);
    if (format::checksum64(copy) != t.metadata_checksum) return std::nullopt;
    for (std::uint16_t version = format::kFormatVersion; version >= format::kFirstVersionWithMetadataCopy; --version) {
      try {
        Recovered r;
        r.section = format::parse_metadata_section(copy, version);
        r.header.format_version = version;
        r.header.metadata_size = t.metadata_size;
        r.header.metadata_checksum = t.metadata_checksum;
        const std::uint64_t section_size = format::copied_section_size(version, t.metadata_size, r.section.metadata);
        if (section_size == 0 || section_size > trailer_at - t.metadata_size - format::kFileHeaderSize) return std::nullopt;
        r.metadata_end = format::kFileHeaderSize + section_size;
        r.copy_bytes = t.metadata_size + format::kMetadataTrailerSize;
        return r;
      } catch (const ArchiveError&) {
      }
    }
    return std::nullopt;
  };
  try {
    const format::Footer footer = format::parse_footer(file.last(format::kFooterSize));
    if (footer.index_offset >= format::kMetadataTrailerSize)
      if (auto r = try_trailer(footer.index_offset - format::kMetadataTrailerSize)) return r;
  } catch (const ArchiveError&) {
  }
  std::optional<Recovered> last;
  const auto& magic = format::kMetadataCopyMagic;
  for (std::uint64_t at = format::kFileHeaderSize; at < file.size();) {
    const auto* hit = static_cast<const std::uint8_t*>(::memmem(file.data() + at, file.size() - at, magic.data(), magic.size()));
    if (hit == nullptr) break;
    const std::uint64_t magic_at = static_cast<std::uint64_t>(hit - file.data());
    if (magic_at >= 16)
      if (auto r = try_trailer(magic_at - 16)) last = std::move(r);
    at = magic_at + 1;
  }
  return last;
}

// Header and metadata: the section at the start of the file, or version 10's copy before the
// index when that section (or the header in front of it) cannot be confirmed intact.
Recovered recover_metadata(std::span<const std::uint8_t> file, std::vector<std::string>& notes) {
  if (file.size() < format::kFileHeaderSize) throw ArchiveError("cannot salvage: the file is shorter than an archive header");
  std::string damage;
  try {
    std::vector<std::string> primary_notes;
    Recovered r = recover_primary_metadata(file, primary_notes);
    notes.insert(notes.end(), primary_notes.begin(), primary_notes.end());
    return r;
  } catch (const ArchiveError& e) {
    damage = e.what();
  }
  std::optional<Recovered> copy = file.size() >= format::kFileHeaderSize + format::kFooterSize ? recover_metadata_copy(file) : std::nullopt;
  if (!copy) throw ArchiveError(damage + "; no intact metadata copy was found either");
  const std::string prefix = "cannot salvage: ";
  notes.push_back((damage.rfind(prefix, 0) == 0 ? damage.substr(prefix.size()) : damage) + "; the metadata copy before the index was used");
  return std::move(*copy);
}

// The index, when footer and index are both intact and agree with the metadata.
std::optional<std::vector<format::IndexEntry>> recover_index(std::span<const std::uint8_t> file, const Recovered& r,
                                                             std::vector<std::string>& notes) {
  const std::uint64_t chunk_count = r.section.metadata.chunk_count();
  try {
    if (file.size() < r.metadata_end + format::kFooterSize) throw ArchiveError("no footer");
    const format::Footer footer = format::parse_footer(file.last(format::kFooterSize));
    const std::uint64_t index_size = chunk_count * format::index_entry_size(r.header.format_version);
    if (footer.chunk_count != chunk_count || footer.index_offset < r.metadata_end + r.copy_bytes ||
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
  bool intact = false;             // the payload matched its frame's checksum
  bool kept = false;               // decoded: written to the new archive
  std::vector<std::uint8_t> rebuilt;          // the payload to write when not the found bytes themselves
  std::vector<std::uint32_t> lost_channels;   // kept chunk: its channels whose samples are lost
  std::uint64_t samples_checksum = 0;
};

// A chunk's payload found at `offset` (everything else as a fresh FoundChunk).
FoundChunk found_payload(std::uint64_t offset, std::uint64_t size, bool intact) {
  FoundChunk found;
  found.payload_offset = offset;
  found.payload_size = size;
  found.intact = intact;
  return found;
}

enum class FrameState { none, intact, damaged };

// A frame at `at` that names a chunk of this recording, with a payload that fits the file:
// intact when the payload matches its checksum, damaged otherwise.
FrameState examine_frame(std::span<const std::uint8_t> file, std::uint64_t at, std::uint16_t version, std::uint64_t chunk_count,
                         std::uint64_t max_payload, std::uint64_t* chunk, std::uint64_t* payload_size) {
  if (file.size() - at < format::kChunkFrameSize || !format::starts_chunk_record(file.subspan(at))) return FrameState::none;
  const format::ChunkHeader frame = format::parse_chunk_header(file.subspan(at, format::kChunkFrameSize), at, version);
  *chunk = frame.chunk_index;
  *payload_size = frame.payload_size;
  const std::uint64_t room = file.size() - at - format::kChunkFrameSize;
  if (*chunk >= chunk_count || *payload_size == 0 || *payload_size > max_payload || *payload_size > room) return FrameState::none;
  return format::checksum64(file.subspan(at + format::kChunkFrameSize, *payload_size)) == frame.payload_checksum ? FrameState::intact
                                                                                                                 : FrameState::damaged;
}

// Version 10: the channels of a damaged payload that still decode and match their stream
// checks, less every channel whose decoding needs one that does not (SPEC.md §6.3, §8). Fills
// `f` and returns true when any channel is kept.
bool keep_intact_streams(const format::Metadata& meta, std::uint16_t version, std::uint64_t chunk, std::span<const std::uint8_t> payload,
                         FoundChunk& f) {
  const format::ChunkChannels present = format::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
  const std::size_t n = present.channel.size();
  format::PayloadDirectory dir;
  try {
    dir = format::parse_payload_directory(payload, n, chunk, f.payload_offset, version);
  } catch (const ArchiveError&) {
    return false;
  }
  const DecodeOptions tolerant{.fill_lost = true, .report_failures = true};
  std::vector<char> bad(n, 0);
  for (std::size_t p = 0; p < n; ++p) bad[p] = dir.lost(p);
  const auto mark_failed = [&](const DecodedChunk& d) {
    for (const std::uint32_t c : d.failed_channels) bad[static_cast<std::size_t>(present.position(c))] = 1;
  };
  try {
    mark_failed(decode_payload(meta, version, chunk, payload, f.payload_offset, {}, nullptr, tolerant));
  } catch (const ArchiveError&) {
    // A stream too damaged to decode stops the chunk's joint decode: try each channel alone.
    for (std::size_t p = 0; p < n; ++p) {
      if (bad[p]) continue;
      try {
        mark_failed(decode_payload(meta, version, chunk, payload, f.payload_offset, std::vector<std::uint32_t>{present.channel[p]}, nullptr, tolerant));
      } catch (const ArchiveError&) {
        bad[p] = 1;
      }
    }
  }
  const codecs::DecoderFamily& family = codecs::decoder_family(format::codec_row(meta.codec.name));
  std::vector<std::span<const std::uint8_t>> streams(n);
  std::vector<std::uint32_t> checks(n, 0);
  bool any = false;
  for (std::size_t p = 0; p < n; ++p) {
    std::vector<char> needed(n, 0);
    needed[p] = 1;
    family.add_sources(meta, present, needed);
    bool lost = false;
    for (std::size_t q = 0; q < n && !lost; ++q) lost = needed[q] && bad[q];
    if (lost) continue;
    streams[p] = payload.subspan(dir.stream_offset[p], dir.stream_size[p]);
    checks[p] = dir.stream_check[p];
    any = true;
  }
  if (!any) return false;
  f.rebuilt = format::assemble_checked_payload(streams, checks);
  try {
    const DecodedChunk kept = decode_payload(meta, version, chunk, f.rebuilt, f.payload_offset, {}, nullptr, {.fill_lost = true});
    f.lost_channels = kept.lost_channels;
    f.samples_checksum = kept_samples_checksum(kept);
  } catch (const ArchiveError&) {
    return false;
  }
  return true;
}

// Decodes a found chunk and decides what of it the new archive keeps. An intact payload is kept
// as it is (an archive of version 4-9 gains its stream checks); a damaged one (version 10)
// keeps its intact streams.
void recover_chunk(const format::Metadata& meta, std::uint16_t version, std::uint64_t chunk, std::span<const std::uint8_t> file,
                   const std::uint64_t* expected_checksum, FoundChunk& f) {
  if (f.payload_size == 0) return;
  const auto payload = file.subspan(f.payload_offset, f.payload_size);
  if (f.intact) {
    try {
      const DecodedChunk decoded = decode_payload(meta, version, chunk, payload, f.payload_offset, {}, expected_checksum, {.fill_lost = true});
      f.lost_channels = decoded.lost_channels;
      f.samples_checksum = kept_samples_checksum(decoded);
      if (version < format::kFirstVersionWithStreamChecks) {
        const format::PayloadDirectory dir = format::parse_payload_directory(payload, decoded.channel.size(), chunk, f.payload_offset, version);
        std::vector<std::span<const std::uint8_t>> streams;
        std::vector<std::uint32_t> checks;
        for (std::size_t p = 0; p < decoded.channel.size(); ++p) {
          streams.push_back(payload.subspan(dir.stream_offset[p], dir.stream_size[p]));
          checks.push_back(format::stream_check_of(decoded.channel_samples(decoded.channel[p])));
        }
        f.rebuilt = format::assemble_checked_payload(streams, checks);
      }
      f.kept = true;
      return;
    } catch (const ArchiveError&) {
      if (version < format::kFirstVersionWithStreamChecks) return;  // intact bytes that do not decode: lost
    }
  }
  if (version >= format::kFirstVersionWithStreamChecks) f.kept = keep_intact_streams(meta, version, chunk, payload, f);
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
  const std::uint16_t version = r.header.format_version;
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
    const FrameState state = examine_frame(file, at, version, chunk_count, max_payload, &chunk, &size);
    if (state == FrameState::intact) {
      if (!found[chunk].intact) found[chunk] = found_payload(at + format::kChunkFrameSize, size, true);
      at += format::kChunkFrameSize + size;
      continue;
    }
    // The first damaged payload of a chunk is a candidate for its intact streams (version 10).
    if (state == FrameState::damaged && found[chunk].payload_size == 0) found[chunk] = found_payload(at + format::kChunkFrameSize, size, false);
    const auto* next = static_cast<const std::uint8_t*>(::memmem(file.data() + at + 1, file.size() - at - 1, magic, sizeof magic));
    const std::uint64_t to = next == nullptr ? file.size() : static_cast<std::uint64_t>(next - file.data());
    skipped += to - at;
    at = to;
  }
  if (index) {
    // Where the intact index places a chunk whose frame did not check, its payload is taken from
    // there (a damaged frame cannot mislead about its size).
    std::uint64_t record = r.metadata_end;
    for (std::uint64_t i = 0; i < chunk_count; ++i) {
      const std::uint64_t size = (*index)[i].payload_size;
      if (size == 0) continue;
      if (!found[i].intact && record + format::kChunkFrameSize + size <= file.size())
        found[i] = found_payload(record + format::kChunkFrameSize, size, false);
      record += format::kChunkFrameSize + size;
    }
    skipped -= std::min<std::uint64_t>(skipped, index->size() * format::index_entry_size(version) + format::kFooterSize + r.copy_bytes);
  }
  if (skipped > 0) report.notes.push_back(std::to_string(skipped) + " byte(s) between chunk records were skipped as damaged");

  // Decode every found chunk; its samples checksum comes from the intact index or, without
  // one, from the decoded samples themselves (the payload checksum already matched).
  ordered_parallel<int>(chunk_count, options.threads, 4 * std::size_t{std::max(1u, options.threads)}, [&](std::size_t i) {
    const std::uint64_t* expected = index && !(*index)[i].lost() ? &(*index)[i].samples_checksum : nullptr;
    recover_chunk(meta, version, i, file, expected, found[i]);
    return 0;
  }, [](std::size_t, int&) {});

  // An archive of nothing but lost chunks is no salvage: fail, and write nothing.
  if (std::none_of(found.begin(), found.end(), [](const FoundChunk& f) { return f.kept; }))
    throw ArchiveError("nothing to salvage in " + damaged.string() + ": none of its " + std::to_string(chunk_count) +
                       " chunk(s) is intact");
  // Side files that only the damaged metadata section held (the copy leaves them out) are lost:
  // the new archive goes without them.
  format::MetadataSection kept_section = r.section;
  for (std::size_t s = kept_section.metadata.sources.size(); s-- > 0;) {
    if (!kept_section.metadata.sources[s].omitted) continue;
    report.lost_files.insert(report.lost_files.begin(), kept_section.metadata.sources[s].path);
    kept_section.metadata.sources.erase(kept_section.metadata.sources.begin() + static_cast<std::ptrdiff_t>(s));
    for (auto& c : kept_section.metadata.channels)
      if (c.source > s) --c.source;
  }
  kept_section.metadata.section_size = 0;
  TemporaryPath temporary(output, options.overwrite);
  {
    format::ArchiveWriter writer(temporary.path(), kept_section, {.threads = std::max(1u, options.threads)});
    for (std::uint64_t i = 0; i < chunk_count; ++i) {
      const FoundChunk& f = found[i];
      if (!f.kept)
        writer.append_lost_chunk(meta.chunk_first_sample(i), meta.chunk_sample_count(i));
      else
        writer.append_chunk(meta.chunk_first_sample(i), meta.chunk_sample_count(i),
                            f.rebuilt.empty() ? file.subspan(f.payload_offset, f.payload_size) : std::span<const std::uint8_t>(f.rebuilt),
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
    const FoundChunk& f = found[i];
    std::vector<std::uint32_t> channels;
    if (f.kept) {
      if (f.lost_channels.empty()) {
        ++report.recovered;
        continue;
      }
      ++report.partial;
      report.lost_streams += f.lost_channels.size();
      channels = f.lost_channels;
    } else {
      ++report.lost;
      channels = format::channels_in_chunk(meta, meta.chunk_first_sample(i), meta.chunk_sample_count(i)).channel;
      report.lost_streams += channels.size();
    }
    const std::uint64_t first = meta.chunk_first_sample(i), end = first + meta.chunk_sample_count(i);
    if (!report.lost_ranges.empty() && report.lost_ranges.back().end_chunk == i && report.lost_ranges.back().channels == channels) {
      report.lost_ranges.back().end_chunk = i + 1;
      report.lost_ranges.back().end_sample = end;
    } else {
      report.lost_ranges.push_back({i, i + 1, first, end, channels});
    }
  }
  return report;
}

}  // namespace spikey::host
