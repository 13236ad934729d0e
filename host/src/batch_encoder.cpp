#include "spikey/host/batch_encoder.hpp"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <stdexcept>

#include "spikey/format/codecs/batch/training_batch.hpp"
#include "spikey/format/codecs/common/golomb_stream.hpp"
#include "spikey/format/codecs/stored_models.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/format/sync_runs.hpp"
#include "spikey/host/parallel.hpp"
#include "codecs/mt/mt_tables.hpp"

namespace spikey::host {

namespace f = spikey::format;

bool batch_encodes(const std::string& codec) {
  const f::CodecRow* row = f::find_codec(codec);
  return row != nullptr && (row->coder == f::ResidualCoder::golomb || row->coder == f::ResidualCoder::table_rans);
}

namespace {

// The stream of `channel` among the chunk's present channels, or -1 when it is absent.
std::int32_t stream_of_channel(const f::ChunkChannels& present, const std::vector<std::int32_t>& stream_of, std::int32_t channel) {
  if (channel < 0) return -1;
  const auto it = std::lower_bound(present.channel.begin(), present.channel.end(), static_cast<std::uint32_t>(channel));
  if (it == present.channel.end() || *it != static_cast<std::uint32_t>(channel)) return -1;
  return stream_of[static_cast<std::size_t>(it - present.channel.begin())];
}

// A MiddleOut stream's model: its channel predictor's, the sources' streams among the chunk's.
void set_mo_model(f::BatchStream& s, const f::Metadata& meta, const f::ChannelInfo& channel, const f::ChunkChannels& present,
                  const std::vector<std::int32_t>& stream_of) {
  const f::MoModel model = f::mo_model_of(channel.predictor, meta.codec);
  s.order = model.order;
  s.wavelet_levels = model.levels;
  s.source_count = model.sources;
  s.source_half_window = model.half_window;
  s.lms_step = model.lms_step;
  s.net_input_gain = model.net_input_gain;
  s.net_output_gain = model.net_output_gain;
  for (int k = 0; k < model.sources; ++k)
    s.source_stream[k] = stream_of_channel(present, stream_of, channel.predictor.sources[static_cast<std::size_t>(k)].channel);
}

// Each channel's stored weights once, shared by its streams in every chunk of a batch.
std::vector<std::uint32_t> add_channel_weights(const f::Metadata& meta, std::vector<std::int32_t>& weights) {
  std::vector<std::uint32_t> offset(meta.channels.size());
  for (std::size_t c = 0; c < meta.channels.size(); ++c) {
    offset[c] = static_cast<std::uint32_t>(weights.size());
    const auto w = f::initial_weights(meta.channels[c].predictor);
    weights.insert(weights.end(), w.begin(), w.end());
  }
  return offset;
}

}  // namespace

BatchPlan plan_batch(const f::Metadata& meta, std::uint64_t first_chunk, std::uint64_t end_chunk) {
  if (!batch_encodes(meta.codec.name))
    throw std::invalid_argument("codec " + meta.codec.name + " has no batch encoder (it is for the Golomb-coded and table-coded codecs)");
  const f::CodecRow& row = f::codec_row(meta.codec.name);
  const bool mo = row.predictor == f::PredictorKind::middle_out;
  const bool mt = row.coder == f::ResidualCoder::table_rans;
  BatchPlan plan;
  plan.codec = mt ? f::BatchCodec::kMt : mo ? f::BatchCodec::kMo : f::BatchCodec::kLpc;
  plan.first_chunk = first_chunk;
  if (mt) {
    auto tables = codecs::mt_tables_for(meta.codec);
    plan.mt_tables = tables->set();
    plan.mt_tables_owner = std::move(tables);
  }
  if (mo && meta.codec.network) plan.network.push_back(*meta.codec.network);
  const std::vector<std::uint32_t> weights_offset = add_channel_weights(meta, plan.weights);
  const std::uint32_t partition_size = meta.codec.partition_size;
  for (std::uint64_t chunk = first_chunk; chunk < end_chunk; ++chunk) {
    plan.chunk_first_stream.push_back(static_cast<std::uint32_t>(plan.streams.size()));
    plan.chunk_sample_offset.push_back(plan.samples);
    const auto present = f::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
    // Streams for the codec's channels; sync channels are runs coded on the host when the
    // chunk is assembled (§6.10), their samples left in the batch unreferenced.
    std::vector<std::int32_t> stream_of(present.channel.size(), -1);
    for (std::size_t i = 0, next = plan.streams.size(); i < present.channel.size(); ++i)
      if (!meta.channels[present.channel[i]].sync) stream_of[i] = static_cast<std::int32_t>(next++);
    for (std::size_t i = 0; i < present.channel.size(); ++i) {
      const f::ChannelInfo& channel = meta.channels[present.channel[i]];
      if (channel.sync) {
        plan.sync_slots.push_back({static_cast<std::uint32_t>(chunk - first_chunk), static_cast<std::uint32_t>(i), plan.samples,
                                   present.sample_count[i]});
        plan.samples += present.sample_count[i];
        continue;
      }
      f::BatchStream s;
      s.sample_offset = plan.samples;
      s.n = present.sample_count[i];
      if (mo) {
        s.codec = plan.codec;
        set_mo_model(s, meta, channel, present, stream_of);
      } else {
        const f::LpcModel model = f::lpc_model_of(channel.predictor, meta.codec.weight_shift);
        s.order = model.order;
        s.source_half_window = model.source_half_window;
        s.source_count = model.source_half_window >= 0 ? 1 : 0;
        s.lms_step = model.lms_step;
        s.source_stream[0] = stream_of_channel(present, stream_of, channel.predictor.source_channel());
      }
      s.weight_shift = meta.codec.weight_shift;
      s.weights_offset = weights_offset[present.channel[i]];
      s.map_kind = static_cast<std::uint32_t>(channel.value_map.kind);
      s.map_step = channel.value_map.step;
      s.map_offset = channel.value_map.offset;
      s.partition_size = partition_size;
      s.first_partition = static_cast<std::uint32_t>(plan.partition_count());
      if (mt) {
        for (std::uint32_t segment = 0, segments = f::mt_segment_count(s.n, partition_size); segment < segments; ++segment) {
          f::BatchPartition p;
          p.stream = static_cast<std::uint32_t>(plan.streams.size());
          p.start = f::mt_segment_first(segment, partition_size) - 1;
          p.count = f::mt_segment_end(segment, s.n, partition_size) - p.start - 1;
          p.staging_offset = plan.staging_bytes;
          plan.staging_bytes += f::mt_max_segment_bytes(p.count);
          plan.partitions.push_back(p);
        }
        s.partitions = static_cast<std::uint32_t>(plan.partitions.size()) - s.first_partition;
      } else {
        s.partitions = f::batch_golomb_partition_count(s.n, partition_size);
      }
      plan.samples += s.n;
      plan.streams.push_back(s);
    }
  }
  plan.chunk_first_stream.push_back(static_cast<std::uint32_t>(plan.streams.size()));
  plan.chunk_sample_offset.push_back(plan.samples);
  return plan;
}

std::uint64_t batch_device_bytes(const BatchPlan& plan) {
  std::uint64_t scratch = 0, words = 0;
  int levels = 0;
  for (const auto& s : plan.streams) {
    levels = std::max(levels, s.wavelet_levels);
    if (plan.codec != f::BatchCodec::kLpc && !f::batch_mo_in_parts(s, plan.network.empty() ? nullptr : plan.network.data()))
      scratch += 2 * f::batch_scratch_size(s);  // GRU streams only: the others read the batch's input planes
    words += f::max_golomb_stream_words(s.n, 1);  // generous: partition fields counted per residual (mt: below its bound)
  }
  std::uint64_t mt = 0;
  if (plan.codec == f::BatchCodec::kMt)
    mt = plan.samples + plan.staging_bytes + f::MtTableSet::kCumEntries * 4 + f::MtTableSet::kIndexEntries + f::MtTableSet::kSlots * 8 +
         f::MtTableSet::kShapeEntries * 2 + plan.mt_tables.prior_entries() * 2;  // classes, staging, tables
  const std::uint64_t inputs = 2 + 4 * static_cast<std::uint64_t>(levels);  // int16 clamped differences and wavelet planes
  return plan.samples * (2 + 4 + 4 + 4 + inputs) + scratch * 4 + words * 4 + plan.streams.size() * sizeof(f::BatchStream) +
         plan.partition_count() * sizeof(f::BatchPartition) + plan.weights.size() * 4 + mt;
}

GatheredSamples gather_chunks(const Recording& recording, const f::Metadata& meta, const std::vector<std::uint64_t>& chunks,
                              unsigned threads, const std::shared_ptr<HostMemoryPool>& memory) {
  std::vector<std::uint64_t> offset(chunks.size() + 1, 0);
  std::vector<f::ChunkChannels> present(chunks.size());
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    present[i] = f::channels_in_chunk(meta, meta.chunk_first_sample(chunks[i]), meta.chunk_sample_count(chunks[i]));
    offset[i + 1] = offset[i];
    for (const auto n : present[i].sample_count) offset[i + 1] += n;
  }
  GatheredSamples samples(offset.back(), PoolAllocator<std::int16_t>(memory));
  // Each chunk in parts (time slices) where there are fewer chunks than threads: a batch of a
  // wide recording holds a few chunks, and gathering a chunk on one thread left cores idle.
  const std::size_t parts = threads_within(chunks.size(), threads);
  parallel_for(chunks.size() * parts, threads, [&](std::size_t piece) {
    const std::size_t i = piece / parts;
    recording.gather(meta.chunk_first_sample(chunks[i]), present[i], std::span<std::int16_t>(samples).subspan(offset[i], offset[i + 1] - offset[i]),
                     piece % parts, parts);
  });
  return samples;
}

