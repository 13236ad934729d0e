// The encoder of codecs mt1-mt3 (level default, SPEC.md §6.9.6): MiddleOut training with the
// ReLU projector, the context model with a prior of period at most 256, then per chunk the
// residuals of each channel (mo_chunk_residuals.hpp) and its table-driven rANS segments.
#include <algorithm>
#include <cstring>
#include <iterator>
#include <span>
#include <stdexcept>
#include <string>

#include "codecs/cm/cm_training.hpp"
#include "codecs/encoder_family.hpp"
#include "codecs/families.hpp"
#include "codecs/lanes/lanes.hpp"
#include "codecs/mo/mo_chunk_residuals.hpp"
#include "codecs/mo/mo_training.hpp"
#include "codecs/mt/mt_heads.hpp"
#include "codecs/mt/mt_tables.hpp"
#include "spikey/format/codecs/mt/mt_stream.hpp"
#include "spikey/format/codecs/stored_models.hpp"
#include "spikey/format/wire.hpp"

namespace spikey::host::codecs {

namespace f = spikey::format;

namespace {

// The streams of a lane group (channels of one length, so their segments span the same
// residuals) in two passes: each residual's head (its table lookups, mt_find_heads), then the
// rANS passes of segment i of every stream side by side. Each stream is an rANS chain of its
// own; one stream at a time left the core waiting on its chain (renormalisation, the quotient's
// multiply) symbol after symbol. The same bytes as mt_encode_segment, stream by stream.
struct StreamToCode {
  const std::int32_t* codes = nullptr;
  const std::int32_t* z = nullptr;
  bool adapt = false;
  std::vector<std::uint8_t>* stream = nullptr;
};

void encode_streams_side_by_side(const MtTables& tables, std::span<const StreamToCode> group, std::uint32_t n, std::uint32_t segment_residuals) {
  constexpr std::size_t kMost = lanes::kLanes;
  thread_local std::vector<std::uint8_t> classes[kMost], buffers[kMost], bodies[kMost];
  thread_local std::vector<std::uint32_t> heads[kMost];
  const std::size_t count = group.size();
  const f::MtTableSet& set = tables.set();
  const std::int32_t* z[kMost];
  const std::uint8_t* class_of[kMost];
  const std::uint32_t* head_of[kMost];
  for (std::size_t l = 0; l < count; ++l) {
    classes[l].resize(n);
    f::mt_residual_classes(group[l].z, n, tables.scale_rate(), classes[l].data());
    group[l].stream->clear();
    bodies[l].clear();
    z[l] = group[l].z;
    class_of[l] = classes[l].data();
  }
  const std::uint32_t segments = f::mt_segment_count(n, segment_residuals);
  for (std::uint32_t i = 0; i < segments; ++i) {
    const std::uint32_t first = f::mt_segment_first(i, segment_residuals), end = f::mt_segment_end(i, n, segment_residuals);
    const std::uint32_t residuals = end > first ? end - first : 0;
    const std::uint64_t capacity = f::mt_max_segment_bytes(residuals);
    f::RansEncoder rans[kMost];
    for (std::size_t l = 0; l < count; ++l) {
      buffers[l].resize(capacity);
      rans[l].cursor = buffers[l].data() + capacity;
      heads[l].resize(residuals);
      mt_find_heads(tables, group[l].codes, z[l], class_of[l], first, end, heads[l].data());
      head_of[l] = heads[l].data();
    }
    for (std::uint32_t t = end; t-- > first;)  // backwards: rANS codes in reverse
      for (std::size_t l = 0; l < count; ++l) f::mt_put_residual(rans[l], set.shift[class_of[l][t]], z[l][t], head_of[l][t - first]);
    for (std::size_t l = 0; l < count; ++l) {
      if (i == 0) f::mt_put_stream_start(rans[l], group[l].codes, group[l].adapt);
      const auto at = static_cast<std::size_t>(f::mt_finish_segment(rans[l]) - buffers[l].data());
      if (i + 1 < segments) f::put_leb128(*group[l].stream, capacity - at);
      bodies[l].insert(bodies[l].end(), buffers[l].begin() + static_cast<std::ptrdiff_t>(at), buffers[l].end());
    }
  }
  for (std::size_t l = 0; l < count; ++l) group[l].stream->insert(group[l].stream->end(), bodies[l].begin(), bodies[l].end());
}

// A lane group's channels of `chunks` (streams_of(chunk) their streams) coded side by side.
template <class StreamsOf, class CodesOf>
void encode_residual_group(const MtTables& tables, std::span<const ChannelResiduals> group, const CodesOf& codes_of,
                           const StreamsOf& streams_of, std::uint32_t segment_residuals) {
  StreamToCode streams[lanes::kLanes];
  if (group.size() > std::size(streams)) throw std::logic_error("mt encoder: a lane group of more than " + std::to_string(std::size(streams)) + " channels");
  const auto n = static_cast<std::uint32_t>(codes_of(group.front()).size());
  for (std::size_t l = 0; l < group.size(); ++l) {
    const std::vector<std::int32_t>& codes = codes_of(group[l]);
    if (codes.size() != n) throw std::logic_error("mt encoder: a lane group's channels differ in length");
    streams[l] = {codes.data(), group[l].z, group[l].adapt, &streams_of(group[l])};
  }
  encode_streams_side_by_side(tables, std::span<const StreamToCode>(streams, group.size()), n, segment_residuals);
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
    const ChunkResidualInputs chunk{&codes, &coded, first, end};
    for_each_mo_residual_group(std::span<const ChunkResidualInputs>(&chunk, 1), meta, [&](std::span<const ChannelResiduals> group) {
      encode_residual_group(
          *tables, group, [&](const ChannelResiduals& c) -> const std::vector<std::int32_t>& { return codes[c.channel]; },
          [&](const ChannelResiduals& c) -> std::vector<std::uint8_t>& { return streams[c.channel]; }, meta.codec.partition_size);
    });
  }

  void encode_streams_of_chunks(std::span<const ChunkStreams> chunks, const f::Metadata& meta) const override {
    const std::shared_ptr<const MtTables> tables = mt_tables_for(meta.codec);
    for_each_mo_residual_group(residual_inputs(chunks), meta, [&](std::span<const ChannelResiduals> group) {
      encode_residual_group(
          *tables, group, [&](const ChannelResiduals& c) -> const std::vector<std::int32_t>& { return (*chunks[c.chunk].codes)[c.channel]; },
          [&](const ChannelResiduals& c) -> std::vector<std::uint8_t>& { return (*chunks[c.chunk].streams)[c.channel]; },
          meta.codec.partition_size);
    });
  }
};

}  // namespace

const EncoderFamily& mt_encoder() {
  static const MtEncoder encoder;
  return encoder;
}

}  // namespace spikey::host::codecs
