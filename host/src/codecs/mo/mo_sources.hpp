// MiddleOut sources on the host (SPEC.md §6.7): which channels a chunk's requested channels
// need (sources of sources too: the decoding order is a DAG), and each source's buffer of
// clamped differences for a channel's prediction. Shared by the mo and cm families.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "codecs/decoder_family.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/codecs/mo/mo_predictor.hpp"

namespace spikey::host::codecs {

inline void add_middle_out_sources(const format::Metadata& meta, const format::ChunkChannels& present, std::vector<char>& needed) {
  std::vector<std::size_t> pending;
  for (std::size_t p = 0; p < present.channel.size(); ++p)
    if (needed[p]) pending.push_back(p);
  while (!pending.empty()) {
    const std::size_t p = pending.back();
    pending.pop_back();
    for (const auto& s : meta.channels[present.channel[p]].predictor.sources) {
      const std::int64_t q = present.position(s.channel);
      if (q >= 0 && !needed[static_cast<std::size_t>(q)]) needed[static_cast<std::size_t>(q)] = 1, pending.push_back(static_cast<std::size_t>(q));
    }
  }
}

// Each channel's depth in the decoding order (0: no sources; else one more than its deepest
// source), and the deepest.
inline std::vector<std::uint32_t> mo_channel_depths(const format::Metadata& meta, std::uint32_t* max_depth) {
  std::vector<std::uint32_t> depth(meta.channels.size(), 0);
  *max_depth = 0;
  for (const std::uint32_t c : format::mo_decoding_order(meta)) {
    for (const auto& s : meta.channels[c].predictor.sources) depth[c] = std::max(depth[c], depth[static_cast<std::size_t>(s.channel)] + 1);
    *max_depth = std::max(*max_depth, depth[c]);
  }
  return depth;
}

// Fills buffers[s] (s < the predictor's sources) for a channel of n samples from the codes of
// the chunk's present channels (zeros for a source absent from the chunk) and points
// sources[s] at them.
template <class Codes>  // a channel's codes: the encoder's std::vector, the decoder's ChannelCodes
void fill_middle_out_sources(const format::ChannelPredictor& predictor, const format::ChunkChannels& present,
                                    const std::vector<Codes>& codes, std::uint32_t n, std::vector<std::int32_t>* buffers,
                                    const std::int32_t** sources) {
  for (std::size_t s = 0; s < predictor.sources.size(); ++s) {
    buffers[s].resize(format::source_buffer_size(n));
    const std::int64_t q = present.position(predictor.sources[s].channel);
    const Codes* src = q >= 0 ? &codes[static_cast<std::size_t>(q)] : nullptr;
    format::fill_source_buffer(src != nullptr ? src->data() : nullptr, src != nullptr ? static_cast<std::uint32_t>(src->size()) : 0, n, buffers[s].data());
    sources[s] = buffers[s].data();
  }
}

}  // namespace spikey::host::codecs