GatheredSamples gather_batch(const Recording& recording, const f::Metadata& meta, const BatchPlan& plan, unsigned threads,
                             const std::shared_ptr<HostMemoryPool>& memory) {
  std::vector<std::uint64_t> chunks(plan.chunk_count());
  for (std::size_t i = 0; i < chunks.size(); ++i) chunks[i] = plan.first_chunk + i;
  return gather_chunks(recording, meta, chunks, threads, memory);
}

BatchPlan plan_training_batch(const f::Metadata& meta, const std::vector<std::uint64_t>& chunks, const NetworkCandidate* candidate) {
  BatchPlan plan;
  plan.codec = f::BatchCodec::kMt;
  plan.first_chunk = chunks.empty() ? 0 : chunks.front();
  const f::MoNetwork* network = candidate != nullptr ? candidate->network : meta.codec.network ? &*meta.codec.network : nullptr;
  if (network != nullptr) plan.network.push_back(*network);
  const std::vector<std::uint32_t> weights_offset = add_channel_weights(meta, plan.weights);
  for (const std::uint64_t chunk : chunks) {
    plan.chunk_first_stream.push_back(static_cast<std::uint32_t>(plan.streams.size()));
    plan.chunk_sample_offset.push_back(plan.samples);
    const auto present = f::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
    std::vector<std::int32_t> stream_of(present.channel.size());
    for (std::size_t i = 0; i < present.channel.size(); ++i) stream_of[i] = static_cast<std::int32_t>(plan.streams.size() + i);
    for (std::size_t i = 0; i < present.channel.size(); ++i) {
      const std::uint32_t c = present.channel[i];
      f::BatchStream s;
      s.sample_offset = plan.samples;
      s.n = present.sample_count[i];
      s.codec = f::BatchCodec::kMt;
      set_mo_model(s, meta, meta.channels[c], present, stream_of);
      if (candidate != nullptr) {
        s.lms_step = 0;
        s.net_input_gain = network != nullptr ? candidate->input_gain[c] : 0;
        s.net_output_gain = network != nullptr ? candidate->output_gain[c] : 0;
      }
      s.weight_shift = meta.codec.weight_shift;
      s.weights_offset = weights_offset[c];
      s.map_kind = static_cast<std::uint32_t>(meta.channels[c].value_map.kind);
      s.map_step = meta.channels[c].value_map.step;
      s.map_offset = meta.channels[c].value_map.offset;
      plan.streams.push_back(s);
      plan.samples += s.n;
    }
  }
  plan.chunk_first_stream.push_back(static_cast<std::uint32_t>(plan.streams.size()));
  plan.chunk_sample_offset.push_back(plan.samples);
  return plan;
}

