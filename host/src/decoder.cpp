#include "spikey/host/decoder.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "codecs/decoder_family.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/float_samples.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/format/sync_runs.hpp"
#include "spikey/host/output_file.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/stopwatch.hpp"
#include "transpose.hpp"
#include "value_map_loops.hpp"

namespace spikey::host {

namespace fs = std::filesystem;
using format::ArchiveError;

std::uint64_t samples_checksum_of(const DecodedChunk& chunk) {
  return format::checksum64(std::span<const std::int16_t>(chunk.samples));
}

std::uint64_t kept_samples_checksum(const DecodedChunk& chunk) {
  if (chunk.lost_channels.empty()) return samples_checksum_of(chunk);
  format::StreamingChecksum checksum;
  for (std::size_t i = 0; i < chunk.channel.size(); ++i) {
    if (std::binary_search(chunk.lost_channels.begin(), chunk.lost_channels.end(), chunk.channel[i])) continue;
    checksum.update({reinterpret_cast<const std::uint8_t*>(chunk.samples.data() + chunk.offset[i]), std::size_t{chunk.sample_count[i]} * 2});
  }
  return checksum.digest();
}

std::span<const std::int16_t> DecodedChunk::channel_samples(std::uint32_t c) const {
  const auto it = std::lower_bound(channel.begin(), channel.end(), c);
  if (it == channel.end() || *it != c) return {};
  const auto i = static_cast<std::size_t>(it - channel.begin());
  return {samples.data() + offset[i], sample_count[i]};
}

std::vector<std::int16_t> SampleBuffers::take() {
  const std::lock_guard lock(mutex_);
  if (free_.empty()) return {};
  std::vector<std::int16_t> buffer = std::move(free_.back());
  free_.pop_back();
  return buffer;
}

void SampleBuffers::give(std::vector<std::int16_t>&& buffer) {
  const std::lock_guard lock(mutex_);
  if (free_.size() < keep_) free_.push_back(std::move(buffer));
}

DecodedChunk decode_chunk(const format::ArchiveReader& reader, std::uint64_t chunk, std::span<const std::uint32_t> channels,
                          const DecodeOptions& options) {
  return std::move(decode_chunks(reader, chunk, chunk + 1, channels, options).front());
}

std::vector<DecodedChunk> decode_chunks(const format::ArchiveReader& reader, std::uint64_t first_chunk, std::uint64_t end_chunk,
                                        std::span<const std::uint32_t> channels, const DecodeOptions& options) {
  const Stopwatch stopwatch;
  std::vector<std::vector<std::uint8_t>> payloads;
  std::vector<char> damaged_payload;
  std::vector<PayloadInput> inputs;
  for (std::uint64_t chunk = first_chunk; chunk < end_chunk; ++chunk) {
    const format::IndexEntry& entry = reader.index().at(chunk);
    if (entry.lost()) throw format::LostChunkError(format::lost_chunk_message(reader.metadata(), chunk));
    bool damaged = false;
    payloads.push_back(reader.read_payload(chunk, options.tolerate_damaged_payload ? &damaged : nullptr));
    damaged_payload.push_back(damaged);
  }
  for (std::uint64_t chunk = first_chunk; chunk < end_chunk; ++chunk)
    inputs.push_back({chunk, payloads[chunk - first_chunk], reader.payload_offset(chunk), &reader.index()[chunk].samples_checksum});
  auto out = decode_payloads(reader.metadata(), reader.format_version(), inputs, channels, options);
  const double share = stopwatch.seconds() / static_cast<double>(std::max<std::size_t>(out.size(), 1));
  for (auto& chunk : out) {
    chunk.decode_seconds = share;
    chunk.payload_damaged = damaged_payload[chunk.chunk - first_chunk];
  }
  return out;
}

namespace {

// One chunk on its way from its payload to its samples.
struct PayloadWork {
  std::uint64_t chunk = 0;
  std::uint64_t payload_offset = 0;
  const std::uint64_t* samples_checksum = nullptr;
  format::ChunkChannels present;
  format::PayloadDirectory dir;
  std::vector<std::size_t> positions;  // requested channels, as indices into `present`
  std::vector<char> needed;            // channels the codec must decode: the requested ones and their sources
  std::vector<char> decoded;           // channels decoded (the codec's and sync runs): checked against their stream checks
  std::vector<char> lost;              // requested channels whose streams are lost (version 10), zeros with fill_lost
  std::vector<codecs::ChannelCodes> codes;
  std::vector<std::int64_t> slot;  // per present channel: its index among the requested channels, or -1
  std::vector<char> finished;      // per present channel: mapped and checked (finish_channel) already
  std::vector<char> failed;        // per present channel: failed its stream check
  DecodedChunk out;
};

// The chunk's layout, the channels it needs, and its sync channels (§6.10: runs outside the
// codec, and never a source).
void start_payload(const format::Metadata& meta, const format::CodecRow& codec, const codecs::DecoderFamily& family, std::uint16_t version,
                   const PayloadInput& input, std::span<const std::uint32_t> channels, const DecodeOptions& options, PayloadWork& w) {
  w.chunk = input.chunk;
  w.payload_offset = input.payload_offset;
  w.samples_checksum = input.samples_checksum;
  const std::uint64_t first_sample = meta.chunk_first_sample(w.chunk);
  w.present = format::channels_in_chunk(meta, first_sample, meta.chunk_sample_count(w.chunk));
  const format::ChunkChannels& present = w.present;
  w.dir = format::parse_payload_directory(input.payload, present.channel.size(), w.chunk, w.payload_offset, version);
  w.out.chunk = w.chunk;
  w.out.first_sample = first_sample;
  if (channels.empty()) {
    w.positions.resize(present.channel.size());
    std::iota(w.positions.begin(), w.positions.end(), std::size_t{0});
  } else {
    for (const std::uint32_t c : channels)
      if (const auto p = present.position(c); p >= 0) w.positions.push_back(static_cast<std::size_t>(p));
  }
  w.needed.assign(present.channel.size(), 0);
  w.lost.assign(present.channel.size(), 0);
  for (const std::size_t p : w.positions) {
    if (w.dir.lost(p)) {
      if (!options.fill_lost) throw format::LostChunkError(format::lost_stream_message(meta, w.chunk, present.channel[p]));
      w.lost[p] = 1;
      continue;
    }
    w.needed[p] = 1;
  }
  family.add_sources(meta, present, w.needed);
  for (std::size_t p = 0; p < present.channel.size(); ++p)
    if (w.needed[p] && w.dir.lost(p))  // salvage marks every channel that needs a lost stream as lost too (§6.3)
      throw ArchiveError("chunk " + std::to_string(w.chunk) + ": channel " + std::to_string(present.channel[p]) +
                         " is needed as a source but its stream is marked lost (byte " + std::to_string(w.payload_offset) + ")");
  w.decoded = w.needed;
  w.codes.resize(present.channel.size());
  std::vector<std::int16_t> runs;
  for (std::size_t p = 0; p < present.channel.size(); ++p) {
    if (!w.needed[p] || !meta.channels[present.channel[p]].sync) continue;
    w.needed[p] = 0;
    runs.resize(present.sample_count[p]);
    if (!format::decode_sync_runs(input.payload.subspan(w.dir.stream_offset[p], w.dir.stream_size[p]), codec.stream_word_bytes, runs))
      throw ArchiveError("chunk " + std::to_string(w.chunk) + ", channel " + std::to_string(present.channel[p]) + " (stream at byte " +
                         std::to_string(w.payload_offset + w.dir.stream_offset[p]) + "): malformed sync runs");
    w.codes[p].assign(runs.begin(), runs.end());  // identity value map
  }
}

void map_codes(const format::Metadata& meta, std::uint32_t channel, std::span<const std::int32_t> codes, std::int16_t* dst) {
  codes_to_values(meta.channels[channel].value_map, codes, dst);
}

// Where each requested channel's samples go in out.samples, before decoding: a channel's values
// are mapped as soon as its codes are final (finish_channel).
void lay_out_samples(const DecodeOptions& options, PayloadWork& w) {
  const format::ChunkChannels& present = w.present;
  DecodedChunk& out = w.out;
  std::uint64_t total = 0;
  w.slot.assign(present.channel.size(), -1);
  for (const std::size_t p : w.positions) {
    w.slot[p] = static_cast<std::int64_t>(out.channel.size());
    out.channel.push_back(present.channel[p]);
    out.sample_count.push_back(present.sample_count[p]);
    out.offset.push_back(total);
    total += present.sample_count[p];
  }
  // Every requested channel's range is written by finish_channel, except a lost stream's: zeros
  // there (a reused buffer holds an earlier chunk's values).
  if (options.sample_buffers != nullptr) out.samples = options.sample_buffers->take();
  out.samples.resize(total);
  for (std::size_t i = 0; i < w.positions.size(); ++i) {
    if (!w.lost[w.positions[i]]) continue;
    out.lost_channels.push_back(present.channel[w.positions[i]]);
    std::fill_n(out.samples.begin() + static_cast<std::ptrdiff_t>(out.offset[i]), out.sample_count[i], std::int16_t{0});
  }
  w.finished.assign(present.channel.size(), 0);
  w.failed.assign(present.channel.size(), 0);
}

// Channel p's values (when requested), then (version 10) the channel against its stream check
// when it was decoded, sources included (§6.3). Channels are independent: any thread, any order.
void finish_channel(const format::Metadata& meta, PayloadWork& w, std::size_t p) {
  const format::ChunkChannels& present = w.present;
  w.finished[p] = 1;
  const bool requested = w.slot[p] >= 0 && !w.lost[p];
  std::int16_t* samples = requested ? w.out.samples.data() + w.out.offset[static_cast<std::size_t>(w.slot[p])] : nullptr;
  if (requested) map_codes(meta, present.channel[p], w.codes[p], samples);
  if (!w.dir.checked() || !w.decoded[p]) return;
  std::vector<std::int16_t> scratch;
  if (!requested) {
    scratch.resize(present.sample_count[p]);
    map_codes(meta, present.channel[p], w.codes[p], scratch.data());
    samples = scratch.data();
  }
  w.failed[p] = format::stream_check_of({samples, present.sample_count[p]}) != w.dir.stream_check[p];
}

// The channels the codec did not finish as it went, on the call's threads; then the stream
// check failures in channel order, and the chunk's checksum.
DecodedChunk finish_payload(const format::Metadata& meta, const DecodeOptions& options, unsigned threads, PayloadWork& w) {
  const format::ChunkChannels& present = w.present;
  const std::uint64_t chunk = w.chunk, payload_offset = w.payload_offset;
  parallel_for(present.channel.size(), threads, [&](std::size_t p) {
    if (!w.finished[p]) finish_channel(meta, w, p);
  });
  DecodedChunk out = std::move(w.out);
  for (std::size_t p = 0; p < present.channel.size(); ++p) {
    if (!w.failed[p]) continue;
    if (options.report_failures) {
      out.failed_channels.push_back(present.channel[p]);
      continue;
    }
    throw ArchiveError("chunk " + std::to_string(chunk) + ", channel " + std::to_string(present.channel[p]) + " (stream at byte " +
                       std::to_string(payload_offset + w.dir.stream_offset[p]) + "): decoded samples do not match the stream check");
  }
  if (w.samples_checksum != nullptr && w.positions.size() == present.channel.size() && out.failed_channels.empty() &&
      kept_samples_checksum(out) != *w.samples_checksum)
    throw ArchiveError("chunk " + std::to_string(chunk) + ": decoded samples do not match their checksum (byte " +
                       std::to_string(payload_offset) + ")");
  return out;
}

}  // namespace

std::vector<DecodedChunk> decode_payloads(const format::Metadata& meta, std::uint16_t version, std::span<const PayloadInput> inputs,
                                          std::span<const std::uint32_t> channels, const DecodeOptions& options) {
  const format::CodecRow& codec = format::codec_row(meta.codec.name);
  const codecs::DecoderFamily& family = codecs::decoder_family(codec);
  std::vector<PayloadWork> work(inputs.size());  // sized once: the jobs point into it
  std::vector<codecs::ChunkDecodeJob> jobs;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    PayloadWork& w = work[i];
    start_payload(meta, codec, family, version, inputs[i], channels, options, w);
    lay_out_samples(options, w);
    jobs.push_back({w.chunk, w.payload_offset, &w.present, &w.dir, inputs[i].payload, &w.needed, &w.codes,
                    [&meta, &w](std::size_t p) { finish_channel(meta, w, p); }});
  }
  std::uint64_t decoded_samples = 0;  // threads only for work worth starting them
  for (const PayloadWork& w : work)
    for (std::size_t p = 0; p < w.present.channel.size(); ++p) decoded_samples += w.decoded[p] ? w.present.sample_count[p] : 0;
  const std::uint64_t per_thread = std::max<std::uint64_t>(1, options.samples_per_thread);
  const auto threads = static_cast<unsigned>(std::clamp<std::uint64_t>((decoded_samples + per_thread - 1) / per_thread, 1, std::max(1u, options.threads)));
  family.decode(meta, jobs, threads);
  std::vector<DecodedChunk> out;
  for (auto& w : work) out.push_back(finish_payload(meta, options, threads, w));
  return out;
}

