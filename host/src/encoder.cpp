#include "spikey/host/encoder.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <deque>
#include <future>
#include <iomanip>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <system_error>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/archive_writer.hpp"
#include "spikey/format/sync_runs.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/value_map.hpp"
#include "spikey/host/batch_encoder.hpp"
#include "spikey/host/decoder.hpp"
#include "codecs/encoder_family.hpp"
#include "codecs/mo/mo_chunk_residuals.hpp"
#include "codecs/training_common.hpp"
#include "spikey/host/model.hpp"
#include "spikey/host/output_file.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/stopwatch.hpp"
#include "spikey/version.hpp"
#include "pipeline_verifier.hpp"
#include "value_map_loops.hpp"

namespace spikey::host {

namespace fs = std::filesystem;
using format::ValueMap;
using format::ValueMapKind;

namespace {

// The minimum and maximum of `n` values, and whether all are on the N1 grid (when `on_grid` is
// still true): one vectorized pass, built for AVX2 and for the baseline.
__attribute__((target_clones("avx2", "default"))) void survey_range(const std::int16_t* values, std::size_t n, std::int16_t& lo,
                                                                    std::int16_t& hi, bool& on_grid) {
  std::int16_t low = lo, high = hi;
  if (on_grid) {
    std::uint32_t off_grid = 0;  // bits where a value and its grid value differ
    for (std::size_t i = 0; i < n; ++i) {
      low = std::min(low, values[i]);
      high = std::max(high, values[i]);
      off_grid |= static_cast<std::uint16_t>(format::n1_grid_value(values[i]) ^ values[i]);
    }
    on_grid = off_grid == 0;
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      low = std::min(low, values[i]);
      high = std::max(high, values[i]);
    }
  }
  lo = low;
  hi = high;
}

}  // namespace

void ValueSurvey::add(std::span<const std::int16_t> values) {
  if (values.empty()) return;
  if (!any) {
    any = true;
    first = min = max = values[0];
  }
  // The range and the N1 test in blocks, so that the test stops once a value is off the grid;
  // the gcd in a loop of its own, which stops once it is 1: the survey reads every sample of the
  // recording before anything is trained.
  std::int16_t lo = static_cast<std::int16_t>(min), hi = static_cast<std::int16_t>(max);
  constexpr std::size_t kBlock = 4096;
  for (std::size_t at = 0; at < values.size(); at += kBlock) survey_range(values.data() + at, std::min(kBlock, values.size() - at), lo, hi, n1_exact);
  min = lo;
  max = hi;
  // The gcd of |value - first|. Once it is a power of two (an ADC's codes shifted into 16 bits)
  // it can only fall to the lowest bit set in it or in a difference, which an OR of all the
  // differences gives (-d has the trailing zeros of d).
  std::uint32_t g = gcd;
  for (std::size_t i = 0; i < values.size() && g != 1;) {
    if (g != 0 && (g & (g - 1)) == 0) {
      std::uint32_t bits = g;
      for (; i < values.size(); ++i) bits |= static_cast<std::uint32_t>(std::int32_t{values[i]} - first);
      g = bits & (0u - bits);
    } else {
      const auto d = static_cast<std::uint32_t>(std::abs(std::int32_t{values[i++]} - first));
      if (g == 0 ? d != 0 : d % g != 0) g = std::gcd(g, d);
    }
  }
  gcd = g;
}

void ValueSurvey::merge(const ValueSurvey& other) {
  if (!other.any) return;
  if (!any) {
    *this = other;
    return;
  }
  n1_exact &= other.n1_exact;
  gcd = std::gcd(std::gcd(gcd, other.gcd), static_cast<std::uint32_t>(std::abs(other.first - first)));
  min = std::min(min, other.min);
  max = std::max(max, other.max);
}

format::ValueMap choose_value_map(const ValueSurvey& survey) {
  ValueMap best{ValueMapKind::identity};
  if (!survey.any) return best;
  std::int64_t best_span = std::int64_t{survey.max} - survey.min;
  if (survey.gcd > 1) {
    const auto step = static_cast<std::int32_t>(survey.gcd);
    const ValueMap affine{ValueMapKind::affine, step, ((survey.first % step) + step) % step};
    const std::int64_t span = best_span / step;
    if (span < best_span) best = affine, best_span = span;
  }
  if (survey.n1_exact) {
    const ValueMap n1{ValueMapKind::n1_10bit};
    const std::int64_t span = format::value_to_code(n1, static_cast<std::int16_t>(survey.max)) -
                              format::value_to_code(n1, static_cast<std::int16_t>(survey.min));
    if (span < best_span) best = n1;
  }
  return best;
}