namespace {

// Stages 4-8 of mt_batch.hpp.
BatchWords run_mt_stages_on_cpu(BatchPlan& plan, const std::vector<std::int32_t>& codes, std::vector<std::uint32_t>& fixed,
                                std::vector<std::uint32_t>& adapting, unsigned threads) {
  auto& streams = plan.streams;
  auto& partitions = plan.partitions;
  std::vector<std::uint8_t> classes(plan.samples), staging(plan.staging_bytes);
  parallel_for(streams.size(), threads,
               [&](std::size_t i) { f::batch_mt_classes(streams[i], fixed.data(), adapting.data(), plan.mt_tables.scale_rate, classes.data()); });
  parallel_for(streams.size(), threads, [&](std::size_t i) {
    for (std::uint32_t t = 1; t < streams[i].n; ++t)
      f::batch_mt_head(streams[i], t, plan.mt_tables, codes.data(), fixed.data(), adapting.data(), classes.data());
  });
  parallel_for(partitions.size(), threads, [&](std::size_t i) {
    f::BatchPartition& p = partitions[i];
    const f::BatchStream& s = streams[p.stream];
    f::batch_mt_encode_segment(p, static_cast<std::uint32_t>(i) - s.first_partition, s, plan.mt_tables, codes.data(), fixed.data(), adapting.data(),
                               classes.data(), staging.data());
  });
  std::uint64_t total = 0;
  for (auto& s : streams) {
    f::batch_mt_lay_out_stream(s, partitions.data());
    s.word_offset = total;
    total += s.words;
  }
  BatchWords words(total, 0);  // the segments' padding bytes stay zero
  auto* out = reinterpret_cast<std::uint8_t*>(words.data());
  parallel_for(streams.size(), threads, [&](std::size_t i) { f::batch_mt_write_directory(streams[i], partitions.data(), out); });
  parallel_for(partitions.size(), threads,
               [&](std::size_t i) { f::batch_mt_copy_segment(partitions[i], streams[partitions[i].stream], staging.data(), out, 0, 1); });
  return words;
}

}  // namespace