DecodedChunk decode_payload(const format::Metadata& meta, std::uint16_t version, std::uint64_t chunk, std::span<const std::uint8_t> payload,
                            std::uint64_t payload_offset, std::span<const std::uint32_t> channels, const std::uint64_t* samples_checksum,
                            const DecodeOptions& options) {
  const PayloadInput input{chunk, payload, payload_offset, samples_checksum};
  return std::move(decode_payloads(meta, version, {&input, 1}, channels, options).front());
}

std::uint64_t joint_chunks(const format::Metadata& meta, std::uint64_t chunks, unsigned threads) {
  constexpr std::uint64_t kMaxJoint = 8, kBudgetBytes = std::uint64_t{64} << 20, kBytesPerSample = 10;  // codes, samples, sources
  std::uint64_t per_chunk = 0;
  for (const auto& channel : meta.channels) per_chunk += std::min<std::uint64_t>(channel.length, meta.chunk_samples);
  const std::uint64_t by_memory = std::max<std::uint64_t>(1, kBudgetBytes / std::max<std::uint64_t>(1, per_chunk * kBytesPerSample));
  const std::uint64_t per_thread = std::max<std::uint64_t>(1, chunks / std::max(1u, threads));
  return std::clamp<std::uint64_t>(std::min(by_memory, per_thread), 1, kMaxJoint);
}