namespace {

// Runs body(first, end) over channels [0, count): whole on this thread when threads is 1, else in
// contiguous parts of at least 8 channels, about 16 per thread (fine enough that the last parts
// leave little idle time), across `threads`.
void in_channel_parts(std::size_t count, unsigned threads, const std::function<void(std::size_t, std::size_t)>& body) {
  constexpr std::size_t kMinPartChannels = 8;
  const std::size_t parts = threads <= 1 ? 1 : std::clamp<std::size_t>(count / kMinPartChannels, 1, 16 * std::size_t{threads});
  if (parts == 1) return body(0, count);
  parallel_for(parts, threads, [&](std::size_t p) { body(count * p / parts, count * (p + 1) / parts); });
}

// The codes of every present channel, each re-checked against its value map: the survey
// guarantees exactness, and this check means a survey bug can never lose data.
std::vector<std::vector<std::int32_t>>& chunk_codes(std::span<const std::int16_t> samples, const format::ChunkChannels& present,
                                                          const format::Metadata& meta, unsigned threads) {
  thread_local std::vector<std::vector<std::int32_t>> reused;  // chunks are large
  auto& codes = reused;  // a reference the parts' threads share (they would name their own thread_local)
  codes.resize(present.channel.size());
  std::vector<std::size_t> positions(present.channel.size() + 1, 0);
  for (std::size_t i = 0; i < present.channel.size(); ++i) positions[i + 1] = positions[i] + present.sample_count[i];
  in_channel_parts(present.channel.size(), threads, [&](std::size_t first, std::size_t end) {
    for (std::size_t i = first; i < end; ++i) {
      const std::uint32_t n = present.sample_count[i];
      const ValueMap map = meta.channels[present.channel[i]].value_map;
      const std::int16_t* values = samples.data() + positions[i];
      auto& out = codes[i];
      out.resize(n);
      if (!values_to_codes(map, {values, n}, out.data())) throw std::logic_error("value map is not exact for channel " + std::to_string(present.channel[i]));
    }
  });
  return codes;
}

}  // namespace

std::vector<std::string> level_codecs(const std::string& level) {
  using format::NetworkKind, format::PredictorKind, format::ResidualCoder;
  const auto at = [](PredictorKind predictor, ResidualCoder coder) { return std::string(format::codec_at(predictor, NetworkKind::none, coder).name); };
  const std::string fast = at(PredictorKind::lpc, ResidualCoder::golomb);
  // The network stage, where it pays, is the trainer's choice within the family.
  if (level == "fast") return {fast};
  if (level == "default") return {at(PredictorKind::middle_out, ResidualCoder::table_rans)};
  if (level == "max") return {at(PredictorKind::middle_out, ResidualCoder::context_rans)};
  throw std::invalid_argument("unknown level \"" + level + "\" (fast, default or max)");
}

std::string codec_for_level(const std::string& level) { return level_codecs(level).front(); }

namespace {

// Every present channel's stream: sync channels as runs (§6.10), the others through the codec's
// family, in parts across `threads` (the same streams however they are split).
std::vector<std::uint8_t> encode_payload(std::span<const std::int16_t> samples, const format::ChunkChannels& present, const format::Metadata& meta,
                                         unsigned threads) {
  const format::CodecRow& codec = format::codec_row(meta.codec.name);
  const codecs::EncoderFamily& family = codecs::encoder_family(codec);
  const auto encode_streams = [&](const std::vector<std::vector<std::int32_t>>& codes, const format::ChunkChannels& coded,
                                  std::vector<std::vector<std::uint8_t>>& streams) {
    in_channel_parts(coded.channel.size(), threads, [&](std::size_t first, std::size_t end) { family.encode_streams(codes, coded, meta, first, end, streams); });
  };
  // The streams with their checks (§6.3), the checks in parts of the channels on the threads
  // too: a pass over every sample, which on one thread held up the others for each chunk of a
  // wide recording.
  const auto assemble = [&](const std::vector<std::vector<std::uint8_t>>& streams) {
    std::vector<std::uint32_t> checks(streams.size());
    in_channel_parts(streams.size(), threads,
                     [&](std::size_t first, std::size_t end) { format::stream_checks(samples, present.sample_count, first, end, checks); });
    const std::vector<std::span<const std::uint8_t>> bytes(streams.begin(), streams.end());
    return format::assemble_payload(bytes, checks);
  };
  auto& codes = chunk_codes(samples, present, meta, threads);
  std::vector<std::vector<std::uint8_t>> streams(present.channel.size());
  const bool any_sync = std::any_of(present.channel.begin(), present.channel.end(), [&](std::uint32_t c) { return meta.channels[c].sync; });
  if (!any_sync) {
    encode_streams(codes, present, streams);
    return assemble(streams);
  }
  // The codec's channels' code buffers are lent to the codec (swapped, not copied) and returned.
  format::ChunkChannels coded;
  std::vector<std::vector<std::int32_t>> coded_codes;
  std::vector<std::size_t> lent;
  for (std::size_t i = 0; i < present.channel.size(); ++i) {
    if (meta.channels[present.channel[i]].sync) continue;
    coded.channel.push_back(present.channel[i]);
    coded.sample_count.push_back(present.sample_count[i]);
    coded_codes.emplace_back().swap(codes[i]);
    lent.push_back(i);
  }
  std::vector<std::vector<std::uint8_t>> coded_streams(lent.size());
  encode_streams(coded_codes, coded, coded_streams);
  for (std::size_t k = 0; k < lent.size(); ++k) {
    codes[lent[k]].swap(coded_codes[k]);
    streams[lent[k]] = std::move(coded_streams[k]);
  }
  std::size_t position = 0;
  for (std::size_t i = 0; i < present.channel.size(); ++i) {
    if (meta.channels[present.channel[i]].sync) streams[i] = format::encode_sync_runs(samples.subspan(position, present.sample_count[i]), codec.stream_word_bytes);
    position += present.sample_count[i];
  }
  return assemble(streams);
}

// Chunks [first, end) of a recording without sync channels, their streams coded together
// (EncoderFamily::encode_streams_of_chunks: the chunks share the lockstep kernels' lanes): the
// same payloads as encode_chunk gives each.
std::vector<EncodedChunk> encode_chunks_together(const Recording& recording, const format::Metadata& meta, std::uint64_t first, std::uint64_t end) {
  const std::size_t count = end - first;
  std::vector<std::vector<std::int16_t>> samples(count);
  std::vector<format::ChunkChannels> present(count);
  std::vector<std::vector<std::vector<std::int32_t>>> codes(count);
  std::vector<std::vector<std::vector<std::uint8_t>>> streams(count);
  std::vector<codecs::EncoderFamily::ChunkStreams> jobs(count);
  for (std::size_t k = 0; k < count; ++k) {
    const std::uint64_t chunk = first + k;
    present[k] = format::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
    recording.gather(meta.chunk_first_sample(chunk), present[k], samples[k]);
    codes[k] = chunk_codes(samples[k], present[k], meta, 1);
    streams[k].resize(present[k].channel.size());
    jobs[k] = {&codes[k], &present[k], &streams[k]};
  }
  codecs::encoder_family(format::codec_row(meta.codec.name)).encode_streams_of_chunks(jobs, meta);
  std::vector<EncodedChunk> out(count);
  for (std::size_t k = 0; k < count; ++k) {
    out[k].payload = format::assemble_payload(std::span<const std::vector<std::uint8_t>>(streams[k]), samples[k], present[k].sample_count);
    out[k].samples_checksum = format::checksum64(std::span<const std::int16_t>(samples[k]));
  }
  return out;
}

}  // namespace