std::vector<std::uint32_t> training_stream_channels(const f::Metadata& meta, const std::vector<std::uint64_t>& chunks) {
  std::vector<std::uint32_t> channels;
  for (const std::uint64_t chunk : chunks) {
    const auto present = f::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
    channels.insert(channels.end(), present.channel.begin(), present.channel.end());
  }
  return channels;
}

namespace {

// What stages 1-3 leave for the coding stages.
struct Predicted {
  std::vector<std::int32_t> codes;
  std::vector<std::uint32_t> folded_fixed, folded_adapting;
};

Predicted run_prediction_on_cpu(BatchPlan& plan, std::span<const std::int16_t> samples, unsigned threads, AdaptingForm form) {
  auto& streams = plan.streams;
  Predicted predicted;
  auto& codes = predicted.codes;
  auto& folded_fixed = predicted.folded_fixed;
  auto& folded_adapting = predicted.folded_adapting;
  codes.resize(plan.samples);
  folded_fixed.resize(plan.samples);
  folded_adapting.resize(plan.samples);

  // 1: value maps.
  std::atomic<bool> exact{true};
  parallel_for(streams.size(), threads, [&](std::size_t i) {
    bool ok = true;
    for (std::uint32_t t = 0; t < streams[i].n; ++t) ok &= f::batch_map_sample(streams[i], t, samples.data(), codes.data());
    if (!ok) exact = false;
  });
  if (!exact) throw std::logic_error("a value map is not exact for its channel");

  // 2-3: both predictions, the adapt flag, in the GPU's parts: the clamped differences of every
  // sample first (sources read other streams'), then each fixed-weight residual on its own, then
  // the adapting variant.
  std::vector<std::int16_t> diffs(plan.samples);
  parallel_for(streams.size(), threads, [&](std::size_t i) {
    for (std::uint32_t t = 0; t < streams[i].n; ++t) f::batch_clamped_difference(streams[i], t, codes.data(), diffs.data());
  });
  if (plan.codec == f::BatchCodec::kLpc) {
    parallel_for(streams.size(), threads, [&](std::size_t i) {
      f::BatchStream& s = streams[i];
      f::BatchFixedTaps fixed;
      f::batch_lpc_fixed_taps(s, streams.data(), diffs.data(), plan.weights.data(), fixed);
      for (std::uint32_t t = 1; t < s.n; ++t) f::batch_lpc_fixed_residual(s, fixed, t, codes.data(), folded_fixed.data());
      s.folded_sum[0] = f::batch_fixed_sum(s, folded_fixed.data());
      if (s.lms_step == 0)
        s.folded_sum[1] = 0;
      else if (form == AdaptingForm::warp)
        s.folded_sum[1] =
            f::batch_lpc_adapting_in_lanes<f::kBatchLanes>(s, streams.data(), codes.data(), diffs.data(), plan.weights.data(), folded_adapting.data());
      else if (form == AdaptingForm::half_warp)
        s.folded_sum[1] = f::batch_lpc_adapting_in_lanes<f::kBatchLanes / 2>(s, streams.data(), codes.data(), diffs.data(), plan.weights.data(),
                                                                             folded_adapting.data());
      else
        s.folded_sum[1] = f::batch_lpc_adapting_stream(s, streams.data(), codes.data(), diffs.data(), plan.weights.data(), folded_adapting.data());
      s.adapt = f::batch_choose_adapt(s);
    });
  } else {
    // The MiddleOut codecs, where the network has no state: the wavelet planes too; GRU streams
    // per stream.
    const f::MoNetwork* network = plan.network.empty() ? nullptr : plan.network.data();
    int levels = 0;
    for (const auto& s : streams) levels = std::max(levels, s.wavelet_levels);
    std::vector<std::int16_t> planes(static_cast<std::size_t>(2 * levels) * plan.samples);
    parallel_for(streams.size(), threads, [&](std::size_t i) {
      for (int l = 1; l <= streams[i].wavelet_levels; ++l)
        for (std::uint32_t t = 0; t < streams[i].n; ++t) f::batch_wavelet_level(streams[i], l, t, diffs.data(), planes.data(), plan.samples);
    });
    parallel_for(streams.size(), threads, [&](std::size_t i) {
      f::BatchStream& s = streams[i];
      const bool in_parts = f::batch_mo_in_parts(s, network);
      std::vector<std::int32_t> scratch(in_parts && form != AdaptingForm::thread ? 0 : f::batch_scratch_size(s));  // the sequential buffers
      if (in_parts) {
        f::BatchFixedTaps fixed;
        f::batch_mo_fixed_taps(s, streams.data(), diffs.data(), planes.data(), plan.samples, plan.weights.data(), network, fixed);
        for (std::uint32_t t = 0; t < s.n; ++t) f::batch_mo_fixed_residual(s, fixed, t, codes.data(), diffs.data(), network, folded_fixed.data());
        s.folded_sum[0] = f::batch_fixed_sum(s, folded_fixed.data());
      } else {
        s.folded_sum[0] =
            f::batch_predict_stream(s, 0, streams.data(), codes.data(), plan.weights.data(), network, scratch.data(), folded_fixed.data());
      }
      if (s.lms_step == 0)
        s.folded_sum[1] = 0;
      else if (in_parts && form == AdaptingForm::warp)
        s.folded_sum[1] = f::batch_mo_adapting_in_lanes<f::kBatchLanes>(s, streams.data(), codes.data(), diffs.data(), planes.data(), plan.samples,
                                                                        plan.weights.data(), network, folded_adapting.data());
      else if (in_parts && form == AdaptingForm::half_warp)
        s.folded_sum[1] = f::batch_mo_adapting_in_lanes<f::kBatchLanes / 2>(s, streams.data(), codes.data(), diffs.data(), planes.data(),
                                                                            plan.samples, plan.weights.data(), network, folded_adapting.data());
      else  // a GRU stream, or the thread form: the sequential reference
        s.folded_sum[1] =
            f::batch_predict_stream(s, 1, streams.data(), codes.data(), plan.weights.data(), network, scratch.data(), folded_adapting.data());
      s.adapt = f::batch_choose_adapt(s);
    });
  }
  return predicted;
}

}  // namespace

