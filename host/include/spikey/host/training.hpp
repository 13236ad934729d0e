// What the encoder learns from a recording, and the options that steer it: the predictors of
// codec lpc1 (level fast), the topology, predictors and network stage of the MiddleOut codecs
// (level default), the context model of the cm codecs (level max). The trainers themselves are
// internal to each codec family (host/src/codecs/).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/host/recording.hpp"

namespace spikey::host {

// The correlations of the channels' activity signatures (format/codecs/batch/training_batch.hpp,
// stage C), which choose related channels (the topology; lpc1's source), handed to an executor:
// the CUDA one when a GPU is used. `unit` holds `channels` unit signatures of `length` floats one
// after another; the executor fills `upper` with |signature_dot| of every pair (c, s), c < s,
// row c after row c - 1 (format::signature_pair_index). Every executor gives the same bits.
struct SignatureCorrelations {
  std::uint32_t channels = 0;
  std::uint64_t length = 0;
  std::vector<float> unit;
  std::vector<float> upper;
};
using CorrelationRunner = std::function<void(SignatureCorrelations& correlations)>;

// lpc1 (SPEC.md §6.6): floating-point least squares, then quantized weights.
struct PredictorTrainingOptions {
  int max_order = 16;               // history taps, 0..format::kMaxLpcOrder (32 gains <= 0.3% here, at half the speed)
  int source_half_window = 2;       // cross-channel window t-W..t+W, or -1 to disable
  std::int32_t lms_step = 2;        // every predictor's, where adapting weights win in a trial chunk
  std::uint64_t max_training_samples = 1u << 19;  // per channel; whole chunks spread over the recording
  // Per channel: the whole chunks (at least one) in which adapting weights are tried against
  // fixed ones; a channel whose adapting weights win in none of them stops adapting.
  std::uint64_t adapt_trial_samples = 1u << 15;
  unsigned threads = 1;
  CorrelationRunner correlations;  // empty: on the CPU (the same bits)
};

// MiddleOut codecs (SPEC.md §6.7-§6.8).
// Undirected channel graph: for each channel its neighbours, strongest first, weighted by the
// |correlation| of their activity (block sums of code differences). Computed once per implant
// and reusable across recordings of it (`spikey topology`).
struct Topology {
  struct Edge {
    std::uint32_t channel = 0;
    float weight = 0;
  };
  std::vector<std::vector<Edge>> neighbours;