EncodedChunk encode_chunk(std::span<const std::int16_t> samples, const format::ChunkChannels& present, const format::Metadata& meta,
                          unsigned threads) {
  EncodedChunk out;
  out.payload = encode_payload(samples, present, meta, threads);
  out.samples_checksum = format::checksum64(samples);
  return out;
}

namespace {

constexpr std::uint64_t kMinChunkSamples = 64;

// A number in at most six significant digits ("1e-05", "19531", "0.00327685").
std::string shortest_text(double value) {
  std::ostringstream out;
  out << std::setprecision(6) << value;
  return out.str();
}

std::uint64_t chunk_samples_for(double chunk_seconds, double sample_rate) {
  if (!(chunk_seconds > 0) || !std::isfinite(chunk_seconds)) throw std::invalid_argument("--chunk-seconds must be positive");
  const double samples = std::round(chunk_seconds * sample_rate);
  // Bounded so that one chunk of one channel stays addressable with 32-bit counts.
  if (samples > 1e8)
    throw std::invalid_argument("--chunk-seconds " + shortest_text(chunk_seconds) + " at " + shortest_text(sample_rate) +
                                " Hz is too long: at most 1e8 samples per chunk");
  // Shorter chunks cost more in headers than they hold (--chunk-seconds 0.00001 once gave
  // one-sample chunks and an archive 20x its input).
  if (samples < static_cast<double>(kMinChunkSamples))
    throw std::invalid_argument("--chunk-seconds " + shortest_text(chunk_seconds) + " gives " + shortest_text(std::max(samples, 0.0)) +
                                " sample(s) per chunk at " + shortest_text(sample_rate) + " Hz: a chunk needs at least " +
                                std::to_string(kMinChunkSamples) + " (" + shortest_text(kMinChunkSamples / sample_rate) + " s)");
  return static_cast<std::uint64_t>(samples);
}

// Batches of whole chunks, each within the memory budget, in a pipeline: while the executor
// works on batch b, batch b + 1's samples are gathered and batch b - 1's payloads assembled,
// written (in chunk order) and, with a verifier, decoded and compared with the input, each on
// the encoder's threads.
struct BatchPipelineSeconds {
  double gather = 0, executor = 0, assemble = 0;  // each part's own time (they overlap)
  double verify_wait = 0;  // the pipeline held up by verification, its end included
};

void encode_in_batches(const Recording& recording, const format::Metadata& meta, const EncodeOptions& options,
                       format::ArchiveWriter& writer, BatchPipelineSeconds& seconds, PipelineVerifier* verifier) {
  const std::uint64_t chunk_count = meta.chunk_count();
  std::vector<std::pair<std::uint64_t, std::uint64_t>> batches;
  for (std::uint64_t first = 0; first < chunk_count;) {
    std::uint64_t end = first, bytes = 0;
    while (end < chunk_count) {
      const std::uint64_t more = batch_device_bytes(plan_batch(meta, end, end + 1));
      if (end > first && bytes + more > options.batch_memory_bytes) break;
      bytes += more;
      ++end;
    }
    batches.emplace_back(first, end);
    first = end;
  }
  const auto prepare = [&](std::size_t b) {
    const Stopwatch gather;
    auto plan = std::make_unique<BatchPlan>(plan_batch(meta, batches[b].first, batches[b].second));
    auto samples = gather_batch(recording, meta, *plan, options.threads, options.batch_sample_memory);
    seconds.gather += gather.seconds();  // one gather runs at a time
    return std::make_pair(std::move(plan), std::move(samples));
  };
  std::future<std::pair<std::unique_ptr<BatchPlan>, GatheredSamples>> next;
  if (!batches.empty()) next = std::async(std::launch::async, prepare, 0);
  // With a verifier, each written batch is decoded and compared with its input (several
  // batches at once, so that every thread decodes: a batch of a wide recording holds a few
  // chunks, and a chunk decodes on one thread) and rebuilt into the source files (in order, a
  // batch behind the writing). A batch waits while more than `threads` chunks would be in
  // verification, unless none are. Only the writing tasks, one at a time, touch these until the end.
  struct Written {
    std::uint64_t first_chunk = 0;
    std::unique_ptr<BatchPlan> plan;
    GatheredSamples samples;
    std::vector<EncodedChunk> encoded;
  };
  std::deque<std::pair<std::size_t, std::future<void>>> verifying;
  std::size_t verifying_chunks = 0, verified_chunks = 0;
  std::future<void> rebuilt;  // the previous batch's rebuild
  // `at_end`: the encoding is done and only verification is left; its progress is shown (a
  // progress callback is called from one thread at a time).
  const auto wait_for_verification = [&](std::size_t more, bool at_end = false) {
    const Stopwatch waiting;
    while (!verifying.empty() && verifying_chunks + more > options.threads) {
      verifying.front().second.get();
      verifying_chunks -= verifying.front().first;
      verified_chunks += verifying.front().first;
      verifying.pop_front();
      if (at_end && options.progress) options.progress("verify", verified_chunks, chunk_count);
    }
    if (rebuilt.valid()) rebuilt.get();
    seconds.verify_wait += waiting.seconds();
  };
  const auto verify = [&](std::shared_ptr<const Written> batch) {
    wait_for_verification(batch->encoded.size());
    verifying_chunks += batch->encoded.size();
    verifying.emplace_back(batch->encoded.size(), std::async(std::launch::async, [&, batch] {
      verifier->check(batch->first_chunk, batch->encoded, batch->samples, batch->plan->chunk_sample_offset, options.threads);
    }));
    rebuilt = std::async(std::launch::async, [&, batch] { verifier->rebuild(batch->first_chunk, batch->samples, batch->plan->chunk_sample_offset); });
  };
  std::future<void> written;  // the previous batch's assembly and writing
  for (std::size_t b = 0; b < batches.size(); ++b) {
    auto [plan, samples] = next.get();
    if (b + 1 < batches.size()) next = std::async(std::launch::async, prepare, b + 1);
    const Stopwatch executor;
    auto words = options.batch_executor(*plan, samples);
    seconds.executor += executor.seconds();
    if (written.valid()) written.get();
    written = std::async(std::launch::async, [&, b, plan = std::move(plan), samples = std::move(samples), words = std::move(words)]() mutable {
      const Stopwatch assemble;
      auto encoded = assemble_batch(*plan, words, samples, options.threads);
      for (std::size_t i = 0; i < encoded.size(); ++i) {
        const std::uint64_t chunk = batches[b].first + i;
        writer.append_chunk(meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk), encoded[i].payload, encoded[i].samples_checksum);
        if (options.progress) options.progress("compress", chunk + 1, chunk_count);
      }
      seconds.assemble += assemble.seconds();  // one assembly runs at a time
      if (verifier != nullptr) verify(std::make_shared<const Written>(Written{batches[b].first, std::move(plan), std::move(samples), std::move(encoded)}));
    });
  }
  if (written.valid()) written.get();
  wait_for_verification(options.threads + 1, true);  // all of them
}

