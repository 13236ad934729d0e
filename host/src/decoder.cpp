#include "spikey/host/decoder.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>

#include "spikey/format/channel_predictor.hpp"
#include "spikey/format/channel_stream.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/sync_runs.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/format/cm_stream.hpp"
#include "spikey/format/cm_tables.hpp"
#include "spikey/host/lpc_lanes.hpp"
#include "spikey/host/mo_lanes.hpp"
#include "spikey/host/output_file.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/stopwatch.hpp"

namespace spikey::host {

namespace fs = std::filesystem;
using format::ArchiveError;

namespace {

const char* describe(format::StreamStatus status) {
  switch (status) {
    case format::StreamStatus::invalid_rice_parameter:
      return "invalid Rice parameter";
    case format::StreamStatus::overrun:
      return "stream runs past its end";
    case format::StreamStatus::length_mismatch:
      return "stream length does not match its contents";
    default:
      return "ok";
  }
}

}  // namespace

// The mo codecs decode in two stages: each chunk's streams to folded residuals (entropy), then
// the prediction, depth by depth of the decoding order (a channel's sources are all at smaller
// depths), up to 8 channels at once in the lockstep kernel. The prediction stage takes several
// chunks together: a depth level of one chunk often holds fewer than 8 channels (long source
// chains), and the same level of the next chunk fills the lanes.
struct MoChunk {
  std::uint64_t chunk = 0;
  const format::ChunkChannels* present = nullptr;
  const std::vector<char>* needed = nullptr;
  std::vector<std::vector<std::int32_t>>* codes = nullptr;
  std::vector<std::int64_t> position;  // per channel of the recording: index into `present`, or -1
  std::vector<std::vector<std::uint32_t>> folded;
  std::vector<std::int32_t> first_code;
  std::vector<char> adapt;
};

MoChunk decode_mo_residuals(const format::Metadata& meta, std::uint64_t chunk, std::uint64_t payload_offset, const format::ChunkChannels& present,
                            const format::PayloadDirectory& dir, std::span<const std::uint8_t> payload, const std::vector<char>& needed,
                            std::vector<std::vector<std::int32_t>>& codes) {
  MoChunk job;
  job.chunk = chunk;
  job.present = &present;
  job.needed = &needed;
  job.codes = &codes;
  job.position.assign(meta.channels.size(), -1);
  for (std::size_t p = 0; p < present.channel.size(); ++p) job.position[present.channel[p]] = static_cast<std::int64_t>(p);
  job.folded.resize(present.channel.size());
  job.first_code.assign(present.channel.size(), 0);
  job.adapt.assign(present.channel.size(), 0);
  for (std::size_t p = 0; p < present.channel.size(); ++p) {
    if (!needed[p]) continue;
    job.folded[p].resize(present.sample_count[p]);
    bool flag = false;
    if (!format::decode_lpc_stream_residuals(payload.data() + dir.stream_offset[p], dir.stream_size[p], present.sample_count[p],
                                             meta.codec.partition_size, &job.first_code[p], &flag, job.folded[p].data()))
      throw ArchiveError("chunk " + std::to_string(chunk) + ", channel " + std::to_string(present.channel[p]) + " (stream at byte " +
                         std::to_string(payload_offset + dir.stream_offset[p]) + "): malformed mo1 stream");
    job.adapt[p] = flag;
  }
  return job;
}

void predict_mo_chunks(const format::Metadata& meta, std::span<MoChunk> jobs) {
  std::vector<std::uint32_t> depth(meta.channels.size(), 0);
  std::uint32_t max_depth = 0;
  for (const std::uint32_t c : format::mo_decoding_order(meta)) {
    for (const auto& s : meta.channels[c].predictor.sources) depth[c] = std::max(depth[c], depth[static_cast<std::size_t>(s.channel)] + 1);
    max_depth = std::max(max_depth, depth[c]);
  }
  struct Lane {
    MoChunk* job;
    std::size_t p;
  };
  std::vector<std::vector<std::int32_t>> weights(lanes::kLanes), source_buffers(lanes::kLanes * format::kMaxMoSources);
  for (std::uint32_t level = 0; level <= max_depth; ++level) {
    std::vector<Lane> batch;
    const auto flush = [&] {
      lanes::MoLaneGroup group;
      group.lanes = static_cast<int>(batch.size());
      group.n = batch[0].job->present->sample_count[batch[0].p];
      std::int32_t first[lanes::kLanes] = {};
      const std::uint32_t* in[lanes::kLanes] = {};
      std::int32_t* out[lanes::kLanes] = {};
      for (std::size_t l = 0; l < batch.size(); ++l) {
        MoChunk& job = *batch[l].job;
        const std::size_t p = batch[l].p;
        auto& codes = *job.codes;
        const format::ChannelPredictor& predictor = meta.channels[job.present->channel[p]].predictor;
        group.model[l] = format::mo_model_of(predictor, meta.codec);
        if (!job.adapt[p]) group.model[l].lms_step = 0;
        weights[l] = format::lpc_initial_weights(predictor);
        group.weights[l] = weights[l].data();
        for (std::size_t s = 0; s < predictor.sources.size(); ++s) {
          auto& buffer = source_buffers[l * format::kMaxMoSources + s];
          buffer.assign(format::lpc_source_buffer_size(group.n), 0);
          const std::int64_t q = job.position[static_cast<std::size_t>(predictor.sources[s].channel)];
          if (q >= 0) {
            const auto& src = codes[static_cast<std::size_t>(q)];
            format::fill_lpc_source_buffer(src.data(), static_cast<std::uint32_t>(src.size()), group.n, buffer.data());
          }
          group.sources[l][s] = buffer.data();
        }
        first[l] = job.first_code[p];
        in[l] = job.folded[p].data();
        codes[p].resize(group.n);
        out[l] = codes[p].data();
      }
      lanes::mo_reconstruct(group, first, in, out);
      for (const Lane& lane : batch) lane.job->folded[lane.p] = {};  // done with: keep the memory in flight down
      batch.clear();
    };
    // Channels with and without the network stage in separate groups: a group pays for the
    // network when any of its lanes uses it.
    for (const bool network : {false, true}) {
      for (MoChunk& job : jobs) {
        const format::ChunkChannels& present = *job.present;
        for (std::size_t p = 0; p < present.channel.size(); ++p) {
          if (!(*job.needed)[p] || depth[present.channel[p]] != level || meta.channels[present.channel[p]].predictor.uses_network() != network)
            continue;
          if (!batch.empty() && batch[0].job->present->sample_count[batch[0].p] != present.sample_count[p]) flush();
          batch.push_back({&job, p});
          if (batch.size() == lanes::kLanes) flush();
        }
      }
      if (!batch.empty()) flush();
    }
  }
}

// cm1: channel after channel in the decoding order (sources first); each stream decodes its
// residuals and predictions in one pass.
void decode_cm_chunk(const format::Metadata& meta, std::uint64_t chunk, std::uint64_t payload_offset, const format::ChunkChannels& present,
                     const format::PayloadDirectory& dir, std::span<const std::uint8_t> payload, const std::vector<char>& needed,
                     std::vector<std::vector<std::int32_t>>& codes) {
  std::vector<std::int64_t> position(meta.channels.size(), -1);
  for (std::size_t p = 0; p < present.channel.size(); ++p) position[present.channel[p]] = static_cast<std::int64_t>(p);
  const format::CmModelTables model(meta.codec);
  format::CmNormaliserCache cache(static_cast<std::uint32_t>(meta.codec.cm_prior.size()));
  std::vector<std::vector<std::int32_t>> source_buffers(format::kMaxMoSources);
  std::vector<std::int32_t> history, wavelet, features(format::kMoStateSize);
  for (const std::uint32_t c : format::mo_decoding_order(meta)) {
    const std::int64_t at = position[c];
    if (at < 0 || !needed[static_cast<std::size_t>(at)]) continue;
    const auto p = static_cast<std::size_t>(at);
    const format::ChannelInfo& channel = meta.channels[c];
    const std::uint32_t n = present.sample_count[p];
    const format::MoModel m = format::mo_model_of(channel.predictor, meta.codec);
    std::vector<std::int32_t> weights = format::lpc_initial_weights(channel.predictor);
    const std::int32_t* sources[format::kMaxMoSources] = {};
    for (std::size_t s = 0; s < channel.predictor.sources.size(); ++s) {
      source_buffers[s].assign(format::lpc_source_buffer_size(n), 0);
      const std::int64_t q = position[static_cast<std::size_t>(channel.predictor.sources[s].channel)];
      if (q >= 0) {
        const auto& src = codes[static_cast<std::size_t>(q)];
        format::fill_lpc_source_buffer(src.data(), static_cast<std::uint32_t>(src.size()), n, source_buffers[s].data());
      }
      sources[s] = source_buffers[s].data();
    }
    history.resize(format::mo_history_buffer_size(n));
    wavelet.resize(static_cast<std::size_t>(m.levels) * format::wavelet_buffer_size(n) + 1);
    const format::CmTables tables = model.for_map(channel.value_map);
    codes[p].resize(n);
    if (!format::decode_cm_stream(tables, format::CmCachedNormaliser{&tables, &cache}, m, payload.data() + dir.stream_offset[p],
                                  dir.stream_size[p], n, weights.data(), history.data(), wavelet.data(), features.data(), sources,
                                  codes[p].data()))
      throw ArchiveError("chunk " + std::to_string(chunk) + ", channel " + std::to_string(c) + " (stream at byte " +
                         std::to_string(payload_offset + dir.stream_offset[p]) + "): malformed cm1 stream");
  }
}

std::uint64_t samples_checksum_of(const DecodedChunk& chunk) {
  return format::checksum64({reinterpret_cast<const std::uint8_t*>(chunk.samples.data()), chunk.samples.size() * 2});
}

std::span<const std::int16_t> DecodedChunk::channel_samples(std::uint32_t c) const {
  const auto it = std::lower_bound(channel.begin(), channel.end(), c);
  if (it == channel.end() || *it != c) return {};
  const auto i = static_cast<std::size_t>(it - channel.begin());
  return {samples.data() + offset[i], sample_count[i]};
}

DecodedChunk decode_chunk(const format::ArchiveReader& reader, std::uint64_t chunk, std::span<const std::uint32_t> channels) {
  return std::move(decode_chunks(reader, chunk, chunk + 1, channels).front());
}

std::vector<DecodedChunk> decode_chunks(const format::ArchiveReader& reader, std::uint64_t first_chunk, std::uint64_t end_chunk,
                                        std::span<const std::uint32_t> channels) {
  const Stopwatch stopwatch;
  std::vector<std::vector<std::uint8_t>> payloads;
  std::vector<PayloadInput> inputs;
  for (std::uint64_t chunk = first_chunk; chunk < end_chunk; ++chunk) {
    const format::IndexEntry& entry = reader.index().at(chunk);
    if (entry.lost()) throw format::LostChunkError(format::lost_chunk_message(reader.metadata(), chunk));
    payloads.push_back(reader.read_payload(chunk));
  }
  for (std::uint64_t chunk = first_chunk; chunk < end_chunk; ++chunk)
    inputs.push_back({chunk, payloads[chunk - first_chunk], reader.payload_offset(chunk), &reader.index()[chunk].samples_checksum});
  auto out = decode_payloads(reader.metadata(), reader.format_version(), inputs, channels);
  const double share = stopwatch.seconds() / static_cast<double>(std::max<std::size_t>(out.size(), 1));
  for (auto& chunk : out) chunk.decode_seconds = share;
  return out;
}

namespace {

// One chunk's decoding between its streams and its samples: the mo codecs' prediction stage
// runs for several chunks at once (predict_mo_chunks) between start_payload and finish_payload.
struct PayloadWork {
  std::uint64_t chunk = 0;
  std::uint64_t payload_offset = 0;
  const std::uint64_t* samples_checksum = nullptr;
  format::ChunkChannels present;
  std::vector<std::size_t> positions;  // requested channels, as indices into `present`
  std::vector<char> needed;
  std::vector<std::vector<std::int32_t>> codes;
  std::optional<MoChunk> mo;
  DecodedChunk out;
};

// Everything up to the codes of every needed channel, except the mo codecs' prediction stage.
void start_payload(const format::Metadata& meta, std::uint16_t version, std::uint64_t chunk, std::span<const std::uint8_t> payload,
                   std::uint64_t payload_offset, std::span<const std::uint32_t> channels, const std::uint64_t* samples_checksum, PayloadWork& w) {
  w.chunk = chunk;
  w.payload_offset = payload_offset;
  w.samples_checksum = samples_checksum;
  const std::uint64_t first_sample = meta.chunk_first_sample(chunk);
  w.present = format::channels_in_chunk(meta, first_sample, meta.chunk_sample_count(chunk));
  const format::ChunkChannels& present = w.present;
  const format::PayloadDirectory dir = format::parse_payload_directory(payload, present.channel.size(), chunk, payload_offset, version);
  const bool lpc = meta.codec.name == format::kCodecLpc1;
  const bool mo = format::uses_mo_predictors(meta.codec.name);
  const bool cm = format::is_cm_codec(meta.codec.name);
  const auto position_of = [&](std::int64_t c) -> std::int64_t {  // index into `present`, or -1
    if (c < 0) return -1;
    const auto it = std::lower_bound(present.channel.begin(), present.channel.end(), static_cast<std::uint32_t>(c));
    return it != present.channel.end() && *it == static_cast<std::uint32_t>(c) ? it - present.channel.begin() : -1;
  };

  DecodedChunk& out = w.out;
  out.chunk = chunk;
  out.first_sample = first_sample;
  std::vector<std::size_t>& positions = w.positions;
  if (channels.empty()) {
    positions.resize(present.channel.size());
    std::iota(positions.begin(), positions.end(), std::size_t{0});
  } else {
    for (const std::uint32_t c : channels)
      if (const auto p = position_of(c); p >= 0) positions.push_back(static_cast<std::size_t>(p));
  }
  // A requested channel predicted from another needs that one decoded too.
  std::vector<char>& needed = w.needed;
  needed.assign(present.channel.size(), 0);
  std::vector<std::int64_t> source_position(present.channel.size(), -1);
  for (const std::size_t p : positions) {
    needed[p] = 1;
    if (lpc) {
      source_position[p] = position_of(meta.channels[present.channel[p]].predictor.source_channel());
      if (source_position[p] >= 0) needed[static_cast<std::size_t>(source_position[p])] = 1;
    }
  }
  if (mo) {  // mo1: sources of sources too (the decoding order is a DAG)
    std::vector<std::size_t> pending(positions.begin(), positions.end());
    while (!pending.empty()) {
      const std::size_t p = pending.back();
      pending.pop_back();
      for (const auto& s : meta.channels[present.channel[p]].predictor.sources) {
        const auto q = position_of(s.channel);
        if (q >= 0 && !needed[static_cast<std::size_t>(q)]) needed[static_cast<std::size_t>(q)] = 1, pending.push_back(static_cast<std::size_t>(q));
      }
    }
  }

  std::vector<std::vector<std::int32_t>>& codes = w.codes;
  codes.resize(present.channel.size());
  const auto stream_error = [&](std::size_t p, const std::string& why) {
    return ArchiveError("chunk " + std::to_string(chunk) + ", channel " + std::to_string(present.channel[p]) + " (stream at byte " +
                        std::to_string(payload_offset + dir.stream_offset[p]) + "): " + why);
  };
  // Sync channels (§6.12) are runs, outside the codec; nothing is predicted from them.
  std::vector<std::int16_t> runs;
  for (std::size_t p = 0; p < present.channel.size(); ++p) {
    if (!needed[p] || !meta.channels[present.channel[p]].sync) continue;
    needed[p] = 0;
    runs.resize(present.sample_count[p]);
    if (!format::decode_sync_runs(payload.subspan(dir.stream_offset[p], dir.stream_size[p]), cm ? 1 : 4, runs))
      throw stream_error(p, "malformed sync runs");
    codes[p].assign(runs.begin(), runs.end());  // identity value map
  }
  for (std::size_t p = 0; p < present.channel.size(); ++p) {
    // Every sample after the warm-up costs at least one bit (cm1: a header at least): reject
    // impossible sizes before allocating.
    if (needed[p] && cm && dir.stream_size[p] < format::kCmStreamHeaderBytes) throw stream_error(p, "stream too short for its header");
    if (needed[p] && !cm && (dir.stream_size[p] * 8 < format::kWarmupBits || present.sample_count[p] - 1 > dir.stream_size[p] * 8))
      throw stream_error(p, "stream too short for its samples");
  }
  if (cm) {
    decode_cm_chunk(meta, chunk, payload_offset, present, dir, payload, needed, codes);
  } else if (mo) {
    w.mo = decode_mo_residuals(meta, chunk, payload_offset, present, dir, payload, needed, codes);  // predicted with the other chunks
  } else if (!lpc) {
    for (std::size_t p = 0; p < present.channel.size(); ++p) {
      if (!needed[p]) continue;
      codes[p].resize(present.sample_count[p]);
      const auto status = format::decode_channel_stream(payload.data() + dir.stream_offset[p], dir.stream_size[p],
                                                        present.sample_count[p], meta.codec.partition_size, codes[p].data());
      if (status != format::StreamStatus::ok) throw stream_error(p, describe(status));
    }
  } else {
    // Entropy stage per stream, then the prediction stage for up to 8 channels at once:
    // sources first, then the channels predicted from them.
    std::vector<std::vector<std::uint32_t>> folded(present.channel.size());
    std::vector<std::int32_t> first_code(present.channel.size(), 0);
    std::vector<char> adapt(present.channel.size(), 0);
    for (std::size_t p = 0; p < present.channel.size(); ++p) {
      if (!needed[p]) continue;
      folded[p].resize(present.sample_count[p]);
      bool flag = false;
      if (!format::decode_lpc_stream_residuals(payload.data() + dir.stream_offset[p], dir.stream_size[p], present.sample_count[p],
                                               meta.codec.partition_size, &first_code[p], &flag, folded[p].data()))
        throw stream_error(p, "malformed lpc1 stream");
      adapt[p] = flag;
    }
    std::vector<std::vector<std::int32_t>> weights(present.channel.size()), source_buffers(present.channel.size());
    for (const bool dependents : {false, true}) {
      std::vector<std::size_t> batch;
      const auto flush = [&] {
        lanes::LaneGroup group;
        group.lanes = static_cast<int>(batch.size());
        group.n = present.sample_count[batch[0]];
        group.weight_shift = static_cast<int>(meta.codec.weight_shift);
        std::int32_t first[lanes::kLanes] = {};
        const std::uint32_t* in[lanes::kLanes] = {};
        std::int32_t* out_codes[lanes::kLanes] = {};
        for (std::size_t l = 0; l < batch.size(); ++l) {
          const std::size_t p = batch[l];
          const format::ChannelPredictor& predictor = meta.channels[present.channel[p]].predictor;
          group.model[l] = format::lpc_model_of(predictor, meta.codec.weight_shift);
          if (!adapt[p]) group.model[l].lms_step = 0;
          weights[p] = format::lpc_initial_weights(predictor);
          group.weights[l] = weights[p].data();
          if (predictor.source_channel() >= 0) {
            source_buffers[p].assign(format::lpc_source_buffer_size(group.n), 0);
            if (source_position[p] >= 0) {
              const auto& src = codes[static_cast<std::size_t>(source_position[p])];
              format::fill_lpc_source_buffer(src.data(), static_cast<std::uint32_t>(src.size()), group.n, source_buffers[p].data());
            }
            group.source_buffer[l] = source_buffers[p].data();
          }
          first[l] = first_code[p];
          in[l] = folded[p].data();
          codes[p].resize(group.n);
          out_codes[l] = codes[p].data();
        }
        lanes::reconstruct(group, first, in, out_codes);
        batch.clear();
      };
      for (std::size_t p = 0; p < present.channel.size(); ++p) {
        if (!needed[p] || (meta.channels[present.channel[p]].predictor.source_channel() >= 0) != dependents) continue;
        if (!batch.empty() && present.sample_count[batch[0]] != present.sample_count[p]) flush();
        batch.push_back(p);
        if (batch.size() == lanes::kLanes) flush();
      }
      if (!batch.empty()) flush();
    }
  }

}

DecodedChunk finish_payload(const format::Metadata& meta, PayloadWork& w) {
  const format::ChunkChannels& present = w.present;
  const std::vector<std::size_t>& positions = w.positions;
  const auto& codes = w.codes;
  const std::uint64_t chunk = w.chunk, payload_offset = w.payload_offset;
  const std::uint64_t* samples_checksum = w.samples_checksum;
  DecodedChunk out = std::move(w.out);
  std::uint64_t total = 0;
  for (const std::size_t p : positions) {
    out.channel.push_back(present.channel[p]);
    out.sample_count.push_back(present.sample_count[p]);
    out.offset.push_back(total);
    total += present.sample_count[p];
  }
  out.samples.resize(total);
  for (std::size_t i = 0; i < positions.size(); ++i) {
    const std::size_t p = positions[i];
    const format::ValueMap map = meta.channels[present.channel[p]].value_map;
    std::int16_t* dst = out.samples.data() + out.offset[i];
    const auto& source = codes[p];
    for (std::size_t t = 0; t < source.size(); ++t) dst[t] = format::code_to_value(map, source[t]);
  }
  if (samples_checksum != nullptr && positions.size() == present.channel.size() && samples_checksum_of(out) != *samples_checksum)
    throw ArchiveError("chunk " + std::to_string(chunk) + ": decoded samples do not match their checksum (byte " +
                       std::to_string(payload_offset) + ")");
  return out;
}


}  // namespace

std::vector<DecodedChunk> decode_payloads(const format::Metadata& meta, std::uint16_t version, std::span<const PayloadInput> inputs,
                                          std::span<const std::uint32_t> channels) {
  std::vector<PayloadWork> work(inputs.size());  // sized once: the mo jobs point into it
  for (std::size_t i = 0; i < inputs.size(); ++i)
    start_payload(meta, version, inputs[i].chunk, inputs[i].payload, inputs[i].payload_offset, channels, inputs[i].samples_checksum, work[i]);
  std::vector<MoChunk> jobs;
  for (auto& w : work)
    if (w.mo) jobs.push_back(std::move(*w.mo));
  if (!jobs.empty()) predict_mo_chunks(meta, jobs);
  std::vector<DecodedChunk> out;
  for (auto& w : work) out.push_back(finish_payload(meta, w));
  return out;
}

DecodedChunk decode_payload(const format::Metadata& meta, std::uint16_t version, std::uint64_t chunk, std::span<const std::uint8_t> payload,
                            std::uint64_t payload_offset, std::span<const std::uint32_t> channels, const std::uint64_t* samples_checksum) {
  const PayloadInput input{chunk, payload, payload_offset, samples_checksum};
  return std::move(decode_payloads(meta, version, {&input, 1}, channels).front());
}

void decode_chunks_in_order(const format::ArchiveReader& reader, std::uint64_t first_chunk, std::uint64_t end_chunk,
                            std::span<const std::uint32_t> channels, unsigned threads,
                            const std::function<void(const DecodedChunk&)>& consume) {
  const std::vector<std::uint32_t> wanted(channels.begin(), channels.end());
  const std::uint64_t groups = (end_chunk - first_chunk + kJointChunks - 1) / kJointChunks;
  ordered_parallel<std::vector<DecodedChunk>>(
      groups, threads, std::size_t{threads} + 1,
      [&](std::size_t g) {
        const std::uint64_t first = first_chunk + g * kJointChunks;
        return decode_chunks(reader, first, std::min(end_chunk, first + kJointChunks), wanted);
      },
      [&](std::size_t, std::vector<DecodedChunk>& decoded) {
        for (const auto& chunk : decoded) consume(chunk);
      });
}

namespace {

// Rebuilds one source file: prefix, interleaved samples chunk by chunk, suffix.
class SourceRebuilder {
 public:
  SourceRebuilder(const format::ArchiveReader& reader, std::uint32_t source, const RestoreOptions& options)
      : verbatim_(reader.verbatim()), source_(reader.metadata().sources[source]) {
    if (!options.output_directory.empty()) {
      const fs::path destination = options.output_directory / source_.path;
      fs::create_directories(destination.parent_path());  // restore paths may hold subdirectories
      output_.emplace(destination, options.force);
    }
    if (source_.kind == format::SourceKind::side_file && source_.delta64_count != 0)
      append(format::side_file_bytes(source_, verbatim_));
    else
      append(verbatim_range(source_.prefix));
  }

