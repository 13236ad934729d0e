// CPU reference decoder (SPEC.md §6–§7). Depends on the container format only: never on the
// encoder or on CUDA. Chunks decode independently, so whole-archive work is threaded across
// chunks; channels of a chunk decode independently too, so a window decodes only what it needs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/chunk_payload.hpp"

namespace spikey::host {

struct DecodedChunk {
  std::uint64_t chunk = 0;
  std::uint64_t first_sample = 0;
  std::vector<std::uint32_t> channel;       // decoded channels (requested and present), ascending
  std::vector<std::uint32_t> sample_count;  // samples of each in this chunk
  std::vector<std::uint64_t> offset;        // start of each channel in `samples`
  std::vector<std::int16_t> samples;        // channel after channel
  double decode_seconds = 0;                // wall time spent decoding this chunk
  // Version 10 (SPEC.md §6.3): requested channels whose streams a salvage lost, zeros in
  // `samples` (DecodeOptions::fill_lost), ascending.
  std::vector<std::uint32_t> lost_channels;
  // DecodeOptions::report_failures (salvage): decoded channels that failed their stream check.
  std::vector<std::uint32_t> failed_channels;
  // DecodeOptions::tolerate_damaged_payload: the payload failed its checksum, and every channel
  // decoded from it passed its stream check.
  bool payload_damaged = false;

  // Samples of `channel` in this chunk (empty when the channel was not decoded or has ended).
  std::span<const std::int16_t> channel_samples(std::uint32_t channel) const;
};

// Decoded chunks' sample buffers, for reuse: the whole-archive readers give each chunk's back
// once it is consumed. A chunk of a thousand channels holds 40 MB of samples, which malloc would
// otherwise map, fault in and zero afresh for every chunk (about 5% of a verify).
class SampleBuffers {
 public:
  explicit SampleBuffers(std::size_t keep) : keep_(keep) {}
  // A buffer given back earlier (its size and values as they were), or an empty one.
  std::vector<std::int16_t> take();
  void give(std::vector<std::int16_t>&& buffer);  // kept while fewer than `keep` wait