// Groups of chunks [first, end) that encode_chunks_together codes at once: for a recording of
// fewer coded channels than a lane group holds and no sync channels (runs, coded on their own);
// empty otherwise.
std::vector<std::pair<std::size_t, std::size_t>> chunks_coded_together(const format::Metadata& meta, unsigned threads) {
  if (std::any_of(meta.channels.begin(), meta.channels.end(), [](const format::ChannelInfo& c) { return c.sync; })) return {};
  return codecs::lane_filling_chunk_groups(meta.chunk_count(), meta.channels.size(), threads);
}

struct WrittenArchive {
  std::uint64_t bytes = 0;
  std::uint64_t batch_chunks = 0;  // chunks the batch executor encoded
  BatchPipelineSeconds batch_seconds;
  std::unique_ptr<PipelineVerifier> verifier;  // the batch pipeline's, which decoded every chunk as it was encoded
};

// Encodes every chunk of `section`'s recording into `writer` (a file, or memory).
WrittenArchive write_archive(const Recording& recording, const format::MetadataSection& section, const EncodeOptions& options,
                             format::ArchiveWriter& writer) {
  const format::Metadata& meta = section.metadata;
  const std::uint64_t chunk_count = meta.chunk_count();
  WrittenArchive written;
  if (options.batch_executor && batch_encodes(meta.codec.name)) {  // the batch stages cover lpc1 and the Golomb-coded mo codecs
    // Verified as it is encoded: the CPU decodes while the executor encodes the next batch.
    if (options.verify) written.verifier = std::make_unique<PipelineVerifier>(writer.stored_section(), chunk_count, options.threads);
    encode_in_batches(recording, meta, options, writer, written.batch_seconds, written.verifier.get());
    written.batch_chunks = chunk_count;
  } else if (const auto groups = chunks_coded_together(meta, options.threads); !groups.empty()) {
    // Few channels: chunks coded together, groups on the threads.
    ordered_parallel<std::vector<EncodedChunk>>(
        groups.size(), options.threads, 2 * std::size_t{options.threads},
        [&](std::size_t g) { return encode_chunks_together(recording, meta, groups[g].first, groups[g].second); },
        [&](std::size_t g, std::vector<EncodedChunk>& encoded) {
          for (std::size_t k = 0; k < encoded.size(); ++k) {
            const std::uint64_t chunk = groups[g].first + k;
            writer.append_chunk(meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk), encoded[k].payload, encoded[k].samples_checksum);
            if (options.progress) options.progress("compress", chunk + 1, chunk_count);
          }
        });
  } else {
    // Chunks on the threads; when they are too few to keep every thread busy to the end (a short
    // recording of many channels: 4 chunks on 2 threads leave one idle for a chunk), each chunk's
    // channels in parts across all of them instead, one chunk at a time.
    const bool split = options.threads > 1 && chunk_count < 4 * std::uint64_t{options.threads} && meta.channels.size() >= 16 * std::size_t{options.threads};
    ordered_parallel<EncodedChunk>(
        chunk_count, split ? 1 : options.threads, split ? 1 : 2 * std::size_t{options.threads},
        [&](std::size_t chunk) {
          const std::uint64_t first = meta.chunk_first_sample(chunk);
          const auto present = format::channels_in_chunk(meta, first, meta.chunk_sample_count(chunk));
          // Split: gathered in time slices on every thread too (one thread's transposition of a
          // chunk of a thousand channels held up all of them).
          const GatheredSamples samples = gather_chunks(recording, meta, {chunk}, split ? options.threads : 1);
          return encode_chunk(samples, present, meta, split ? options.threads : 1);
        },
        [&](std::size_t chunk, EncodedChunk& encoded) {
          writer.append_chunk(meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk), encoded.payload, encoded.samples_checksum);
          if (options.progress) options.progress("compress", chunk + 1, chunk_count);
        });
  }
  written.bytes = writer.finish();
  return written;
}

}  // namespace