void decode_chunks_in_order(const format::ArchiveReader& reader, std::uint64_t first_chunk, std::uint64_t end_chunk,
                            std::span<const std::uint32_t> channels, unsigned threads,
                            const std::function<void(const DecodedChunk&)>& consume, const DecodeOptions& options) {
  const std::vector<std::uint32_t> wanted(channels.begin(), channels.end());
  const std::uint64_t joint = joint_chunks(reader.metadata(), end_chunk - first_chunk, threads);
  const std::uint64_t groups = (end_chunk - first_chunk + joint - 1) / joint;
  DecodeOptions each = options;  // fewer calls than threads: each call shares the rest
  each.threads = threads_within(groups, threads);
  SampleBuffers buffers((std::size_t{threads} + 2) * joint);  // the chunks in flight
  if (each.sample_buffers == nullptr) each.sample_buffers = &buffers;
  ordered_parallel<std::vector<DecodedChunk>>(
      groups, threads, std::size_t{threads} + 1,
      [&](std::size_t g) {
        const std::uint64_t first = first_chunk + g * joint;
        return decode_chunks(reader, first, std::min(end_chunk, first + joint), wanted, each);
      },
      [&](std::size_t, std::vector<DecodedChunk>& decoded) {
        for (auto& chunk : decoded) {
          consume(chunk);
          each.sample_buffers->give(std::move(chunk.samples));
        }
      });
}