 private:
  std::mutex mutex_;
  std::vector<std::vector<std::int16_t>> free_;
  std::size_t keep_;
};

struct DecodeOptions {
  // Zeros for requested channels whose streams are lost instead of a LostChunkError.
  bool fill_lost = false;
  // Channels that fail their stream check are listed in failed_channels instead of thrown.
  bool report_failures = false;
  // Version 10 windows: decode from a payload that fails its checksum, trusting each decoded
  // channel only after its stream check (a damaged chunk still yields its intact channels).
  bool tolerate_damaged_payload = false;
  // Threads for this call's chunks: their channels' lane groups, value maps and stream checks.
  // The same samples and errors for any count. The whole-archive readers give each call the
  // threads they have beyond one per call (a short recording of many channels has few chunks).
  unsigned threads = 1;
  // ... at most one thread per this many samples decoded: a small window (a few channels of a
  // chunk) decodes in about the time that starting a dozen threads takes.
  std::uint64_t samples_per_thread = std::uint64_t{1} << 17;
  // Where each chunk's `samples` come from (none: a new vector each).
  SampleBuffers* sample_buffers = nullptr;
};

// Decodes the requested channels (ascending, unique; empty means all) of one chunk. When all
// channels are decoded, the decoded-samples checksum of the index is checked as well.
// Throws format::ArchiveError naming chunk, channel and byte offset on corrupt data.
DecodedChunk decode_chunk(const format::ArchiveReader& reader, std::uint64_t chunk,
                          std::span<const std::uint32_t> channels = {}, const DecodeOptions& options = {});

// Chunks [first_chunk, end_chunk) decoded together: the lockstep prediction of the mo codecs
// fills its lanes with channels of all of them (a level of the decoding order often holds
// fewer than 8 channels of one chunk). Each chunk's decode_seconds is its share of the time.
std::vector<DecodedChunk> decode_chunks(const format::ArchiveReader& reader, std::uint64_t first_chunk, std::uint64_t end_chunk,
                                        std::span<const std::uint32_t> channels = {}, const DecodeOptions& options = {});

// Chunks decoded in one call of decode_chunks by the whole-archive readers (decode_chunks_in_order,
// restore_sources), of `chunks` in all: up to 8, so that recordings whose decoding order has
// few channels per level (a chain of 16 channels: one) fill the 8 lanes with the same level of
// 8 chunks; at most about 64 MiB of decoded codes per call, and at least a call per thread.
std::uint64_t joint_chunks(const format::Metadata& meta, std::uint64_t chunks, unsigned threads);

// The decoding behind decode_chunk, for a payload already read and checked against its frame
// (salvage reads chunks without an index). `payload_offset` is used in messages. With
// `samples_checksum` and all channels, the decoded samples are checked against it.
DecodedChunk decode_payload(const format::Metadata& metadata, std::uint16_t format_version, std::uint64_t chunk,
                            std::span<const std::uint8_t> payload, std::uint64_t payload_offset,
                            std::span<const std::uint32_t> channels, const std::uint64_t* samples_checksum,
                            const DecodeOptions& options = {});

// decode_payload for several chunks at once (as decode_chunks).
struct PayloadInput {
  std::uint64_t chunk = 0;
  std::span<const std::uint8_t> payload;
  std::uint64_t payload_offset = 0;
  const std::uint64_t* samples_checksum = nullptr;
};
std::vector<DecodedChunk> decode_payloads(const format::Metadata& metadata, std::uint16_t format_version, std::span<const PayloadInput> inputs,
                                          std::span<const std::uint32_t> channels, const DecodeOptions& options = {});

// XXH3-64 of a chunk's decoded samples in their layout (SPEC.md §4.4).
std::uint64_t samples_checksum_of(const DecodedChunk& chunk);
// The same over the channels that are not lost (a chunk with lost streams, version 10).
std::uint64_t kept_samples_checksum(const DecodedChunk& chunk);

// Decodes chunks [first_chunk, end_chunk) on `threads` threads and hands them to `consume`
// in chunk order.
void decode_chunks_in_order(const format::ArchiveReader& reader, std::uint64_t first_chunk, std::uint64_t end_chunk,
                            std::span<const std::uint32_t> channels, unsigned threads,
                            const std::function<void(const DecodedChunk&)>& consume, const DecodeOptions& options = {});

// Chunks of a salvaged archive that could not be recovered (none in a normal archive).
std::vector<std::uint64_t> lost_chunks(const format::ArchiveReader& reader);

struct RestoreReport {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;           // original bytes rebuilt
  double seconds = 0;                // wall time
  double slowest_chunk_seconds = 0;  // decode time of the slowest chunk
  std::uint64_t slowest_chunk = 0;
  std::vector<std::string> mismatched_files;  // restored bytes whose checksum differs from the original's
  std::uint64_t lost_chunks = 0;              // salvaged archives: chunks that could not be recovered
  std::uint64_t lost_streams = 0;             // version 10: (chunk, channel) streams lost in kept chunks (restored channels only)
  std::vector<std::string> incomplete_files;  // files with samples in lost chunks (zeros there)
  // Side files whose bytes only the damaged metadata section held (read from its copy, §3.7): not restored.
  std::vector<std::string> missing_files;
};

struct RestoreOptions {
  std::filesystem::path output_directory;  // empty: rebuild and check checksums only (verify)
  bool force = false;                      // overwrite existing files
  unsigned threads = 1;
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
  // Salvaged archives (SPEC.md §3.5, §6.3): fill the samples of lost chunks and lost streams
  // with zeros instead of refusing. Files that had samples there are reported in incomplete_files.
  bool fill_lost = false;
  // Called with every fully decoded chunk on the decoding threads, several at once, in any order
  // (verify-after-encode compares with the input there: in the one thread that rebuilds the
  // files, gathering the input held 16 decoding threads back).
  std::function<void(const DecodedChunk&)> inspect;
};

class SourceRebuilder;

// Every source file of an archive's metadata (but those a damaged archive omits) rebuilt from
// chunks given in order, with every channel's samples, and checked against the original's
// checksum, nothing written: verify-after-encode in the batch pipeline, from the input's samples
// (which the payloads are checked to decode to).
class SourceChecks {
 public:
  // On the calling thread: the transposition (2.3 GB/s at 1024 channels) keeps ahead of 16
  // threads decoding, and more threads here would contend with them.
  // `section` must outlive this (its verbatim bytes are not copied: gigabytes for a long recording).
  explicit SourceChecks(const format::MetadataSection& section);
  ~SourceChecks();
  SourceChecks(const SourceChecks&) = delete;
  SourceChecks& operator=(const SourceChecks&) = delete;
  // The chunk starting at `first_sample`: its present channels' samples, one after another.
  void add_chunk(std::uint64_t first_sample, const format::ChunkChannels& present, std::span<const std::int16_t> samples);
  // The files whose rebuilt bytes differ from the original's (after the last chunk).
  std::vector<std::string> finish();

 private:
  const format::MetadataSection& section_;
  std::vector<std::unique_ptr<SourceRebuilder>> rebuilders_;
  std::vector<std::uint64_t> offset_;
};

// Rebuilds every source file byte for byte (verbatim prefix, interleaved samples, verbatim
// suffix) and checks each against the XXH3 of the original stored in the metadata. With an
// output directory, each file is written to a temporary name and renamed into place only
// after its checksum matched; without one, nothing is written (verify).
RestoreReport restore_sources(const format::ArchiveReader& reader, const RestoreOptions& options);

}  // namespace spikey::host