void verify_against_input(const format::ArchiveReader& reader, const Recording& recording, const EncodeOptions& options) {
  const format::Metadata& meta = reader.metadata();
  RestoreOptions restore;
  restore.threads = options.threads;
  restore.inspect = [&](const DecodedChunk& decoded) {
    const auto present = format::channels_in_chunk(meta, decoded.first_sample, meta.chunk_sample_count(decoded.chunk));
    thread_local std::vector<std::int16_t> expected;  // kept: a chunk of many channels is tens of MB
    recording.gather(decoded.first_sample, present, expected);
    expect_decoded_equals_input(decoded, present, expected);
  };
  if (options.progress) restore.progress = [&](std::uint64_t done, std::uint64_t total) { options.progress("verify", done, total); };
  const RestoreReport restored = restore_sources(reader, restore);
  if (!restored.mismatched_files.empty())
    throw VerifyError("verify failed: rebuilt " + restored.mismatched_files.front() + " differs from the original");
}

namespace {

// The source files' checksums (XXH3-64 of every byte, SPEC §4.1) on a thread of their own, beside
// the survey and the training: for one large file it is a pass that cannot be split (a 24 GB
// file is seconds of one core), and nothing needs it before the metadata is written.
class SourceChecksums {
 public:
  SourceChecksums(const Recording& recording, unsigned threads) {
    if (threads > 1) {
      try {
        pending_ = std::async(std::launch::async, [this, &recording, threads] { return compute(recording, threads); });
        return;
      } catch (const std::system_error&) {  // no thread to be had: here and now
      }
    }
    checksums_ = compute(recording, 1);
  }
  SourceChecksums(const SourceChecksums&) = delete;
  SourceChecksums& operator=(const SourceChecksums&) = delete;
  ~SourceChecksums() {
    stop_ = true;  // an encode that failed does not wait for the rest of the file
    if (pending_.valid()) pending_.wait();
  }

  // Each source's checksum into `meta`, once they are known.
  void fill(format::Metadata& meta) {
    if (pending_.valid()) checksums_ = pending_.get();
    for (std::size_t s = 0; s < meta.sources.size() && s < checksums_.size(); ++s) meta.sources[s].checksum = checksums_[s];
  }

 private:
  std::vector<std::uint64_t> compute(const Recording& recording, unsigned threads) {
    constexpr std::size_t kPiece = std::size_t{64} << 20;  // how often a failed encode is noticed
    const auto& sources = recording.sources();
    std::vector<std::uint64_t> checksums(sources.size());
    parallel_for(sources.size(), threads, [&](std::size_t s) {
      const auto bytes = sources[s].map.bytes();
      format::StreamingChecksum checksum;
      for (std::size_t at = 0; at < bytes.size() && !stop_; at += kPiece) checksum.update(bytes.subspan(at, std::min(kPiece, bytes.size() - at)));
      checksums[s] = checksum.digest();
    });
    return checksums;
  }