void predict_batch_on_cpu(BatchPlan& plan, std::span<const std::int16_t> samples, unsigned threads) {
  run_prediction_on_cpu(plan, samples, threads, AdaptingForm::warp);
}

void block_sums_on_cpu(BatchPlan& plan, std::span<const std::int16_t> samples, unsigned threads, BlockSums& sums) {
  const auto& streams = plan.streams;
  sums.offset.assign(1, 0);
  for (const auto& s : streams) sums.offset.push_back(sums.offset.back() + f::signature_blocks(s, sums.block));
  sums.sums.assign(sums.offset.back(), 0);
  std::vector<std::int32_t> codes(plan.samples);
  std::vector<std::int16_t> diffs(plan.samples);
  parallel_for(streams.size(), threads, [&](std::size_t i) {
    const f::BatchStream& s = streams[i];
    for (std::uint32_t t = 0; t < s.n; ++t) f::batch_map_sample(s, t, samples.data(), codes.data());
    for (std::uint32_t t = 0; t < s.n; ++t) f::batch_clamped_difference(s, t, codes.data(), diffs.data());
    for (std::uint64_t b = 0; b < f::signature_blocks(s, sums.block); ++b) sums.sums[sums.offset[i] + b] = f::signature_block_sum(s, sums.block, b, diffs.data());
  });
}

