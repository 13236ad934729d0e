// Codecs mt1, mt2 and mt3 (the table-driven context coder, mt_stream.hpp) for many streams at
// once: the stages after the prediction, each a function of one element (a stream, a segment,
// a byte run of a segment), run by the CUDA encoder in threads and by the CPU executor in loops.
// Stages 1-3 are golomb_batch.hpp's (value maps, MiddleOut residuals z with fixed and adapting
// weights, the adapt flag by the smaller sum of |z|); BatchPartition is a segment here.
//
//   4 per stream     batch_mt_classes           each residual's scale class (one pass: the scale
//                                               runs on across segments)
//   5a per residual  batch_mt_head              each residual's bucket symbol (mt_residual_head),
//                                               into the slots of the variant stage 3 did not take
//   5 per segment    batch_mt_encode_segment    rANS, backwards, into the segment's staging buffer
//   6 per stream     batch_mt_lay_out_stream    directory, segment offsets, stream bytes and words
//   7 all streams    exclusive prefix sum of words -> BatchStream::word_offset (CUB on the GPU)
//   8 per stream     batch_mt_write_directory   the LEB128 sizes in front of the segments
//     per segment    batch_mt_copy_segment      the staged bytes into place (any split of its bytes)
// The output is the words of golomb_batch.hpp read as bytes: stream s occupies bytes
// [4 * word_offset, 4 * word_offset + bytes). The same bytes as the chunk encoder (mt_encoder.cpp).
#pragma once

#include "spikey/format/codecs/batch/golomb_batch.hpp"
#include "spikey/format/codecs/mt/mt_model.hpp"
#include "spikey/format/codecs/mt/mt_stream.hpp"
#include "spikey/format/hd.hpp"

namespace spikey::format {

// The residuals z the stream codes (stage 3's choice).
SPIKEY_HD const std::int32_t* batch_mt_residuals(const BatchStream& s, const std::uint32_t* fixed, const std::uint32_t* adapting) {
  return reinterpret_cast<const std::int32_t*>(batch_chosen_residuals(s, fixed, adapting));
}

// Stage 4: classes[sample_offset + t] for t = 1 .. n-1.
SPIKEY_HD void batch_mt_classes(const BatchStream& s, const std::uint32_t* fixed, const std::uint32_t* adapting, int scale_rate,
                                std::uint8_t* classes) {
  mt_residual_classes(batch_mt_residuals(s, fixed, adapting), s.n, scale_rate, classes + s.sample_offset);
}

// Stage 5a's slots: those of the variant stage 3 did not choose, unread once the choice is made.
SPIKEY_HD std::uint32_t* batch_mt_head_slots(const BatchStream& s, std::uint32_t* fixed, std::uint32_t* adapting) {
  return (s.adapt ? fixed : adapting) + s.sample_offset;
}

// Stage 5a at t (1 .. n-1), after stage 4: the residual's head.
SPIKEY_HD void batch_mt_head(const BatchStream& s, std::uint32_t t, const MtTableSet& tables, const std::int32_t* codes, std::uint32_t* fixed,
                             std::uint32_t* adapting, const std::uint8_t* classes) {
  const std::int32_t* z = batch_mt_residuals(s, fixed, adapting);
  batch_mt_head_slots(s, fixed, adapting)[t] = mt_residual_head(tables, classes[s.sample_offset + t], mt_base(codes + s.sample_offset, z, t), z[t]);
}

// Stage 5, after 5a. `segment` is the partition's index within its stream.
SPIKEY_HD void batch_mt_encode_segment(BatchPartition& p, std::uint32_t segment, const BatchStream& s, const MtTableSet& tables,
                                       const std::int32_t* codes, std::uint32_t* fixed, std::uint32_t* adapting, const std::uint8_t* classes,
                                       std::uint8_t* staging) {
  const std::uint64_t capacity = mt_max_segment_bytes(p.count);
  const std::uint64_t from =
      mt_encode_segment(tables, codes + s.sample_offset, batch_mt_residuals(s, fixed, adapting), classes + s.sample_offset,
                        batch_mt_head_slots(s, fixed, adapting), s.n, s.adapt != 0, s.partition_size, segment, staging + p.staging_offset, capacity);
  p.staged_from = static_cast<std::uint32_t>(from);
  p.bytes = static_cast<std::uint32_t>(capacity - from);
}

// Stage 6.
SPIKEY_HD void batch_mt_lay_out_stream(BatchStream& s, BatchPartition* partitions) {
  std::uint64_t bytes = 0;
  for (std::uint32_t i = 0; i + 1 < s.partitions; ++i) bytes += leb128_length(partitions[s.first_partition + i].bytes);
  for (std::uint32_t i = 0; i < s.partitions; ++i) {
    BatchPartition& p = partitions[s.first_partition + i];
    p.byte_offset = bytes;
    bytes += p.bytes;
  }
  s.bytes = bytes;
  s.words = static_cast<std::uint32_t>((bytes + 3) / 4);
}

// Stage 8, the directory: `out` is the batch's output words as bytes.
SPIKEY_HD void batch_mt_write_directory(const BatchStream& s, const BatchPartition* partitions, std::uint8_t* out) {
  std::uint8_t* at = out + 4 * s.word_offset;
  for (std::uint32_t i = 0; i + 1 < s.partitions; ++i) at = write_leb128(partitions[s.first_partition + i].bytes, at);
}

// Stage 8, a segment's bytes first, first + step, first + 2 step, ... (a CUDA block's threads
// take a stride each; the CPU takes first 0, step 1).
SPIKEY_HD void batch_mt_copy_segment(const BatchPartition& p, const BatchStream& s, const std::uint8_t* staging, std::uint8_t* out,
                                     std::uint32_t first, std::uint32_t step) {
  const std::uint8_t* from = staging + p.staging_offset + p.staged_from;
  std::uint8_t* to = out + 4 * s.word_offset + p.byte_offset;
  for (std::uint32_t b = first; b < p.bytes; b += step) to[b] = from[b];
}

}  // namespace spikey::format