  std::atomic<bool> stop_ = false;
  std::vector<std::uint64_t> checksums_;
  std::future<std::vector<std::uint64_t>> pending_;
};

// survey_recording without the source checksums (left 0: SourceChecksums::fill sets them).
format::MetadataSection survey_values(const Recording& recording, const EncodeOptions& options, std::uint64_t* value_map_counts) {
  if (options.partition_size > format::kMaxPartitionSize) throw std::invalid_argument("partition size out of range");
  format::MetadataSection section;
  format::Metadata& meta = section.metadata;
  meta.encoder = std::string("spikey ") + kVersion;
  meta.sample_rate = recording.sample_rate();
  meta.total_samples = recording.total_samples();
  // An archive of side files alone has no chunks; its chunk length is nominal.
  meta.chunk_samples = recording.channel_count() == 0 ? kMinChunkSamples
                                                      : std::max(chunk_samples_for(options.chunk_seconds, recording.sample_rate()), options.min_chunk_samples);
  const std::uint64_t longest_chunk = std::min(meta.chunk_samples, meta.total_samples);
  if (longest_chunk * std::max<std::uint64_t>(recording.channel_count(), 1) > format::kMaxChunkChannelSamples)
    throw std::invalid_argument("--chunk-seconds " + shortest_text(options.chunk_seconds) + " with " + std::to_string(recording.channel_count()) +
                                " channels gives " + std::to_string(longest_chunk * recording.channel_count()) +
                                " samples per chunk: at most 2^28 (" + shortest_text(static_cast<double>(format::kMaxChunkChannelSamples) /
                                                                                    static_cast<double>(recording.channel_count()) / recording.sample_rate()) +
                                " s with these channels)");
  meta.level = options.level;
  meta.codec.partition_size = options.partition_size;  // 0: the codec's default, once the codec is known (with_model)
  const std::uint64_t chunk_count = meta.chunk_count();

  // Sources: their verbatim bytes (their checksums come from SourceChecksums).
  const auto& sources = recording.sources();
  std::uint32_t next_channel = 0;
  for (std::size_t s = 0; s < sources.size(); ++s) {
    const InputSource& src = sources[s];
    const auto bytes = src.map.bytes();
    format::SourceFile f;
    f.path = src.restore_path;
    f.kind = src.kind;
    f.size = src.map.size();
    f.channel_count = src.channel_count;
    f.first_channel = next_channel;
    f.frames = src.frames;
    if (src.channel_count > 0 && src.sample_rate != recording.sample_rate()) f.sample_rate = src.sample_rate;
    f.unsigned_samples = src.unsigned_samples;
    f.big_endian = src.big_endian;
    f.float_bytes = src.float_bytes;
    f.sample_step = src.sample_step;
    f.snippets = src.snippets;
    f.prefix = {section.verbatim.size(), src.data_offset};
    if (src.delta64_count != 0) {
      f.delta64_offset = src.delta64_offset;
      f.delta64_count = src.delta64_count;
      const auto stored = format::delta64_encode(bytes, src.delta64_offset, src.delta64_count);
      section.verbatim.insert(section.verbatim.end(), stored.begin(), stored.end());
    } else {
      section.verbatim.insert(section.verbatim.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(src.data_offset));
    }
    if (src.records.count != 0) {  // every record's header, gaps and trailer, then the fields coded (SPEC §4.2)
      f.records = src.records;
      std::vector<std::uint8_t> framing;
      framing.reserve(src.records.count * src.records.framing_bytes());
      const auto keep = [&](std::uint64_t offset, std::uint64_t size) {
        framing.insert(framing.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset), bytes.begin() + static_cast<std::ptrdiff_t>(offset + size));
      };
      for (std::uint64_t r = 0; r < src.records.count; ++r) {
        if (src.records.channel_records) {  // one channel's samples between the header and the trailer (version 16)
          keep(src.record_starts[r], src.records.header);
          keep(src.record_starts[r] + src.records.header + 2ull * src.table.lengths[r], src.records.trailer);
          continue;
        }
        for (const format::ByteRange& piece : src.records.framing_pieces(r, src.channel_count))
          keep(src.data_offset + piece.offset, piece.size);
      }
      for (std::uint64_t r = 0; r < src.records.count && src.records.tails; ++r)  // then the tails (version 17), each after its record's trailer
        keep(src.record_starts[r] + src.records.header + 2ull * src.table.lengths[r] + src.records.trailer, src.record_tail(r));
      const auto stored = format::framing_encode(framing, src.records, src.snippets);
      f.records.framing = {section.verbatim.size(), stored.size()};
      section.verbatim.insert(section.verbatim.end(), stored.begin(), stored.end());
      if (src.records.channel_records) {
        const auto table = format::record_table_bytes(src.table);
        f.records.table = {section.verbatim.size(), table.size()};
        section.verbatim.insert(section.verbatim.end(), table.begin(), table.end());
      }
    }
    f.suffix = {section.verbatim.size(), src.map.size() - src.data_end()};
    section.verbatim.insert(section.verbatim.end(), bytes.begin() + static_cast<std::ptrdiff_t>(src.data_end()), bytes.end());
    meta.sources.push_back(std::move(f));
    next_channel += src.channel_count;
  }

  // Channels first with placeholder maps: the chunk layout only needs their lengths.
  for (std::uint32_t c = 0; c < recording.channel_count(); ++c) {
    format::ChannelInfo channel;
    channel.name = recording.channel_name(c);
    channel.source = recording.source_of_channel(c);
    channel.length = recording.channel_length(c);
    if (const ChannelLabel* label = recording.channel_label(c)) {
      channel.bit_volts = label->bit_volts;
      channel.units = label->units;
      channel.sync = label->sync;
    }
    channel.snippets = recording.snippet_channel(c) && !recording.sources()[channel.source].snippets;  // a channel's own flag (version 16)
    if (const InputSource& src = recording.sources()[channel.source]; !src.channel_rates.empty() && recording.channel_rate(c) != src.sample_rate)
      channel.sample_rate = recording.channel_rate(c);  // its own rate (version 16)
    meta.channels.push_back(std::move(channel));
  }