void count_context_on_cpu(BatchPlan& plan, std::span<const std::int16_t> samples, unsigned threads, ContextCounts& counts) {
  if (counts.counted.size() != plan.streams.size()) throw std::invalid_argument("context counts: one mark per stream expected");
  const Predicted predicted = run_prediction_on_cpu(plan, samples, threads, AdaptingForm::warp);
  // Each stream's counts into one of a few partial histograms (integer counts: any split adds up
  // to the same totals).
  const std::size_t parts = std::max<std::size_t>(1, std::min<std::size_t>(threads, plan.streams.size()));
  std::vector<std::vector<std::uint64_t>> magnitudes(parts, std::vector<std::uint64_t>(f::kCountMagnitudeSlots, 0));
  std::vector<std::vector<std::uint64_t>> codes(parts, std::vector<std::uint64_t>(f::kCountCodeBins, 0));
  parallel_for(parts, threads, [&](std::size_t part) {
    for (std::size_t i = part; i < plan.streams.size(); i += parts) {
      if (!counts.counted[i]) continue;
      const f::BatchStream& s = plan.streams[i];
      for (std::uint32_t t = 0; t < s.n; ++t) {
        std::size_t bin = 0;
        if (f::count_code_bin(predicted.codes[s.sample_offset + t], bin)) ++codes[part][bin];
      }
      const auto* z = reinterpret_cast<const std::int32_t*>(f::batch_chosen_residuals(s, predicted.folded_fixed.data(), predicted.folded_adapting.data()));
      for (std::size_t r = 0; r < f::kCountRates; ++r) {
        std::int32_t scale = f::kCmScaleStart;
        for (std::uint32_t t = 1; t < s.n; ++t) {
          ++magnitudes[part][f::count_magnitude_slot(r, scale, z[t])];
          scale = f::cm_next_scale(scale, z[t], f::count_scale_rate(r));
        }
      }
    }
  });
  counts.magnitudes.assign(f::kCountMagnitudeSlots, 0);
  counts.codes.assign(f::kCountCodeBins, 0);
  for (std::size_t part = 0; part < parts; ++part) {
    for (std::size_t k = 0; k < f::kCountMagnitudeSlots; ++k) counts.magnitudes[k] += magnitudes[part][k];
    for (std::size_t k = 0; k < f::kCountCodeBins; ++k) counts.codes[k] += codes[part][k];
  }
}

AdaptingForm adapting_form_from_environment() {
  const char* form = std::getenv("SPIKEY_GPU_ADAPT");
  if (form == nullptr || *form == '\0') return AdaptingForm::warp;
  for (const auto known : {AdaptingForm::warp, AdaptingForm::half_warp, AdaptingForm::thread})
    if (std::strcmp(form, adapting_form_name(known)) == 0) return known;
  throw std::invalid_argument(std::string("SPIKEY_GPU_ADAPT=") + form + ": expected warp, half_warp or thread");
}

const char* adapting_form_name(AdaptingForm form) {
  switch (form) {
    case AdaptingForm::warp: return "warp";
    case AdaptingForm::half_warp: return "half_warp";
    case AdaptingForm::thread: return "thread";
  }
  return "warp";
}