  void save(const std::filesystem::path& path) const;  // JSON
  static Topology load(const std::filesystem::path& path);  // throws std::runtime_error
};

// One training run of the network stage's projectors, handed to a trainer (the CUDA trainers
// when a GPU is used); the runs are defined with the training math (codecs/mo/relu_training.hpp,
// gru_training.hpp).
struct ReluEpochs;
struct GruEpochs;
using ReluTrainer = std::function<void(const ReluEpochs& run, std::vector<float>& parameters)>;
using GruTrainer = std::function<void(const GruEpochs& run, std::vector<float>& parameters)>;
// The least-squares sums of the MiddleOut predictors' training pass for a batch of (channel,
// training chunk) streams (codecs/mo/normal_sums.hpp, format/codecs/batch/training_batch.hpp),
// handed to an executor: the CUDA one when a GPU is used. Every executor gives the same exact
// integer sums, so the same weights.
struct NormalSumsBatch;
using NormalSumsRunner = std::function<void(NormalSumsBatch& batch)>;
// Stages 1-3 of the batch encoder (prediction only) on a plan of training chunks: fills every
// stream's folded_sum (host/batch_encoder.hpp: predict_batch_on_cpu, or the CUDA encoder's
// predict). The network stage's candidate passes run through it when it is set.
struct BatchPlan;
using BatchPredictor = std::function<void(BatchPlan& plan, std::span<const std::int16_t> samples)>;
// The context model's training counts (format/codecs/batch/training_batch.hpp, stage K) of a
// plan of training chunks, after the prediction stages: host::count_context_on_cpu, or the CUDA
// encoder's count_context.
struct ContextCounts;
using ContextCountsRunner = std::function<void(BatchPlan& plan, std::span<const std::int16_t> samples, ContextCounts& counts)>;
// The topology's activity signatures (training_batch.hpp, stage B) of a plan of training
// chunks: every stream's sums of clamped differences over blocks of `block` samples, stream
// after stream (offset: per stream, plus one past the end).
struct BlockSums {
  std::uint64_t block = 16;
  std::vector<std::uint64_t> offset;
  std::vector<std::int64_t> sums;
};
using BlockSumsRunner = std::function<void(BatchPlan& plan, std::span<const std::int16_t> samples, BlockSums& sums)>;

struct MoTrainingOptions {
  int max_order = 16;            // history taps, 0..kMaxMoOrder
  int max_sources = 3;           // 0 disables message passing between channels
  // Levels of the decoding order (chains of sources): the decoder's lanes fill only when each
  // level holds many channels, so wide recordings need short chains.
  int max_depth = 1 << 20;
  int half_window = 2;           // W of source windows, 0..kMaxMoHalfWindow
  // Wavelet feature levels, 0 disables them; -1: the level's choice (none at level default,
  // where they never saved 0.01% on the test sets but took a sixth of the encode time; 3 at
  // level max).
  int wavelet_levels = -1;
  int topology_neighbours = 8;   // neighbours kept per channel in a computed topology
  std::int32_t lms_step = 2;
  // Wavelet features cost about half the decoder's speed, so a channel uses them only when they
  // are predicted to save at least this share of its bits (measured gains on the test sets:
  // at most 0.015%).
  double wavelet_min_saving = 0.005;
  std::uint64_t max_training_samples = 1u << 17;  // per channel
  // ... and at most about this many in all channels together (each channel's share, never less
  // than one training chunk): a recording of a thousand channels needs no more per channel to
  // fit its predictors than one of a hundred, and without a total its training would cost more
  // than encoding it (training_samples_per_channel).
  std::uint64_t max_training_samples_in_all = 1u << 25;
  // The network stage (§6.8.1): hidden units of its ReLU layer (0: no network stage), the seed
  // of its training, the samples it trains on (all channels together) and the share of a
  // channel's residual magnitude it must save for the channel to use it: the network costs
  // decode time (16 units: about a third more per channel-sample in the lockstep kernel), so
  // channels where it saves little (1% of magnitude is about 0.015 bits a sample) go without.
  int network_hidden = 16;
  // The projector: a ReLU layer of network_hidden units ("mlp"), a GRU cell of gru_hidden
  // units ("gru", codecs mo3/cm3, §6.8.2) whose state carries through the chunk, or "best":
  // both trained, keeping the one that saves more on the training chunks. Empty: the level's
  // choice (mlp at level default, where decode speed matters; best at level max). A GRU of 4
  // costs the scalar decoder of level max about what the ReLU layer of 16 does; in the lockstep
  // decoder of level default it is several times slower.
  std::string network_projector;
  int gru_hidden = 4;
  std::uint64_t network_seed = 1;
  std::uint64_t network_samples = 1u << 18;
  // Each channel's samples for the network's gains and choices (whole training chunks), at most
  // network_channel_samples, and at most about network_channel_samples_in_all in all.
  std::uint64_t network_channel_samples = 1u << 15;
  std::uint64_t network_channel_samples_in_all = 1u << 23;
  double network_min_saving = 0.01;
  unsigned threads = 1;
  // Run the projectors' training epochs: the CUDA trainers when a GPU is used; empty: on the
  // CPU. Both give the same weights, bit for bit (relu_training.hpp, gru_training.hpp).
  ReluTrainer relu_trainer;
  GruTrainer gru_trainer;
  // Run the least-squares pass in batches through this executor; empty: the trainer's own CPU
  // pass (column-wise, vectorized), which gives the same sums.
  NormalSumsRunner normal_sums;
  CorrelationRunner correlations;  // the topology's; empty: on the CPU (the same bits)
  BlockSumsRunner block_sums;      // the topology's signatures; empty: on the CPU (the same sums)
  // The network stage's candidate gains: each channel's fixed-weight residual cost over the
  // training chunks with the network at each candidate gain; empty: the lockstep kernels here.
  BatchPredictor batch_predictor;
  // Where the batches for those executors are gathered (theirs: page-locked memory they upload
  // from directly); null: the heap.
  std::shared_ptr<HostMemoryPool> sample_memory;
  // When set, the parts of each training phase are timed into it ("topology: signatures",
  // "predictors: sums", "network: epochs", ...), so a run shows where its backend spends them.
  std::vector<std::pair<std::string, double>>* phase_parts = nullptr;
};

// The recording's topology for the MiddleOut codecs (`spikey topology`), from the surveyed
// metadata (channels, value maps, chunking).
Topology compute_topology(const Recording& recording, const format::Metadata& meta, const MoTrainingOptions& options);

// cm codecs (SPEC.md §6.9): the context model from the residuals of the MiddleOut predictors.
struct CmTrainingOptions {
  // Samples of each channel looked at (whole chunks spread over the recording), whatever its
  // length. Rare large-scale events decide the shapes of the widest classes: with 2^16, level
  // max lost 0.04% on the 10 s Open Ephys set against looking at all of it.
  std::uint64_t samples_per_channel = 1u << 19;
  // ... and at most about this many in all (each channel's share, never less than one chunk):
  // the model is one per recording, and with hundreds of channels a share of 2^15 or so gives
  // the same shapes and prior (the 303 N1 channels: 3.51575 with 2^19 each, 3.51582 with 40000).
  std::uint64_t samples_in_all = 1u << 23;
  std::uint32_t max_prior_period = 1024;  // the mt codecs' tables allow at most 256
  unsigned threads = 1;
  // The counting pass through the batch stages (the GPU's when one is used); empty: the lockstep
  // kernels here. Both give the same counts.
  ContextCountsRunner context_counts;
  std::shared_ptr<HostMemoryPool> sample_memory;  // where its batches are gathered; null: the heap
};

}  // namespace spikey::host