  void add_chunk(const DecodedChunk& chunk, bool lost) {
    if (chunk.first_sample >= source_.frames) return;
    lost_ = lost_ || lost;
    const std::uint32_t k = source_.channel_count;
    const std::size_t n = chunk.channel_samples(source_.first_channel).size();
    interleaved_.resize(n * k);
    channel_starts_.resize(k);
    for (std::uint32_t j = 0; j < k; ++j) channel_starts_[j] = chunk.channel_samples(source_.first_channel + j).data();
    std::int16_t* out = interleaved_.data();
    for (std::size_t t = 0; t < n; ++t)
      for (std::uint32_t j = 0; j < k; ++j) *out++ = channel_starts_[j][t];
    append({reinterpret_cast<const std::uint8_t*>(interleaved_.data()), interleaved_.size() * 2});
  }

  // Returns whether the rebuilt bytes match the original's checksum; commits the file if so,
  // or, when samples were lost (filled with zeros), without the check.
  bool finish() {
    append(verbatim_range(source_.suffix));
    const bool match = checksum_.digest() == source_.checksum && bytes_ == source_.size;
    if (output_ && (match || lost_)) output_->commit();
    return match;
  }
  bool lost() const { return lost_; }

  std::uint64_t bytes() const { return bytes_; }
  const std::string& path() const { return source_.path; }