BatchWords run_batch_on_cpu(BatchPlan& plan, std::span<const std::int16_t> samples, unsigned threads, AdaptingForm form) {
  auto& streams = plan.streams;
  Predicted predicted = run_prediction_on_cpu(plan, samples, threads, form);
  if (plan.codec == f::BatchCodec::kMt) return run_mt_stages_on_cpu(plan, predicted.codes, predicted.folded_fixed, predicted.folded_adapting, threads);
  const auto& codes = predicted.codes;
  const auto& folded_fixed = predicted.folded_fixed;
  const auto& folded_adapting = predicted.folded_adapting;

  // 0, 4-5: the partitions, their indices, stream layout.
  std::vector<f::BatchPartition> partitions = golomb_partitions(plan, threads);
  parallel_for(partitions.size(), threads, [&](std::size_t i) {
    f::batch_choose_index(partitions[i], streams[partitions[i].stream], folded_fixed.data(), folded_adapting.data());
  });
  for (auto& s : streams) f::batch_lay_out_stream(s, partitions.data());

  // 6: word offsets.
  std::uint64_t total = 0;
  for (auto& s : streams) s.word_offset = total, total += s.words;

  // 7-8: pack. Within a partition, the 32 lanes' offsets come from an exclusive scan, as a
  // warp's shuffle scan gives them on the GPU.
  BatchWords words(total + f::BitWriter::kSlackWords, 0);  // the lanes' bits are or-ed in
  parallel_for(streams.size(), threads, [&](std::size_t i) { f::batch_write_stream_head(streams[i], codes.data(), words.data()); });
  parallel_for(partitions.size(), threads, [&](std::size_t i) {
    const f::BatchPartition& p = partitions[i];
    const f::BatchStream& s = streams[p.stream];
    const std::uint32_t* residuals = f::batch_chosen_residuals(s, folded_fixed.data(), folded_adapting.data());
    const std::uint32_t in_stream = static_cast<std::uint32_t>(i) - s.first_partition;
    const int previous = in_stream == 0 ? 0 : static_cast<int>(partitions[i - 1].index);
    std::uint64_t offset = 0;
    for (int lane = 0; lane < f::kBatchLanes; ++lane) {
      const std::uint64_t bits = f::batch_lane_bits(p, lane, residuals);
      f::batch_write_lane(p, in_stream, previous, s, lane, offset, residuals, words.data());
      offset += bits;
    }
  });
  words.resize(total);
  return words;
}

std::vector<f::BatchPartition> golomb_partitions(const BatchPlan& plan, unsigned threads) {
  std::vector<f::BatchPartition> partitions(plan.partition_count());
  parallel_for(plan.streams.size(), threads, [&](std::size_t i) {
    const f::BatchStream& s = plan.streams[i];
    for (std::uint32_t k = 0; k < s.partitions; ++k) partitions[s.first_partition + k] = f::batch_golomb_partition(static_cast<std::uint32_t>(i), s, k);
  });
  return partitions;
}

BatchPlan slice_plan(const BatchPlan& plan, std::size_t first, std::size_t end) {
  BatchPlan slice;
  slice.first_chunk = plan.first_chunk + first;
  slice.weights = plan.weights;
  slice.network = plan.network;
  slice.codec = plan.codec;
  slice.mt_tables = plan.mt_tables;
  slice.mt_tables_owner = plan.mt_tables_owner;
  const std::uint32_t stream_base = plan.chunk_first_stream[first];
  const std::uint64_t sample_base = plan.chunk_sample_offset[first];
  const std::uint32_t stream_end = plan.chunk_first_stream[end];
  const std::uint32_t partition_base = stream_end > stream_base ? plan.streams[stream_base].first_partition : 0;
  const std::uint64_t staging_base = partition_base < plan.partitions.size() ? plan.partitions[partition_base].staging_offset : 0;
  slice.streams.reserve(stream_end - stream_base);
  for (std::size_t c = first; c <= end; ++c) {
    slice.chunk_first_stream.push_back(plan.chunk_first_stream[c] - stream_base);
    slice.chunk_sample_offset.push_back(plan.chunk_sample_offset[c] - sample_base);
  }
  for (std::uint32_t i = stream_base; i < stream_end; ++i) {
    f::BatchStream s = plan.streams[i];
    s.sample_offset -= sample_base;
    for (auto& source : s.source_stream)
      if (source >= 0) source -= static_cast<std::int32_t>(stream_base);
    s.first_partition -= partition_base;
    slice.streams.push_back(s);
    for (std::uint32_t p = 0; p < s.partitions && !plan.partitions.empty(); ++p) {  // listed partitions: mt's segments
      f::BatchPartition q = plan.partitions[plan.streams[i].first_partition + p];
      q.stream -= stream_base;
      if (plan.codec == f::BatchCodec::kMt) {
        q.staging_offset -= staging_base;
        slice.staging_bytes = q.staging_offset + f::mt_max_segment_bytes(q.count);
      }
      slice.partitions.push_back(q);
    }
  }
  slice.samples = plan.chunk_sample_offset[end] - sample_base;
  return slice;
}