// Rebuilds one source file: prefix, interleaved samples chunk by chunk, suffix (SourceChecks
// names it in its header, so it is outside the unnamed namespace).
class SourceRebuilder {
 public:
  SourceRebuilder(const std::vector<std::uint8_t>& verbatim, const format::Metadata& meta, const format::SourceFile& source, const RestoreOptions& options)
      : verbatim_(verbatim), source_(source), threads_(std::max(1u, options.threads)) {
    if (!options.output_directory.empty()) {
      const fs::path destination = options.output_directory / source_.path;
      std::error_code error;
      fs::create_directories(destination.parent_path(), error);  // restore paths may hold subdirectories
      if (error) throw std::runtime_error("cannot restore into " + destination.parent_path().string() + ": " + error.message());
      output_.emplace(destination, options.force);
    }
    if (source_.kind == format::SourceKind::side_file && source_.delta64_count != 0)
      append(format::side_file_bytes(source_, verbatim_));
    else
      append(verbatim_range(source_.prefix));
    if (source_.records.count != 0) framing_ = format::framing_decode(verbatim_range(source_.records.framing), source_.records, source_.snippets);
    if (source_.records.channel_records) {  // records of one channel each (SPEC §4.2, version 16)
      std::vector<std::uint64_t> lengths;
      for (std::uint32_t j = 0; j < source_.channel_count; ++j) lengths.push_back(meta.channels.at(source_.first_channel + j).length);
      table_ = format::parse_record_table(verbatim_range(source_.records.table), source_, lengths);
      pending_.resize(source_.channel_count);
      taken_.assign(source_.channel_count, 0);
      tail_at_ = source_.records.count * source_.records.framing_bytes();  // the tails follow the fixed framing (version 17)
    }
  }

