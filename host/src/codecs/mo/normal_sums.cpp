#include "codecs/mo/normal_sums.hpp"

#include <algorithm>

#include "spikey/format/chunk_payload.hpp"
#include "spikey/host/batch_encoder.hpp"
#include "spikey/host/parallel.hpp"

namespace spikey::host {

namespace f = spikey::format;

void run_normal_sums_on_cpu(NormalSumsBatch& batch, unsigned threads) {
  const std::vector<f::BatchStream>& streams = batch.streams;
  const std::uint64_t stride = batch.samples.size();
  std::vector<std::int32_t> codes(stride);
  std::vector<std::int16_t> diffs(stride);
  std::vector<std::int16_t> planes(2 * static_cast<std::uint64_t>(batch.wavelet_levels) * stride);
  // Stages 1, 2a and 2a' read only their own stream's earlier results: a stream per task.
  parallel_for(streams.size(), threads, [&](std::size_t i) {
    const f::BatchStream& s = streams[i];
    for (std::uint32_t t = 0; t < s.n; ++t) f::batch_map_sample(s, t, batch.samples.data(), codes.data());
    for (std::uint32_t t = 0; t < s.n; ++t) f::batch_clamped_difference(s, t, codes.data(), diffs.data());
  });
  parallel_for(streams.size(), threads, [&](std::size_t i) {
    const f::BatchStream& s = streams[i];
    for (int level = 1; level <= s.wavelet_levels; ++level)
      for (std::uint32_t tau = 0; tau < s.n; ++tau) f::batch_wavelet_level(s, level, tau, diffs.data(), planes.data(), stride);
  });
  batch.sums.assign(batch.sums_offset.empty() ? 0 : batch.sums_offset.back(), 0);
  parallel_for(streams.size(), threads, [&](std::size_t i) {
    const f::BatchStream& s = streams[i];
    const int size = f::normal_size(s);
    std::vector<std::int16_t> tile(static_cast<std::size_t>(size) * f::kNormalTileRow);
    std::int64_t* sums = batch.sums.data() + batch.sums_offset[i];
    for (std::uint32_t block = 0; block < f::normal_blocks(s); ++block) {
      for (int a = 0; a < size; ++a)
        for (std::uint32_t u = 0; u < f::kNormalBlock; ++u)
          f::normal_fill_value(s, streams.data(), block, a, u, diffs.data(), planes.data(), stride, tile.data());
      for (std::uint32_t term = 0; term < f::normal_terms(size); ++term) {
        int a = 0, b = 0;
        f::normal_term_pair(size, term, a, b);
        sums[term] += f::normal_block_dot(tile.data(), a, b);
      }
    }
  });
}

std::vector<std::vector<std::uint64_t>> training_batch_chunks(const f::Metadata& meta, const std::vector<std::uint64_t>& chunks,
                                                              std::uint64_t max_samples) {
  std::vector<std::vector<std::uint64_t>> groups;
  std::uint64_t in_group = 0;
  for (const std::uint64_t chunk : chunks) {
    const auto present = f::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
    std::uint64_t samples = 0;
    for (const auto n : present.sample_count) samples += n;
    if (groups.empty() || in_group + samples > max_samples) groups.emplace_back(), in_group = 0;
    groups.back().push_back(chunk);
    in_group += samples;
  }
  return groups;
}

NormalSumsBatch plan_normal_sums(const Recording& recording, const f::Metadata& meta, const std::vector<std::uint64_t>& chunks,
                                 const NormalPassShape& shape, unsigned threads, const std::shared_ptr<HostMemoryPool>& memory) {
  NormalSumsBatch batch;
  batch.wavelet_levels = shape.levels;
  batch.samples = gather_chunks(recording, meta, chunks, threads, memory);
  batch.sums_offset.push_back(0);
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const f::ChunkChannels chunk = f::channels_in_chunk(meta, meta.chunk_first_sample(chunks[i]), meta.chunk_sample_count(chunks[i]));
    const std::uint32_t first_stream = static_cast<std::uint32_t>(batch.streams.size());
    const auto stream_of = [&](std::uint32_t channel) -> std::int32_t {
      const auto it = std::lower_bound(chunk.channel.begin(), chunk.channel.end(), channel);
      return it != chunk.channel.end() && *it == channel ? static_cast<std::int32_t>(first_stream + (it - chunk.channel.begin())) : -1;
    };
    for (std::size_t p = 0; p < chunk.channel.size(); ++p) {
      const std::uint32_t c = chunk.channel[p];
      const f::ValueMap& map = meta.channels[c].value_map;
      f::BatchStream s;
      s.sample_offset = offset;
      s.n = chunk.sample_count[p];
      s.codec = f::BatchCodec::kMo;
      s.order = shape.order;
      s.wavelet_levels = shape.levels;
      s.source_half_window = shape.half_window;
      s.source_count = static_cast<std::int32_t>(shape.sources[c].size());
      for (int k = 0; k < s.source_count; ++k) s.source_stream[k] = stream_of(shape.sources[c][static_cast<std::size_t>(k)]);
      s.map_kind = static_cast<std::uint32_t>(map.kind);
      s.map_step = map.step;
      s.map_offset = map.offset;
      batch.streams.push_back(s);
      batch.channel.push_back(c);
      batch.sums_offset.push_back(batch.sums_offset.back() + f::normal_terms(f::normal_size(s)));
      offset += s.n;
    }
  }
  return batch;
}

}  // namespace spikey::host