void merge_slice_results(BatchPlan& plan, const std::vector<BatchPlan>& slices, std::span<const std::uint64_t> word_base) {
  if (word_base.size() < slices.size()) throw std::invalid_argument("merge_slice_results: a word base per slice expected");
  std::uint32_t stream = 0;
  for (std::size_t k = 0; k < slices.size(); ++k)
    for (const auto& s : slices[k].streams) {
      f::BatchStream& target = plan.streams[stream++];
      target.folded_sum[0] = s.folded_sum[0];
      target.folded_sum[1] = s.folded_sum[1];
      target.adapt = s.adapt;
      target.bits = s.bits;
      target.words = s.words;
      target.word_offset = s.word_offset + word_base[k];
      target.bytes = s.bytes;
    }
}

std::vector<EncodedChunk> assemble_batch(const BatchPlan& plan, std::span<const std::uint32_t> words, std::span<const std::int16_t> samples,
                                         unsigned threads) {
  const std::size_t chunks = plan.chunk_count();
  std::vector<EncodedChunk> out(chunks);
  const bool bytes = plan.codec == f::BatchCodec::kMt;  // streams of bytes, sync runs in words of one byte (§6.10)
  const auto* byte_data = reinterpret_cast<const std::uint8_t*>(words.data());
  // Each chunk's sync slots (ascending chunk, then position), so that chunks assemble independently.
  std::vector<std::size_t> first_sync(chunks + 1, plan.sync_slots.size());
  for (std::size_t i = plan.sync_slots.size(); i-- > 0;) first_sync[plan.sync_slots[i].chunk] = i;
  for (std::size_t c = chunks; c-- > 0;) first_sync[c] = std::min(first_sync[c], first_sync[c + 1]);
  struct ChunkStreams {
    std::vector<std::span<const std::uint8_t>> streams;
    std::vector<std::uint32_t> counts, checks;
    std::vector<std::vector<std::uint8_t>> sync_runs;  // sized once: the spans point into them
    std::span<const std::int16_t> samples;
  };
  std::vector<ChunkStreams> chunk(chunks);
  // The streams where the executor left them (copied once, into the payload), the sync
  // channels' runs coded here.
  parallel_for(chunks, threads, [&](std::size_t c) {
    ChunkStreams& k = chunk[c];
    for (std::uint32_t i = plan.chunk_first_stream[c]; i < plan.chunk_first_stream[c + 1]; ++i) {
      const f::BatchStream& s = plan.streams[i];
      const std::uint64_t size = bytes ? s.bytes : std::uint64_t{s.words} * 4;
      k.streams.emplace_back(byte_data + 4 * s.word_offset, size);
      k.counts.push_back(s.n);
    }
    k.sync_runs.resize(first_sync[c + 1] - first_sync[c]);
    for (std::size_t j = first_sync[c]; j < first_sync[c + 1]; ++j) {  // ascending positions
      const BatchPlan::SyncSlot& slot = plan.sync_slots[j];
      auto& runs = k.sync_runs[j - first_sync[c]];
      runs = f::encode_sync_runs(samples.subspan(slot.sample_offset, slot.n), bytes ? 1 : 4);
      k.streams.insert(k.streams.begin() + slot.position, std::span<const std::uint8_t>(runs));
      k.counts.insert(k.counts.begin() + slot.position, slot.n);
    }
    k.samples = samples.subspan(plan.chunk_sample_offset[c], plan.chunk_sample_offset[c + 1] - plan.chunk_sample_offset[c]);
    k.checks.resize(k.streams.size());
  });
  // The passes over every sample, each chunk's stream checks in parts of its channels and its
  // checksum, on all the threads at once: a batch holds a few chunks of many channels, and a
  // chunk a thread left most of them idle.
  const std::size_t parts = threads_within(chunks, threads);
  parallel_for(chunks * (parts + 1), threads, [&](std::size_t item) {
    ChunkStreams& k = chunk[item / (parts + 1)];
    const std::size_t part = item % (parts + 1);
    if (part == parts) {
      out[item / (parts + 1)].samples_checksum = f::checksum64(k.samples);
      return;
    }
    const std::size_t n = k.streams.size();
    f::stream_checks(k.samples, k.counts, n * part / parts, n * (part + 1) / parts, k.checks);
  });
  parallel_for(chunks, threads, [&](std::size_t c) { out[c].payload = f::assemble_payload(chunk[c].streams, chunk[c].checks); });
  return out;
}

}  // namespace spikey::host
