// CPU reference encoder: value-map selection, chunk encoding and the whole compress run
// (write under a temporary name, verify with the reference decoder, rename).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/memory_pool.hpp"
#include "spikey/host/training.hpp"

namespace spikey::host {

// Running facts about one channel's values, enough to choose its value map (SPEC.md §5.2).
struct ValueSurvey {
  bool any = false;
  bool n1_exact = true;      // every value survives the N1 10-bit map
  std::int32_t first = 0;    // first value seen
  std::uint32_t gcd = 0;     // gcd of |value - first| over all values
  std::int32_t min = 0;
  std::int32_t max = 0;

  void add(std::span<const std::int16_t> values);
  void merge(const ValueSurvey& other);
};

// The exact map with the smallest code range; ties go to the simpler map.
format::ValueMap choose_value_map(const ValueSurvey& survey);

struct BatchPlan;  // batch_encoder.hpp
// A batch executor's packed words. Not zero-filled when they are merged or copied: a batch's
// words are tens of megabytes, written once. The CUDA executor's come from its pool of
// page-locked memory, downloaded straight into place.
using BatchWords = std::vector<std::uint32_t, PoolAllocator<std::uint32_t>>;

// The default chunk length is one second, and at least this many samples where a second holds
// fewer: every chunk pays for its header, index entry, stream checks and coder states and starts
// its adapting predictors afresh, so 1-second chunks of a 200 Hz Spike2 channel (201 samples)
// made its archive 13% larger than 20-second ones, and of a 1 kHz Blackrock .ns2 5% larger than
// 4096-sample ones (bench/RESULTS.md, 2026-12-07); longer chunks gained no more than 0.3%.
inline constexpr std::uint64_t kDefaultMinChunkSamples = 4096;

struct EncodeOptions {
  std::string level = "default";
  std::string codec;  // empty: the level's codec (codec_for_level); rice1 stays writable for tests
  double chunk_seconds = 1.0;
  // Chunks hold at least this many samples (the default chunk length's floor,
  // kDefaultMinChunkSamples, where the user did not choose chunk_seconds); 0: chunk_seconds exactly.
  std::uint64_t min_chunk_samples = 0;
  unsigned threads = 1;
  bool verify = true;
  bool overwrite = false;
  std::uint32_t partition_size = 0;  // 0: the codec's default (codec table)
  PredictorTrainingOptions training;  // lpc1; its thread count follows `threads`
  MoTrainingOptions mo_training;      // mo1 and cm1; its thread count follows `threads`
  CmTrainingOptions cm_training;      // cm1's context model; its thread count follows `threads`
  // The trainers see the recording in training chunks of chunk_samples, or, when one chunk of
  // every coded channel would pass this many samples, of each channel's share (at least
  // kMinTrainingWindow): with a thousand channels, one whole chunk each is more than the
  // passes need, and training would cost more than encoding (training::training_window).
  std::uint64_t training_window_in_all = 1u << 23;
  std::shared_ptr<const Topology> topology;  // mo1: reuse this instead of computing one
  std::shared_ptr<const struct Model> model;  // encode with this instead of training (and racing)
  // Batch backend (lpc1, mo1, mo2, mo3): when set, chunks are encoded in batches by this
  // executor (the CUDA encoder, or run_batch_on_cpu) instead of chunk by chunk; each batch's
  // buffers stay within batch_memory_bytes (at least one chunk per batch).
  std::function<BatchWords(BatchPlan&, std::span<const std::int16_t>)> batch_executor;
  std::uint64_t batch_memory_bytes = 1ull << 30;
  // Where the batches' samples are gathered (the executor's pool, whose memory it uploads from
  // directly); null: the heap. (The trainers' batches: their options' sample_memory.)
  std::shared_ptr<HostMemoryPool> batch_sample_memory;
  std::string backend = "cpu";  // reported only
  // How the metadata section is split into zstd frames (SPEC §3.3); tests split small ones.
  format::MetadataFrameOptions metadata_frames;
  std::function<void(const std::string& stage, std::uint64_t done, std::uint64_t total)> progress;
};

// Sets the predictors' architecture from a JSON file (keys max_order, max_sources,
// source_half_window, wavelet_levels, topology_neighbours, lms_step, training_samples,
// training_samples_in_all, training_window_in_all, max_depth, network_hidden, network_projector,
// gru_hidden, network_seed, network_min_saving, network_samples, network_channel_samples,
// network_channel_samples_in_all, context_training_samples, context_training_samples_in_all,
// max_prior_period, partition_size, metadata_first_frame_verbatim, metadata_frame). Unknown keys
// and values out of range are std::invalid_argument, so a typo never falls back to a default.
void apply_model_config(const std::filesystem::path& path, EncodeOptions& options);

// The codec a level writes (one: no level races codecs any more). fast: lpc1; default: mt1
// (mt2/mt3 when training gives channels the network stage); max: cm1 (likewise cm2/cm3).
// Throws std::invalid_argument for an unknown level.
std::vector<std::string> level_codecs(const std::string& level);
std::string codec_for_level(const std::string& level);  // the first of level_codecs

struct EncodedChunk {
  std::vector<std::uint8_t> payload;
  std::uint64_t samples_checksum = 0;
};

// Encodes one chunk from its gathered samples (Recording::gather layout) with the codec,
// value maps and predictors of `meta`; its channels in parts across `threads` (the same bytes
// for any count).
EncodedChunk encode_chunk(std::span<const std::int16_t> samples, const format::ChunkChannels& present, const format::Metadata& meta,
                          unsigned threads = 1);

struct CompressReport {
  std::uint64_t original_bytes = 0;
  std::uint64_t archive_bytes = 0;
  std::uint64_t sources = 0;
  std::uint64_t channels = 0;
  std::uint64_t snippet_channels = 0;  // of them, spike waveforms (no time axis, SPEC §4.2)
  std::uint64_t chunks = 0;
  double duration_seconds = 0;  // of the recording (its time series)
  double encode_seconds = 0;    // survey + encode + write
  double verify_seconds = 0;    // 0 when not verified
  // Where encode_seconds went: survey, each training phase (Model::training_seconds), chunks
  // (encoding and writing them), in order.
  std::vector<std::pair<std::string, double>> phase_seconds;
  bool verified = false;
  std::string backend;            // "cpu", or EncodeOptions::backend when the batch executor encoded the chunks
  std::uint64_t batch_chunks = 0;  // chunks of the archive encoded by EncodeOptions::batch_executor
  std::string codec;  // what the archive uses
  // Training's estimate of the bytes of the archive's residual streams (context-modelled
  // codecs; 0: none), to compare with archive_bytes: the encoder chooses from such estimates.
  std::uint64_t estimated_stream_bytes = 0;
  std::uint64_t value_map_counts[3] = {0, 0, 0};  // channels per ValueMapKind
};

// Thrown when verify-after-encode finds a difference; the archive is not kept.
class VerifyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The recording's metadata before any model: sources and their verbatim bytes, channels,
// value maps (one pass over the data), chunking. `value_map_counts` (3 entries) counts maps.
format::MetadataSection survey_recording(const Recording& recording, const EncodeOptions& options, std::uint64_t* value_map_counts = nullptr);

// Trains `codec`'s predictors on the surveyed recording.
struct Model train_model(const Recording& recording, const format::MetadataSection& surveyed, const std::string& codec,
                         const EncodeOptions& options);

// Verify-after-encode, in one decoding pass: every decoded chunk is compared with the input
// (throwing VerifyError naming the first differing chunk, channel, sample, expected and decoded
// value) while every source file is rebuilt and checked against the original's checksum.
void verify_against_input(const format::ArchiveReader& reader, const Recording& recording, const EncodeOptions& options);

// Compresses `recording` into `output`. The archive appears under its final name only when
// complete and (unless disabled) verified: every chunk decoded by the reference decoder
// equals the input samples, and every rebuilt file matches the original's checksum.
CompressReport compress(const Recording& recording, const std::filesystem::path& output, const EncodeOptions& options);
// The same into memory: `archive` receives the archive's bytes once it is complete and verified
// (the Zarr codec, which hands each chunk's archive to Zarr and never writes a file).
CompressReport compress_to_memory(const Recording& recording, const EncodeOptions& options, std::vector<std::uint8_t>& archive);

}  // namespace spikey::host