 private:
  std::span<const std::uint8_t> verbatim_range(const format::ByteRange& r) const {
    return std::span(verbatim_).subspan(r.offset, r.size);
  }
  void append(std::span<const std::uint8_t> bytes) {
    checksum_.update(bytes);
    bytes_ += bytes.size();
    if (output_) output_->write(bytes);
  }

  const std::vector<std::uint8_t>& verbatim_;
  const format::SourceFile& source_;
  std::optional<OutputFile> output_;
  format::StreamingChecksum checksum_;
  std::uint64_t bytes_ = 0;
  bool lost_ = false;  // some of its samples were in lost chunks
  std::vector<std::int16_t> interleaved_;
  std::vector<const std::int16_t*> channel_starts_;
};

// Files open at once while restoring; sources beyond this are restored in further passes.
constexpr std::size_t kMaxOpenOutputs = 256;

// A lost chunk's requested channels, as zeros.
DecodedChunk zero_filled_chunk(const format::Metadata& meta, std::uint64_t chunk, std::span<const std::uint32_t> channels) {
  const format::ChunkChannels present = format::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
  DecodedChunk out;
  out.chunk = chunk;
  out.first_sample = meta.chunk_first_sample(chunk);
  std::uint64_t total = 0;
  for (std::size_t p = 0; p < present.channel.size(); ++p) {
    if (!channels.empty() && !std::binary_search(channels.begin(), channels.end(), present.channel[p])) continue;
    out.channel.push_back(present.channel[p]);
    out.sample_count.push_back(present.sample_count[p]);
    out.offset.push_back(total);
    total += present.sample_count[p];
  }
  out.samples.assign(total, 0);
  return out;
}

}  // namespace

std::vector<std::uint64_t> lost_chunks(const format::ArchiveReader& reader) {
  std::vector<std::uint64_t> lost;
  for (std::uint64_t i = 0; i < reader.index().size(); ++i)
    if (reader.index()[i].lost()) lost.push_back(i);
  return lost;
}

RestoreReport restore_sources(const format::ArchiveReader& reader, const RestoreOptions& options) {
  const Stopwatch stopwatch;
  const format::Metadata& meta = reader.metadata();
  const std::vector<std::uint64_t> lost = lost_chunks(reader);
  if (!lost.empty() && !options.fill_lost)
    throw format::LostChunkError("this archive was salvaged and " + std::to_string(lost.size()) + " of its chunks were lost (first: " +
                                 format::lost_chunk_message(meta, lost[0]) + "); use decompress --fill-lost to write their samples as zeros");
  const std::size_t source_count = meta.sources.size();
  const std::size_t group_size = options.output_directory.empty() ? std::max<std::size_t>(source_count, 1) : kMaxOpenOutputs;
  const std::uint64_t chunk_count = reader.index().size();
  const std::uint64_t groups = (source_count + group_size - 1) / group_size;
  RestoreReport report;
  std::uint64_t progress_done = 0;
  for (std::size_t first = 0; first < source_count; first += group_size) {
    const std::size_t end = std::min(source_count, first + group_size);
    std::vector<std::unique_ptr<SourceRebuilder>> rebuilders;
    std::vector<std::uint32_t> channels;
    for (std::size_t s = first; s < end; ++s) {
      rebuilders.push_back(std::make_unique<SourceRebuilder>(reader, static_cast<std::uint32_t>(s), options));
      for (std::uint32_t j = 0; j < meta.sources[s].channel_count; ++j) channels.push_back(meta.sources[s].first_channel + j);
    }
    // All channels: decode_chunk then also checks the decoded-samples checksum.
    if (channels.size() == meta.channels.size()) channels.clear();
    std::sort(channels.begin(), channels.end());
    // kJointChunks chunks per task (decode_chunks); lost chunks of a salvaged archive are zeros.
    const std::uint64_t tasks = (chunk_count + kJointChunks - 1) / kJointChunks;
    ordered_parallel<std::vector<DecodedChunk>>(tasks, options.threads, std::size_t{options.threads} + 1, [&](std::size_t task) {
      const std::uint64_t first_chunk = task * kJointChunks, end_chunk = std::min(chunk_count, first_chunk + kJointChunks);
      std::vector<DecodedChunk> out;
      for (std::uint64_t i = first_chunk; i < end_chunk;) {
        if (reader.index()[i].lost()) {
          out.push_back(zero_filled_chunk(meta, i++, channels));
          continue;
        }
        std::uint64_t run_end = i;
        while (run_end < end_chunk && !reader.index()[run_end].lost()) ++run_end;
        for (auto& chunk : decode_chunks(reader, i, run_end, channels)) out.push_back(std::move(chunk));
        i = run_end;
      }
      return out;
    }, [&](std::size_t, std::vector<DecodedChunk>& decoded) {
      for (const DecodedChunk& chunk : decoded) {
        const bool chunk_lost = reader.index()[chunk.chunk].lost();
        if (options.inspect && channels.empty() && !chunk_lost) options.inspect(chunk);
        for (auto& r : rebuilders) r->add_chunk(chunk, chunk_lost);
        if (chunk.decode_seconds > report.slowest_chunk_seconds) {
          report.slowest_chunk_seconds = chunk.decode_seconds;
          report.slowest_chunk = chunk.chunk;
        }
        if (options.progress) options.progress(++progress_done, chunk_count * groups);
      }
    });
    for (auto& r : rebuilders) {
      if (!r->finish()) (r->lost() ? report.incomplete_files : report.mismatched_files).push_back(r->path());
      report.bytes += r->bytes();
      ++report.files;
    }
  }
  report.lost_chunks = lost.size();
  report.seconds = stopwatch.seconds();
  return report;
}

}  // namespace spikey::host
