// The encoder of codecs mt1-mt3 (level default, SPEC.md §6.9.6): MiddleOut training with the
// ReLU projector, the context model with a prior of period at most 256, then per chunk the
// residuals of each channel (mo_chunk_residuals.hpp) and its table-driven rANS segments.
#include <algorithm>
#include <cstring>

#include "codecs/cm/cm_training.hpp"
#include "codecs/encoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/mo/mo_chunk_residuals.hpp"
#include "codecs/mo/mo_training.hpp"
#include "codecs/mt/mt_tables.hpp"
#include "spikey/format/codecs/mt/mt_stream.hpp"
#include "spikey/format/codecs/stored_models.hpp"
#include "spikey/format/wire.hpp"

namespace spikey::host::codecs {

namespace f = spikey::format;

namespace {

// One channel's stream from its codes and residuals z[1..n-1] (as the batch stages lay it out,
// mt_batch.hpp): the classes, each segment into a buffer of its own, the directory, the segments.
void encode_stream(const MtTables& tables, const std::int32_t* codes, const std::int32_t* z, std::uint32_t n, bool adapt,
                   std::uint32_t segment_residuals, std::vector<std::uint8_t>& stream) {
  const std::uint32_t segments = f::mt_segment_count(n, segment_residuals);
  thread_local std::vector<std::uint8_t> classes, buffer, body;
  classes.resize(n);
  f::mt_residual_classes(z, n, tables.scale_rate(), classes.data());
  stream.clear();
  body.clear();
  for (std::uint32_t i = 0; i < segments; ++i) {
    const std::uint32_t first = f::mt_segment_first(i, segment_residuals), end = f::mt_segment_end(i, n, segment_residuals);
    buffer.resize(f::mt_max_segment_bytes(end > first ? end - first : 0));
    const std::uint64_t at = f::mt_encode_segment(tables.set(), codes, z, classes.data(), nullptr, n, adapt, segment_residuals, i, buffer.data(), buffer.size());
    if (i + 1 < segments) f::put_leb128(stream, buffer.size() - at);
    body.insert(body.end(), buffer.begin() + static_cast<std::ptrdiff_t>(at), buffer.end());
  }
  stream.insert(stream.end(), body.begin(), body.end());
}

class MtEncoder final : public EncoderFamily {
 public:
  // Level default: the ReLU projector (the GRU decodes several times slower in lockstep), no
  // wavelet features, and a prior the tables can hold.
  void train(const Recording& recording, f::Metadata& meta, const EncodeOptions& options, Model& model) const override {
    train_middle_out(recording, meta, options, model, {"mlp", 0});
    train_context_model(recording, meta, options, f::kMtMaxPriorPeriod, model);
  }

  void encode_streams(const std::vector<std::vector<std::int32_t>>& codes, const f::ChunkChannels& coded, const f::Metadata& meta,
                      std::size_t first, std::size_t end, std::vector<std::vector<std::uint8_t>>& streams) const override {
    const std::shared_ptr<const MtTables> tables = mt_tables_for(meta.codec);
    for_each_mo_residuals(codes, coded, meta, first, end, [&](std::size_t i, const std::int32_t* z, bool adapt) {
      encode_stream(*tables, codes[i].data(), z, static_cast<std::uint32_t>(codes[i].size()), adapt, meta.codec.partition_size, streams[i]);
    });
  }

  void encode_streams_of_chunks(std::span<const ChunkStreams> chunks, const f::Metadata& meta) const override {
    const std::shared_ptr<const MtTables> tables = mt_tables_for(meta.codec);
    for_each_mo_residuals(residual_inputs(chunks), meta, [&](std::size_t k, std::size_t i, const std::int32_t* z, bool adapt) {
      const auto& codes = (*chunks[k].codes)[i];
      encode_stream(*tables, codes.data(), z, static_cast<std::uint32_t>(codes.size()), adapt, meta.codec.partition_size, (*chunks[k].streams)[i]);
    });
  }
};

}  // namespace

const EncoderFamily& mt_encoder() {
  static const MtEncoder encoder;
  return encoder;
}

}  // namespace spikey::host::codecs
