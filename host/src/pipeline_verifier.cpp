#include "pipeline_verifier.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "spikey/format/checksum.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/host/parallel.hpp"

namespace spikey::host {

void expect_decoded_equals_input(const DecodedChunk& decoded, const format::ChunkChannels& present, std::span<const std::int16_t> expected) {
  if (expected.size() != decoded.samples.size() || present.channel != decoded.channel)
    throw VerifyError("verify failed: chunk " + std::to_string(decoded.chunk) + " decodes to a different shape");
  const auto [e, d] = std::mismatch(expected.begin(), expected.end(), decoded.samples.begin());
  if (e == expected.end()) return;
  const auto pos = static_cast<std::uint64_t>(e - expected.begin());
  const auto i = static_cast<std::size_t>(std::upper_bound(decoded.offset.begin(), decoded.offset.end(), pos) - decoded.offset.begin() - 1);
  throw VerifyError("verify failed: chunk " + std::to_string(decoded.chunk) + ", channel " + std::to_string(decoded.channel[i]) + ", sample " +
                    std::to_string(decoded.first_sample + pos - decoded.offset[i]) + ": expected " + std::to_string(*e) + ", decoded " +
                    std::to_string(*d));
}

PipelineVerifier::PipelineVerifier(std::span<const std::uint8_t> stored_section, std::uint64_t chunk_count, unsigned threads)
    : section_(format::parse_metadata_section(stored_section)),
      metadata_checksum_(format::checksum64(stored_section)),
      payload_checksum_(chunk_count),
      samples_checksum_(chunk_count),
      checked_(chunk_count, 0),
      sources_(section_),
      buffers_(2 * std::size_t{std::max(1u, threads)}) {  // at most about `threads` chunks are in verification at once
  if (section_.metadata.chunk_count() != chunk_count) throw std::logic_error("PipelineVerifier: the metadata implies another chunk count");
}

void PipelineVerifier::check(std::uint64_t first_chunk, std::span<const EncodedChunk> encoded, std::span<const std::int16_t> samples,
                             std::span<const std::uint64_t> sample_offset, unsigned threads) {
  const format::Metadata& meta = section_.metadata;
  const std::uint64_t count = encoded.size();
  if (first_chunk + count > checked_.size() || sample_offset.size() != count + 1 || sample_offset.back() > samples.size())
    throw std::logic_error("PipelineVerifier::check: chunks or samples out of range");
  // Chunks decoded together, as the whole-archive readers do (the lockstep lanes fill up).
  const std::uint64_t joint = joint_chunks(meta, count, threads);
  const std::uint64_t tasks = (count + joint - 1) / joint;
  const DecodeOptions each{.threads = threads_within(tasks, threads), .sample_buffers = &buffers_};  // fewer tasks than threads: each shares the rest
  parallel_for(tasks, threads, [&](std::size_t task) {
    const std::uint64_t begin = task * joint, end = std::min(count, begin + joint);
    std::vector<PayloadInput> inputs;
    for (std::uint64_t i = begin; i < end; ++i) inputs.push_back({first_chunk + i, encoded[i].payload, 0, nullptr});
    std::vector<DecodedChunk> decoded;
    try {
      decoded = decode_payloads(meta, format::kFormatVersion, inputs, {}, each);
    } catch (const format::ArchiveError& e) {
      throw VerifyError(std::string("verify failed: a payload the encoder wrote does not decode: ") + e.what());
    }
    for (std::uint64_t i = begin; i < end; ++i) {
      const std::uint64_t chunk = first_chunk + i;
      const auto input = samples.subspan(sample_offset[i], sample_offset[i + 1] - sample_offset[i]);
      expect_decoded_equals_input(decoded[i - begin], format::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk)), input);
      if (format::checksum64(input) != encoded[i].samples_checksum)
        throw VerifyError("verify failed: chunk " + std::to_string(chunk) + ": the samples checksum written for it is not its samples'");
      payload_checksum_[chunk] = format::checksum64(encoded[i].payload);
      samples_checksum_[chunk] = encoded[i].samples_checksum;
      checked_[chunk] = 1;
      buffers_.give(std::move(decoded[i - begin].samples));
    }
  });
}

void PipelineVerifier::rebuild(std::uint64_t first_chunk, std::span<const std::int16_t> samples, std::span<const std::uint64_t> sample_offset) {
  const format::Metadata& meta = section_.metadata;
  if (first_chunk != rebuilt_chunks_ || first_chunk + sample_offset.size() - 1 > checked_.size())
    throw std::logic_error("PipelineVerifier::rebuild: chunks out of order");
  for (std::size_t i = 0; i + 1 < sample_offset.size(); ++i, ++rebuilt_chunks_) {
    const std::uint64_t first_sample = meta.chunk_first_sample(rebuilt_chunks_);
    sources_.add_chunk(first_sample, format::channels_in_chunk(meta, first_sample, meta.chunk_sample_count(rebuilt_chunks_)),
                       samples.subspan(sample_offset[i], sample_offset[i + 1] - sample_offset[i]));
  }
}

void PipelineVerifier::verify_written(const format::ArchiveReader& reader, unsigned threads) {
  const std::string name = reader.path().string();
  if (!reader.damage().empty()) throw VerifyError("verify failed: " + name + ": " + reader.damage().front());
  if (reader.format_version() != format::kFormatVersion || reader.metadata_checksum() != metadata_checksum_)
    throw VerifyError("verify failed: " + name + ": the metadata section read back is not the one written");
  if (reader.index().size() != checked_.size() || rebuilt_chunks_ != checked_.size() ||
      std::find(checked_.begin(), checked_.end(), 0) != checked_.end())
    throw std::logic_error("PipelineVerifier: the archive has chunks that were not decoded and rebuilt while encoding");
  parallel_for(checked_.size(), threads, [&](std::size_t chunk) {
    std::vector<std::uint8_t> payload;
    try {
      payload = reader.read_payload(chunk);  // checked against the index's payload checksum
    } catch (const format::ArchiveError& e) {
      throw VerifyError("verify failed: " + name + ": " + e.what());
    }
    if (format::checksum64(payload) != payload_checksum_[chunk] || reader.index()[chunk].samples_checksum != samples_checksum_[chunk])
      throw VerifyError("verify failed: " + name + ", chunk " + std::to_string(chunk) + ": not the payload that was decoded while encoding");
  });
  const auto mismatched = sources_.finish();
  if (!mismatched.empty()) throw VerifyError("verify failed: rebuilt " + mismatched.front() + " differs from the original");
}

}  // namespace spikey::host