  // Value maps: one pass over the recording, chunk by chunk.
  std::vector<ValueSurvey> surveys(recording.channel_count());
  ordered_parallel<std::vector<ValueSurvey>>(
      chunk_count, options.threads, 2 * std::size_t{options.threads},
      [&](std::size_t chunk) {
        const auto present = format::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
        thread_local std::vector<std::int16_t> samples;  // kept: a chunk of many channels is tens of MB
        samples.resize(std::accumulate(present.sample_count.begin(), present.sample_count.end(), std::size_t{0}));
        std::vector<ValueSurvey> by_channel(recording.channel_count());
        // In time slices of about 256 KiB (Recording::gather's parts), each surveyed while it is
        // in the cache: a 1 s chunk of 1024 channels is 40 MB.
        const std::size_t parts = std::max<std::size_t>(1, samples.size() >> 17);
        for (std::size_t part = 0; part < parts; ++part) {
          recording.gather(meta.chunk_first_sample(chunk), present, samples, part, parts);
          std::size_t position = 0;
          for (std::size_t i = 0; i < present.channel.size(); ++i) {
            const std::size_t n = present.sample_count[i], begin = n * part / parts, end = n * (part + 1) / parts;
            by_channel[present.channel[i]].add({samples.data() + position + begin, end - begin});
            position += n;
          }
        }
        return by_channel;
      },
      [&](std::size_t chunk, std::vector<ValueSurvey>& partial) {
        for (std::size_t c = 0; c < partial.size(); ++c) surveys[c].merge(partial[c]);
        if (options.progress) options.progress("scan", chunk + 1, chunk_count);
      });
  for (std::uint32_t c = 0; c < recording.channel_count(); ++c) {
    meta.channels[c].value_map = meta.channels[c].sync ? format::ValueMap{} : choose_value_map(surveys[c]);  // sync: runs of raw values
    if (value_map_counts != nullptr) ++value_map_counts[static_cast<int>(meta.channels[c].value_map.kind)];
  }
  return section;
}

}  // namespace

format::MetadataSection survey_recording(const Recording& recording, const EncodeOptions& options, std::uint64_t* value_map_counts) {
  SourceChecksums checksums(recording, options.threads);
  format::MetadataSection section = survey_values(recording, options, value_map_counts);
  checksums.fill(section.metadata);
  return section;
}

Model train_model(const Recording& recording, const format::MetadataSection& surveyed, const std::string& codec, const EncodeOptions& options) {
  format::Metadata meta = surveyed.metadata;
  meta.codec.name = codec;
  meta.chunk_samples = training::training_window(meta, options.training_window_in_all);  // the model holds no chunk length
  if (options.progress) options.progress("train", 0, 1);
  Model model;
  codecs::encoder_family(format::codec_row(codec)).train(recording, meta, options, model);
  if (meta.codec.partition_size == 0) meta.codec.partition_size = format::codec_row(meta.codec.name).default_partition_size();
  model.codec = meta.codec;
  for (const auto& c : meta.channels) model.predictors.push_back(c.predictor);
  return model;
}

namespace {

// The surveyed metadata with a model's codec and predictors, checked by the archive's own
// validation before anything is encoded with it. The partition size is the encoder's option,
// or the codec's default.
// `verbatim`: the surveyed verbatim bytes, moved in for the last candidate (a long
// recording's framing can be gigabytes), else copied.
format::MetadataSection with_model(const format::MetadataSection& surveyed, std::vector<std::uint8_t>&& verbatim, const Model& model) {
  format::MetadataSection section;
  section.metadata = surveyed.metadata;
  section.verbatim = std::move(verbatim);
  format::Metadata& meta = section.metadata;
  if (model.predictors.size() != meta.channels.size() && format::codec_row(model.codec.name).has_predictors())
    throw std::invalid_argument("the model is for " + std::to_string(model.predictors.size()) + " channels, the recording has " +
                                std::to_string(meta.channels.size()));
  const std::uint32_t partition_size = meta.codec.partition_size;
  meta.codec = model.codec;
  meta.codec.partition_size = partition_size != 0 ? partition_size : format::codec_row(model.codec.name).default_partition_size();
  for (std::size_t c = 0; c < meta.channels.size() && c < model.predictors.size(); ++c) meta.channels[c].predictor = model.predictors[c];
  // Sync channels are runs, outside prediction (§6.10): no predictor of their own, and no
  // channel predicted from them (the trainer rarely picks one: a bitfield does not correlate).
  for (auto& channel : meta.channels) {
    if (channel.sync) channel.predictor = {};
    std::erase_if(channel.predictor.sources, [&](const format::PredictorSource& s) {
      return s.channel >= 0 && static_cast<std::size_t>(s.channel) < meta.channels.size() && meta.channels[static_cast<std::size_t>(s.channel)].sync;
    });
  }
  try {
    format::check_metadata_section(section);
  } catch (const format::ArchiveError& e) {
    throw std::invalid_argument(std::string("the model does not fit this recording: ") + e.what());
  }
  return section;
}

}  // namespace

