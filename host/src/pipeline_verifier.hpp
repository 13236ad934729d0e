// Verify-after-encode inside the batch pipeline. While the executor (the GPU) encodes the next
// batches, the CPU reference decoder decodes each chunk's payload, with the metadata read back
// from the section the writer stored, and compares it with the input samples it was encoded
// from; the source files are rebuilt from those samples, in chunk order, against the originals'
// checksums. Once the archive is finished, verify_written checks that the file holds what was
// decoded: its metadata section and every payload, by checksum. Together that is what decoding
// the finished file checks (verify_against_input), without a second pass after the encode.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"

namespace spikey::host {

// Throws VerifyError naming the first sample where `decoded` differs from `expected` (the
// input's samples of its chunk, Recording::gather's layout), or a different shape.
void expect_decoded_equals_input(const DecodedChunk& decoded, const format::ChunkChannels& present, std::span<const std::int16_t> expected);

class PipelineVerifier {
 public:
  // `stored_section`: the metadata section as the archive writer stored it. `threads`: those
  // check() is given, for the decoded chunks' buffers it keeps for reuse.
  PipelineVerifier(std::span<const std::uint8_t> stored_section, std::uint64_t chunk_count, unsigned threads = 1);

  // Chunks [first_chunk, first_chunk + encoded.size()): their payloads decoded (on `threads`)
  // and compared with `samples`, each chunk's input at sample_offset[i] .. sample_offset[i + 1]
  // (gather layout). Throws VerifyError. Batches may be checked on several threads at once.
  void check(std::uint64_t first_chunk, std::span<const EncodedChunk> encoded, std::span<const std::int16_t> samples,
             std::span<const std::uint64_t> sample_offset, unsigned threads);

  // The same chunks' samples into the rebuilt source files: every chunk once, in chunk order.
  void rebuild(std::uint64_t first_chunk, std::span<const std::int16_t> samples, std::span<const std::uint64_t> sample_offset);

  // After every chunk was checked and rebuilt: the finished archive against what was decoded,
  // and the rebuilt files against the originals. Throws VerifyError.
  void verify_written(const format::ArchiveReader& reader, unsigned threads);

 private:
  format::MetadataSection section_;  // parsed from the stored bytes, as a reader parses them
  std::uint64_t metadata_checksum_ = 0;
  std::vector<std::uint64_t> payload_checksum_;
  std::vector<std::uint64_t> samples_checksum_;
  std::vector<std::uint8_t> checked_;
  SourceChecks sources_;
  SampleBuffers buffers_;  // the decoded chunks' samples, reused (a chunk of 1024 channels is 40 MB)
  std::uint64_t rebuilt_chunks_ = 0;
};

}  // namespace spikey::host