  void add_chunk(const DecodedChunk& chunk, bool lost) {
    if (chunk.first_sample >= source_.frames) return;
    const auto& gone = chunk.lost_channels;  // ascending
    lost_ = lost_ || lost ||
            std::lower_bound(gone.begin(), gone.end(), source_.first_channel) != std::lower_bound(gone.begin(), gone.end(), source_.first_channel + source_.channel_count);
    add_samples(chunk.first_sample, [&](std::uint32_t c) { return chunk.channel_samples(c); });
  }

  // A chunk's samples, `samples_of(channel)` for each of the file's channels.
  template <class SamplesOf>
  void add_samples(std::uint64_t first_sample, const SamplesOf& samples_of) {
    if (first_sample >= source_.frames) return;
    if (source_.records.channel_records) return add_channel_records(samples_of);
    const std::uint32_t k = source_.channel_count;
    const std::size_t n = samples_of(source_.first_channel).size();
    interleaved_.resize(n * k);
    channel_starts_.resize(k);
    for (std::uint32_t j = 0; j < k; ++j) channel_starts_[j] = samples_of(source_.first_channel + j).data();
    if (source_.records.planar) return append_planar(n);
    if (source_.float_bytes != 0) return append_floats(n);
    // Interleaving is the rebuild's cost, and the chunks arrive one at a time: rows that lie one
    // after another (a chunk's channels do) are transposed in 8 x 8 register blocks (2.3 GB/s at
    // 1024 channels on one thread; value by value 0.66, slower than 16 threads decode), large
    // chunks in time slices on the threads.
    bool rows = true;
    for (std::uint32_t j = 1; j < k && rows; ++j) rows = channel_starts_[j] == channel_starts_[0] + j * n;
    const std::size_t slices = n * k >= kParallelInterleave ? std::min<std::size_t>(threads_, n) : 1;
    parallel_for(slices, static_cast<unsigned>(slices), [&](std::size_t slice) {
      const std::size_t begin = n * slice / slices, end = n * (slice + 1) / slices;
      std::int16_t* out = interleaved_.data() + begin * k;
      if (rows) return transpose_int16(reinterpret_cast<const std::uint8_t*>(channel_starts_[0] + begin), n, k, end - begin, out, k);
      for (std::size_t t = begin; t < end; ++t)
        for (std::uint32_t j = 0; j < k; ++j) *out++ = channel_starts_[j][t];
    });
    to_file_order(interleaved_);
    append_frames({reinterpret_cast<const std::uint8_t*>(interleaved_.data()), interleaved_.size() * 2});
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
  // Samples in the file's order, with each record's header before its first frame and its
  // trailer after its last (SPEC §4.2).
  void append_frames(std::span<const std::uint8_t> samples) {
    const format::SourceRecords& r = source_.records;
    if (r.count == 0) return append(samples);
    const std::uint64_t frame_bytes = std::uint64_t{source_.channel_count} * 2;
    const auto framing = [&](std::uint64_t record) { return std::span<const std::uint8_t>(framing_).subspan(record * r.framing_bytes(), r.framing_bytes()); };
    while (!samples.empty()) {
      const std::uint64_t record = r.record_of(frames_done_), first = r.first_frame(record), end = first + r.frames_in(record);
      if (frames_done_ == first) append(framing(record).first(r.header));
      const std::uint64_t take = std::min<std::uint64_t>(samples.size() / frame_bytes, end - frames_done_);
      append(samples.first(take * frame_bytes));
      samples = samples.subspan(take * frame_bytes);
      frames_done_ += take;
      if (frames_done_ == end) append(framing(record).last(r.trailer));
    }
  }
  // Records of one channel each (SPEC §4.2, version 16): each channel's samples wait in
  // pending_ until the records before theirs in the file are written, since a chunk brings
  // every channel's samples of one stretch of sample indices and the channels' rates differ.
  template <class SamplesOf>
  void add_channel_records(const SamplesOf& samples_of) {
    for (std::uint32_t j = 0; j < source_.channel_count; ++j) {
      const auto samples = samples_of(source_.first_channel + j);
      pending_[j].insert(pending_[j].end(), samples.begin(), samples.end());
    }
    const format::SourceRecords& r = source_.records;
    for (; next_record_ < r.count; ++next_record_) {
      const std::uint32_t j = table_.channels[next_record_], n = table_.lengths[next_record_];
      if (pending_[j].size() - taken_[j] < n) break;
      const auto framing = std::span<const std::uint8_t>(framing_).subspan(next_record_ * r.framing_bytes(), r.framing_bytes());
      append(framing.first(r.header));
      record_.assign(pending_[j].begin() + static_cast<std::ptrdiff_t>(taken_[j]), pending_[j].begin() + static_cast<std::ptrdiff_t>(taken_[j] + n));
      to_file_order(record_);
      append({reinterpret_cast<const std::uint8_t*>(record_.data()), record_.size() * 2});
      append(framing.last(r.trailer));
      if (r.tails) {
        append(std::span<const std::uint8_t>(framing_).subspan(tail_at_, table_.tails[next_record_]));
        tail_at_ += table_.tails[next_record_];
      }
      taken_[j] += n;
      if (taken_[j] >= pending_[j].size() / 2) {  // drop what is written, now and then
        pending_[j].erase(pending_[j].begin(), pending_[j].begin() + static_cast<std::ptrdiff_t>(taken_[j]));
        taken_[j] = 0;
      }
    }
  }
  // Planar records (SPEC §4.2, version 12): each channel's samples of a record are gathered
  // into record_, which is written whole, with its framing, once its last frame has arrived.
  void append_planar(std::size_t n) {
    const format::SourceRecords& r = source_.records;
    const std::uint32_t k = source_.channel_count;
    record_.resize(std::size_t{k} * r.frames);
    for (std::size_t done = 0; done < n;) {
      const std::uint64_t at = frames_done_ % r.frames;
      const std::size_t take = std::min<std::size_t>(n - done, r.frames - at);
      for (std::uint32_t j = 0; j < k; ++j) std::copy_n(channel_starts_[j] + done, take, record_.data() + std::size_t{j} * r.frames + at);
      done += take;
      frames_done_ += take;
      if (frames_done_ % r.frames == 0) append_planar_record(frames_done_ / r.frames - 1);
    }
  }
  void append_planar_record(std::uint64_t record) {
    const format::SourceRecords& r = source_.records;
    to_file_order(record_);
    const auto framing = std::span<const std::uint8_t>(framing_).subspan(record * r.framing_bytes(), r.framing_bytes());
    const auto samples = [&](std::uint32_t from, std::uint32_t to) {
      append({reinterpret_cast<const std::uint8_t*>(record_.data() + std::size_t{from} * r.frames), std::size_t{to - from} * r.frames * 2});
    };
    std::uint64_t at = r.header;
    append(framing.first(r.header));
    std::uint32_t channel = 0;
    for (const format::RecordGap& gap : r.gaps) {
      samples(channel, gap.after);
      append(framing.subspan(at, gap.bytes));
      at += gap.bytes;
      channel = gap.after;
    }
    samples(channel, source_.channel_count);
    append(framing.subspan(at, r.trailer));
  }
  // Float samples (SPEC §4.2, version 12): each code's value on the source's grid, interleaved.
  void append_floats(std::size_t n) {
    const std::uint32_t k = source_.channel_count, width = source_.float_bytes;
    float_bytes_.resize(n * k * width);
    std::uint8_t* out = float_bytes_.data();
    for (std::size_t t = 0; t < n; ++t)
      for (std::uint32_t j = 0; j < k; ++j, out += width) format::float_sample_bytes(channel_starts_[j][t], source_.sample_step, width, source_.big_endian, out);
    append(float_bytes_);
  }
  // The archive's samples as the file holds them: uint16 flipped back, big-endian swapped.
  void to_file_order(std::vector<std::int16_t>& values) const {
    if (source_.unsigned_samples)  // the file's uint16 values (SPEC §4.2)
      for (auto& v : values) v = static_cast<std::int16_t>(v ^ 0x8000);
    if (source_.big_endian)
      for (auto& v : values) v = static_cast<std::int16_t>(__builtin_bswap16(static_cast<std::uint16_t>(v)));
  }
  void append(std::span<const std::uint8_t> bytes) {
    checksum_.update(bytes);
    bytes_ += bytes.size();
    if (output_) output_->write(bytes);
  }

  static constexpr std::size_t kParallelInterleave = std::size_t{1} << 20;  // samples of a chunk worth threads
  const std::vector<std::uint8_t>& verbatim_;
  const format::SourceFile& source_;
  unsigned threads_ = 1;
  std::optional<OutputFile> output_;
  format::StreamingChecksum checksum_;
  std::uint64_t bytes_ = 0;
  bool lost_ = false;  // some of its samples were in lost chunks
  std::vector<std::int16_t> interleaved_;
  std::vector<const std::int16_t*> channel_starts_;
  std::vector<std::uint8_t> framing_;  // records' headers, gaps and trailers as in the file
  std::vector<std::uint8_t> float_bytes_;  // float sources: a chunk's values as the file holds them
  std::vector<std::int16_t> record_;   // planar records: the record being gathered, channel after channel; records of one channel each: the one being written
  format::RecordTable table_;          // records of one channel each: whose samples each record holds
  std::vector<std::vector<std::int16_t>> pending_;  // per channel, decoded samples not yet written
  std::vector<std::size_t> taken_;     // per channel, how many of pending_ are written
  std::uint64_t next_record_ = 0;
  std::uint64_t tail_at_ = 0;  // records of one channel each with tails: where the next record's tail lies in framing_
  std::uint64_t frames_done_ = 0;
};

namespace {

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

SourceChecks::SourceChecks(const format::MetadataSection& section) : section_(section) {
  for (const auto& source : section_.metadata.sources)
    if (!source.omitted) rebuilders_.push_back(std::make_unique<SourceRebuilder>(section_.verbatim, section_.metadata, source, RestoreOptions{}));
}

SourceChecks::~SourceChecks() = default;

void SourceChecks::add_chunk(std::uint64_t first_sample, const format::ChunkChannels& present, std::span<const std::int16_t> samples) {
  offset_.assign(1, 0);
  for (const std::uint32_t n : present.sample_count) offset_.push_back(offset_.back() + n);
  if (offset_.back() != samples.size()) throw std::logic_error("SourceChecks: the samples do not fill the chunk's channels");
  const auto samples_of = [&](std::uint32_t c) -> std::span<const std::int16_t> {
    const std::int64_t p = present.position(c);
    if (p < 0) return {};
    return samples.subspan(offset_[static_cast<std::size_t>(p)], present.sample_count[static_cast<std::size_t>(p)]);
  };
  for (auto& r : rebuilders_) r->add_samples(first_sample, samples_of);
}

std::vector<std::string> SourceChecks::finish() {
  std::vector<std::string> mismatched;
  for (auto& r : rebuilders_)
    if (!r->finish()) mismatched.push_back(r->path());
  return mismatched;
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
  // A run that fails (a full disk, a damaged chunk) takes back the files it already finished,
  // so that it leaves nothing behind and can simply be run again.
  std::vector<fs::path> written;
  try {
    for (std::size_t first = 0; first < source_count; first += group_size) {
      const std::size_t end = std::min(source_count, first + group_size);
      std::vector<std::unique_ptr<SourceRebuilder>> rebuilders;
      std::vector<std::uint32_t> channels;
      for (std::size_t s = first; s < end; ++s) {
        if (meta.sources[s].omitted) {
          report.missing_files.push_back(meta.sources[s].path);
          continue;
        }
        rebuilders.push_back(std::make_unique<SourceRebuilder>(reader.verbatim(), meta, meta.sources[s], options));
        for (std::uint32_t j = 0; j < meta.sources[s].channel_count; ++j) channels.push_back(meta.sources[s].first_channel + j);
      }
      // All channels: decode_chunk then also checks the decoded-samples checksum.
      if (channels.size() == meta.channels.size()) channels.clear();
      std::sort(channels.begin(), channels.end());
      // joint chunks per task (decode_chunks); lost chunks of a salvaged archive are zeros.
      const std::uint64_t joint = joint_chunks(meta, chunk_count, options.threads);
      const std::uint64_t tasks = (chunk_count + joint - 1) / joint;
      const unsigned threads_per_task = threads_within(tasks, options.threads);
      SampleBuffers buffers((std::size_t{options.threads} + 2) * joint);  // the chunks in flight
      ordered_parallel<std::vector<DecodedChunk>>(tasks, options.threads, std::size_t{options.threads} + 1, [&](std::size_t task) {
        const std::uint64_t first_chunk = task * joint, end_chunk = std::min(chunk_count, first_chunk + joint);
        std::vector<DecodedChunk> out;
        for (std::uint64_t i = first_chunk; i < end_chunk;) {
          if (reader.index()[i].lost()) {
            out.push_back(zero_filled_chunk(meta, i++, channels));
            continue;
          }
          std::uint64_t run_end = i;
          while (run_end < end_chunk && !reader.index()[run_end].lost()) ++run_end;
          for (auto& chunk : decode_chunks(reader, i, run_end, channels,
                                          {.fill_lost = options.fill_lost, .threads = threads_per_task, .sample_buffers = &buffers})) {
            if (options.inspect && channels.empty() && chunk.lost_channels.empty()) options.inspect(chunk);
            out.push_back(std::move(chunk));
          }
          i = run_end;
        }
        return out;
      }, [&](std::size_t, std::vector<DecodedChunk>& decoded) {
        for (DecodedChunk& chunk : decoded) {
          const bool chunk_lost = reader.index()[chunk.chunk].lost();
          report.lost_streams += chunk.lost_channels.size();
          for (auto& r : rebuilders) r->add_chunk(chunk, chunk_lost);
          buffers.give(std::move(chunk.samples));
          if (chunk.decode_seconds > report.slowest_chunk_seconds) {
            report.slowest_chunk_seconds = chunk.decode_seconds;
            report.slowest_chunk = chunk.chunk;
          }
          if (options.progress) options.progress(++progress_done, chunk_count * groups);
        }
      });
      for (auto& r : rebuilders) {
        const bool match = r->finish();
        if (!options.output_directory.empty() && (match || r->lost())) written.push_back(options.output_directory / r->path());  // finish committed it
        if (!match) (r->lost() ? report.incomplete_files : report.mismatched_files).push_back(r->path());
        report.bytes += r->bytes();
        ++report.files;
      }
    }
  } catch (...) {
    for (const fs::path& path : written) {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
    throw;
  }
  report.lost_chunks = lost.size();
  report.seconds = stopwatch.seconds();
  return report;
}

}  // namespace spikey::host