namespace {

// compress() into the file `output`, or, without one, into `memory`.
CompressReport compress_into(const Recording& recording, const fs::path* output, std::vector<std::uint8_t>* memory,
                             const EncodeOptions& options) {
  const Stopwatch stopwatch;
  if (output != nullptr && !options.overwrite) TemporaryPath check(*output, false);  // refuse an existing output before any work
  CompressReport report;
  SourceChecksums checksums(recording, options.threads);
  format::MetadataSection surveyed = survey_values(recording, options, report.value_map_counts);
  report.phase_seconds.emplace_back("survey", stopwatch.seconds());
  // The checksums ran beside the survey and the training; the metadata is written with the
  // first candidate's archive.
  bool checksums_filled = false;
  const auto fill_checksums = [&] {
    if (checksums_filled) return;
    const Stopwatch waited;
    checksums.fill(surveyed.metadata);
    checksums_filled = true;
    report.phase_seconds.emplace_back("waiting for the file checksums", waited.seconds());
  };

  // A given model, a given codec, or the level's codec (level_codecs: one per level); with
  // several candidates the smallest archive is kept.
  std::vector<std::string> candidates;
  if (!options.model) candidates = options.codec.empty() ? level_codecs(options.level) : std::vector<std::string>{options.codec};
  struct Candidate {
    std::unique_ptr<TemporaryPath> path;  // the file output's temporary name
    std::vector<std::uint8_t> memory;     // or the archive itself
    std::uint64_t bytes = 0;
    format::MetadataSection section;
    std::uint64_t batch_chunks = 0;
    std::unique_ptr<PipelineVerifier> verifier;  // when its chunks were decoded as they were encoded
  };
  std::optional<Candidate> best;
  double estimated_bits_per_residual = 0;
  format::MetadataFrameOptions metadata_frames = options.metadata_frames;
  metadata_frames.threads = options.threads;
  const auto encode_candidate = [&](format::MetadataSection section) {
    const Stopwatch chunks;
    Candidate candidate{output != nullptr ? std::make_unique<TemporaryPath>(*output, options.overwrite) : nullptr, {}, 0, std::move(section), 0, nullptr};
    WrittenArchive written;
    if (output != nullptr) {
      format::ArchiveWriter writer(candidate.path->path(), candidate.section, metadata_frames);
      written = write_archive(recording, candidate.section, options, writer);
    } else {
      format::ArchiveWriter writer(candidate.section, metadata_frames);
      written = write_archive(recording, candidate.section, options, writer);
      candidate.memory = writer.take_bytes();
    }
    candidate.bytes = written.bytes;
    candidate.batch_chunks = written.batch_chunks;
    candidate.verifier = std::move(written.verifier);
    report.phase_seconds.emplace_back("chunks", chunks.seconds());
    if (written.batch_chunks > 0) {  // the pipeline's parts, each its own time (they overlap)
      report.phase_seconds.emplace_back("chunks: gathering", written.batch_seconds.gather);
      report.phase_seconds.emplace_back("chunks: executor", written.batch_seconds.executor);
      report.phase_seconds.emplace_back("chunks: assembling and writing", written.batch_seconds.assemble);
      if (candidate.verifier) report.phase_seconds.emplace_back("chunks: waiting for verification", written.batch_seconds.verify_wait);
    }
    if (!best || candidate.bytes < best->bytes) best = std::move(candidate);
  };
  const auto verbatim_for = [&](bool last) { return last ? std::move(surveyed.verbatim) : std::vector<std::uint8_t>(surveyed.verbatim); };
  if (options.model) {
    fill_checksums();
    encode_candidate(with_model(surveyed, verbatim_for(candidates.empty()), *options.model));
  }
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Model model = train_model(recording, surveyed, candidates[i], options);
    estimated_bits_per_residual = model.estimated_bits_per_residual;
    report.phase_seconds.insert(report.phase_seconds.end(), model.training_seconds.begin(), model.training_seconds.end());
    fill_checksums();
    encode_candidate(with_model(surveyed, verbatim_for(i + 1 == candidates.size()), model));
  }
  report.archive_bytes = best->bytes;
  report.codec = best->section.metadata.codec.name;
  report.encode_seconds = stopwatch.seconds();

  // The kept archive's verbatim bytes are in it now; its reader loads them again to verify.
  std::vector<std::uint8_t>().swap(best->section.verbatim);
  if (options.verify) {
    const Stopwatch verify_stopwatch;
    const auto reader = output != nullptr ? std::make_unique<format::ArchiveReader>(best->path->path())
                                          : std::make_unique<format::ArchiveReader>(best->memory, "archive in memory");
    if (best->verifier) best->verifier->verify_written(*reader, options.threads);  // its chunks were decoded as they were encoded
    else verify_against_input(*reader, recording, options);
    report.verify_seconds = verify_stopwatch.seconds();
    report.verified = true;
  }
  if (output != nullptr) best->path->commit();
  else *memory = std::move(best->memory);

  // The backend that encoded the kept archive's chunks, as it happened (not as asked).
  report.batch_chunks = best->batch_chunks;
  report.backend = report.batch_chunks > 0 ? options.backend : "cpu";
  report.original_bytes = recording.original_bytes();
  report.sources = recording.sources().size();
  report.channels = recording.channel_count();
  report.chunks = best->section.metadata.chunk_count();
  report.duration_seconds = best->section.metadata.duration_seconds();
  for (std::size_t c = 0; c < best->section.metadata.channels.size(); ++c) report.snippet_channels += best->section.metadata.snippet_channel(c);
  std::uint64_t residuals = 0;  // every sample of every coded stream but each stream's first
  const format::Metadata& meta = best->section.metadata;
  for (const auto& channel : meta.channels)
    if (!channel.sync && channel.length > 0) residuals += channel.length - std::min<std::uint64_t>(channel.length, (channel.length + meta.chunk_samples - 1) / std::max<std::uint64_t>(meta.chunk_samples, 1));
  report.estimated_stream_bytes = static_cast<std::uint64_t>(estimated_bits_per_residual * static_cast<double>(residuals) / 8);
  return report;
}

}  // namespace

CompressReport compress(const Recording& recording, const fs::path& output, const EncodeOptions& options) {
  return compress_into(recording, &output, nullptr, options);
}

CompressReport compress_to_memory(const Recording& recording, const EncodeOptions& options, std::vector<std::uint8_t>& archive) {
  return compress_into(recording, nullptr, &archive, options);
}

}  // namespace spikey::host
