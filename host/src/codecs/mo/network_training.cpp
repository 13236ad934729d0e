// Training of mo1's network stage (SPEC.md §6.8.1, the GRU projector §6.8.2): see
// train_mo_network in mo_training.hpp.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "spikey/format/codecs/stored_models.hpp"
#include "spikey/format/codecs/mo/mo_predictor.hpp"
#include "codecs/mo/mo_chunk_residuals.hpp"
#include "codecs/mo/mo_training.hpp"
#include "codecs/mo/gru_training.hpp"
#include "spikey/host/batch_encoder.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/stopwatch.hpp"
#include "codecs/mo/normal_sums.hpp"
#include "codecs/mo/relu_training.hpp"
#include "codecs/training_common.hpp"

namespace spikey::host {

namespace f = spikey::format;
using namespace training;

namespace {

constexpr std::uint64_t kMinChannelSteps = 256;      // fewer: the channel keeps the linear predictor
constexpr int kFloatEpochs = 6;
constexpr int kQuantizedEpochs = 2;
constexpr float kLearningRate = 3e-3f;
constexpr float kFineTuneRate = 1e-3f;
// Output gains tried per channel, as multiples of the one its difference spread suggests.
constexpr std::array<double, 5> kOutputGainSteps = {0.5, 0.75, 1.0, 1.25, 1.5};
// Samples per batch of the candidate passes through a batch predictor (about 100 MB of the CPU
// executor's arrays, a few chunks of a wide recording).
constexpr std::uint64_t kCostBatchSamples = std::uint64_t{1} << 24;
// The GRU trains on this many times network_samples steps (every stride-th window of them):
// with only network_samples, cinpla's level max archive came out at 3.1584 instead of 3.1674.
constexpr std::uint64_t kGruSampleFactor = 4;

// splitmix64: the same sequence on every platform, so training is deterministic for a seed.
struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float uniform(float bound) { return static_cast<float>((static_cast<double>(next() >> 11) * 0x1.0p-53 * 2 - 1) * bound); }
};

// A chunk's clamped differences (pass 1) or codes (pass 2), shared by the parts of the chunk.
struct ChunkSeries {
  f::ChunkChannels present;
  std::vector<std::vector<std::int32_t>> series;
};

// Calls visit(p, recent, accumulate, d) for every step t >= 1 of the predicted channels
// [first, end) of those present in the chunk (p: its index in `present`), in order: `recent`
// points at c[t-8 .. t-1], accumulate() gives the linear accumulator with the stored weights held
// fixed (made only when asked: the pass keeps about one step in a hundred), `d` the clamped
// difference to predict.
template <class Visit>
void for_each_step(const f::Metadata& meta, const ChunkSeries& chunk, std::size_t first, std::size_t end, Visit&& visit) {
  const f::ChunkChannels& present = chunk.present;
  const auto& diffs = chunk.series;
  std::vector<std::int32_t> history, wavelet, features(f::kMoStateSize), weights;
  std::vector<std::vector<std::int32_t>> source_buffers(f::kMaxMoSources);
  std::int32_t x[f::kMaxMoTaps];
  for (std::size_t p = first; p < end; ++p) {
    const f::ChannelInfo& channel = meta.channels[present.channel[p]];
    if (channel.sync) continue;
    const auto& d = diffs[p];
    const auto n = static_cast<std::uint32_t>(d.size());
    f::MoModel m = f::mo_model_of(channel.predictor, meta.codec);
    m.lms_step = 0;
    m.network = nullptr;
    weights = f::initial_weights(channel.predictor);
    const std::int32_t* sources[f::kMaxMoSources] = {};
    for (std::size_t s = 0; s < channel.predictor.sources.size(); ++s) {
      auto& buffer = source_buffers[s];
      buffer.assign(f::source_buffer_size(n), 0);  // as fill_source_buffer, from the source's clamped differences
      const auto wanted = static_cast<std::uint32_t>(channel.predictor.sources[s].channel);
      const auto it = std::lower_bound(present.channel.begin(), present.channel.end(), wanted);
      if (it != present.channel.end() && *it == wanted) {
        const auto& ds = diffs[static_cast<std::size_t>(it - present.channel.begin())];
        for (std::size_t t = 1; t < ds.size() && t < n + f::kMaxSourceHalfWindow; ++t) buffer[f::kMaxSourceHalfWindow + t] = ds[t];
      }
      sources[s] = buffer.data();
    }
    history.assign(f::mo_history_buffer_size(n), 0);
    wavelet.assign(static_cast<std::size_t>(m.levels) * f::wavelet_buffer_size(n) + 1, 0);
    f::mo_clear(m, n, history.data(), wavelet.data(), features.data());
    for (std::uint32_t t = 1; t < n; ++t) {
      const auto accumulate = [&] { return f::mo_accumulate(m, t, weights.data(), history.data(), features.data(), sources, x); };
      visit(p, history.data() + f::kMaxMoOrder + t - f::kNetHistory, accumulate, d[t]);
      f::mo_advance(m, n, t, d[t], history.data(), wavelet.data(), features.data());
    }
  }
}

// A kept training step: the network's integer inputs before scaling, the accumulator, the target.
struct Step {
  std::uint32_t channel = 0;
  std::int32_t inputs[f::kNetInputs] = {};  // c[t-8 .. t-1], then the clamped linear prediction
  std::int32_t acc = 0;
  std::int32_t d = 0;
};

struct Spread {
  double sum = 0, squares = 0;
  std::uint64_t count = 0;
};

// The ReLU network's float parameters quantized onto the integer network.
// Parameter k of a float network (either layout) on its integer grid, within ±limit.
template <class Layout>
std::int32_t on_integer_grid(const Layout& layout, const std::vector<float>& p, std::uint32_t k, std::int32_t limit) {
  return static_cast<std::int32_t>(std::clamp(std::lround(p[k] * layout.unit(k)), -static_cast<long>(limit), static_cast<long>(limit)));
}

// Both training runs of a projector (float epochs, then quantization-aware fine-tuning) with
// `train`, each visiting `items` samples or windows in a fresh shuffled order per epoch.
template <class Epochs, class Trainer>
void train_float_then_quantized(Epochs& run, std::size_t items, const Trainer& train, Random& random, std::vector<float>& params) {
  for (const bool quantized : {false, true}) {
    run.epochs = quantized ? kQuantizedEpochs : kFloatEpochs;
    run.rate = quantized ? kFineTuneRate : kLearningRate;
    run.quantized = quantized;
    const auto order = epoch_orders(items, run.epochs, [&] { return random.next(); });
    run.order = order;
    train(run, params);
  }
}

f::MoNetwork quantized_relu(const ReluLayout& layout, const std::vector<float>& p) {
  f::MoNetwork net;
  net.hidden = static_cast<int>(layout.hidden);
  const auto q = [&](std::uint32_t k, std::int32_t limit) { return on_integer_grid(layout, p, k, limit); };
  for (std::uint32_t j = 0; j < layout.hidden; ++j) {
    for (std::uint32_t i = 0; i < f::kNetInputs; ++i) net.w1[j][i] = q(layout.w1(j, i), f::kMaxNetWeight);
    net.b1[j] = q(layout.b1(j), f::kMaxNetHiddenBias);
    net.w2[j] = q(layout.w2(j), f::kMaxNetWeight);
  }
  net.b2 = q(layout.b2(), f::kMaxNetOutputBias);
  return net;
}

// The GRU's float parameters quantized onto the integer GRU.
f::MoNetwork quantized_gru(const GruLayout& layout, const std::vector<float>& p) {
  f::MoNetwork net;
  net.projector = f::NetProjector::kGru;
  net.hidden = static_cast<int>(layout.hidden);
  const auto q = [&](std::uint32_t k, std::int32_t limit) { return on_integer_grid(layout, p, k, limit); };
  for (std::uint32_t g = 0; g < f::kGruGates; ++g)
    for (std::uint32_t k = 0; k < layout.hidden; ++k) {
      for (std::uint32_t i = 0; i < f::kNetInputs; ++i) net.gx[g][k][i] = q(layout.gx(g, k, i), f::kMaxNetWeight);
      for (std::uint32_t j = 0; j < layout.hidden; ++j) net.gh[g][k][j] = q(layout.gh(g, k, j), f::kMaxNetWeight);
      net.gb[g][k] = q(layout.gb(g, k), f::kMaxGruBias);
    }
  for (std::uint32_t k = 0; k < layout.hidden; ++k) net.w2[k] = q(layout.w2(k), f::kMaxNetWeight);
  net.b2 = q(layout.b2(), f::kMaxNetOutputBias);
  return net;
}

}  // namespace

namespace {

constexpr std::uint64_t kNothingFitted = ~std::uint64_t{0};

// Fits the network stage with one projector into `meta` (which has none yet): trains it, then
// gives it to the channels where it saves. Returns the training chunks' total residual
// magnitude with those choices, or kNothingFitted when there was too little to train on.
std::uint64_t fit_network_stage(const Recording& recording, f::Metadata& meta, const MoTrainingOptions& options, bool gru, int hidden) {
  const std::size_t channels = meta.channels.size();
  const auto chunks = training_chunks(meta, training_samples_per_channel(meta, options.network_channel_samples, options.network_channel_samples_in_all));
  const int shift = static_cast<int>(meta.codec.weight_shift);
  PhaseParts phase_parts(options.phase_parts);

  // Pass 1: each channel's spread of differences, and every stride-th step for training (for
  // the GRU, every stride-th window of kGruWindow consecutive steps).
  std::uint64_t visited = 0;
  for (const auto& channel : meta.channels)
    if (!channel.sync) visited += std::min<std::uint64_t>(channel.length, chunks.size() * meta.chunk_samples);
  const std::uint64_t stride = std::max<std::uint64_t>(1, visited / std::max<std::uint64_t>(options.network_samples, 1));
  const std::uint64_t window_stride = std::max<std::uint64_t>(1, stride / kGruSampleFactor);
  std::vector<Spread> spread(channels);
  std::vector<Step> steps;
  // In parts of chunks, consumed in order: the steps and sums come in chunk order, then channel
  // order, whatever the split.
  using Pass1 = std::pair<std::vector<std::pair<std::uint32_t, Spread>>, std::vector<Step>>;
  const auto parts = chunk_parts(meta, chunks, options.threads);
  for_each_chunk_part<ChunkSeries, Pass1>(
      parts, chunks.size(), options.threads,
      [&](std::size_t i) {
        ChunkSeries c;
        c.series = clamped_differences(recording, meta, chunks[i], c.present);
        return c;
      },
      [&](const ChunkPart& part, const ChunkSeries& chunk) {
        Pass1 out;
        const f::ChunkChannels& present = chunk.present;
        std::vector<Spread> local;
        std::vector<std::uint64_t> seen;
        std::vector<Step> window;
        for_each_step(meta, chunk, part.first, part.end, [&](std::size_t p, const std::int32_t* recent, const auto& accumulate, std::int32_t d) {
          if (local.size() < present.channel.size()) local.resize(present.channel.size()), seen.resize(present.channel.size(), 0);
          Spread& s = local[p];
          s.sum += d;
          s.squares += double(d) * d;
          ++s.count;
          const std::uint64_t index = seen[p]++;
          if (gru ? ((index / kGruWindow + present.channel[p]) % window_stride != 0) : ((index + present.channel[p]) % stride != 0)) return;
          const std::int32_t acc = accumulate();
          Step step;
          step.channel = present.channel[p];
          std::memcpy(step.inputs, recent, sizeof(std::int32_t) * f::kNetHistory);
          step.inputs[f::kNetHistory] = f::net_clamp(f::lpc_prediction(acc, shift), f::kNetPredictionClamp);
          step.acc = acc;
          step.d = d;
          if (!gru) {
            out.second.push_back(step);
            return;
          }
          if (index % kGruWindow == 0) window.clear();  // a window starts; a channel's unfinished one is dropped
          window.push_back(step);
          if (window.size() == kGruWindow) out.second.insert(out.second.end(), window.begin(), window.end());
        });
        for (std::size_t p = part.first; p < std::min(part.end, local.size()); ++p) out.first.emplace_back(present.channel[p], local[p]);
        return out;
      },
      [&](const ChunkPart&, Pass1& part) {
        for (const auto& [c, s] : part.first) spread[c].sum += s.sum, spread[c].squares += s.squares, spread[c].count += s.count;
        steps.insert(steps.end(), part.second.begin(), part.second.end());
      });

  // Gains from each channel's spread: inputs of one standard deviation become 1.0 (256), and
  // an output of 1.0 one standard deviation of the differences.
  std::vector<std::int32_t> input_gain(channels, 0), output_gain(channels, 0);
  for (std::size_t c = 0; c < channels; ++c) {
    const Spread& s = spread[c];
    if (s.count < kMinChannelSteps) continue;
    const double mean = s.sum / static_cast<double>(s.count);
    const double sd = std::sqrt(std::max(0.0, s.squares / static_cast<double>(s.count) - mean * mean));
    if (sd < 0.5) continue;
    input_gain[c] = static_cast<std::int32_t>(std::clamp(std::lround(std::ldexp(1.0, 20) / sd), 1l, long{f::kMaxNetInputGain}));
    output_gain[c] = static_cast<std::int32_t>(std::clamp(std::lround(std::ldexp(sd, shift - 8)), 1l, long{f::kMaxNetOutputGain}));
  }

  // The training set in the network's units: x = integer input / 256, and y the linear
  // residual in units of the output (y * 256 * r / 2^S code steps).
  std::vector<float> x, y;
  for (const Step& s : steps) {
    const std::uint32_t c = s.channel;
    if (output_gain[c] == 0) continue;
    for (int i = 0; i < f::kNetInputs; ++i) x.push_back(static_cast<float>(f::net_input(s.inputs[i], input_gain[c])) / kActivationUnit);
    const double residual = s.d - std::ldexp(static_cast<double>(s.acc), -shift);
    y.push_back(static_cast<float>(residual * std::ldexp(1.0, shift) / (static_cast<double>(kActivationUnit) * output_gain[c])));
  }
  steps.clear();
  steps.shrink_to_fit();
  phase_parts.done("network: steps");
  if (y.size() < kMinChannelSteps) return kNothingFitted;

  Random random{options.network_seed};
  const float output_bound = 0.1f * std::sqrt(3.0f / static_cast<float>(hidden));
  f::MoNetwork network;
  if (gru) {
    if (y.size() < kGruWindow) return kNothingFitted;
    GruEpochs run;
    run.layout.hidden = static_cast<std::uint32_t>(hidden);
    run.x = x;
    run.y = std::span<const float>(y).first(y.size() / kGruWindow * kGruWindow);
    std::vector<float> params(run.layout.size(), 0.0f);
    const float input_bound = std::sqrt(3.0f / f::kNetInputs), state_bound = std::sqrt(3.0f / static_cast<float>(hidden));
    for (std::uint32_t g = 0; g < f::kGruGates; ++g)
      for (std::uint32_t k = 0; k < run.layout.hidden; ++k) {
        for (std::uint32_t i = 0; i < f::kNetInputs; ++i) params[run.layout.gx(g, k, i)] = random.uniform(input_bound);
        for (std::uint32_t j = 0; j < run.layout.hidden; ++j) params[run.layout.gh(g, k, j)] = random.uniform(state_bound);
      }
    for (std::uint32_t k = 0; k < run.layout.hidden; ++k) params[run.layout.w2(k)] = random.uniform(output_bound);
    const GruTrainer train = options.gru_trainer ? options.gru_trainer : GruTrainer([&](const GruEpochs& r, std::vector<float>& p) {
      train_gru_epochs_on_cpu(r, p, options.threads);
    });
    train_float_then_quantized(run, run.y.size() / kGruWindow, train, random, params);
    network = quantized_gru(run.layout, params);
  } else {
    ReluEpochs run;
    run.layout.hidden = static_cast<std::uint32_t>(hidden);
    run.x = x;
    run.y = y;
    std::vector<float> params(run.layout.size(), 0.0f);
    const float input_bound = std::sqrt(6.0f / f::kNetInputs);
    for (std::uint32_t j = 0; j < run.layout.hidden; ++j)  // unit by unit, input by input
      for (std::uint32_t i = 0; i < f::kNetInputs; ++i) params[run.layout.w1(j, i)] = random.uniform(input_bound);
    for (std::uint32_t j = 0; j < run.layout.hidden; ++j) params[run.layout.w2(j)] = random.uniform(output_bound);
    const ReluTrainer& train = options.relu_trainer ? options.relu_trainer : ReluTrainer(train_relu_epochs_on_cpu);
    train_float_then_quantized(run, y.size(), train, random, params);
    network = quantized_relu(run.layout, params);
  }

  phase_parts.done("network: epochs");

  // Pass 2: each channel's residual magnitude with the exact integer network at each candidate
  // output gain, against the linear predictor's.
  constexpr std::size_t kCandidates = kOutputGainSteps.size() + 1;  // [0]: without the network
  std::vector<std::array<std::uint64_t, kCandidates>> magnitude(channels);
  for (auto& m : magnitude) m.fill(0);
  const auto candidate_gain = [&](std::size_t c, std::size_t k) {
    return static_cast<std::int32_t>(std::clamp(std::lround(output_gain[c] * kOutputGainSteps[k - 1]), 1l, long{f::kMaxNetOutputGain}));
  };
  // In lockstep lanes, one prediction of the chunk per candidate (the decoder's arithmetic).
  // First without the network and at the nominal gain for every channel; the other gains only
  // for the channels where the nominal one saves at least half of network_min_saving: on every
  // set in ../shared/data each channel that took the network saved at least 0.77% at the
  // nominal gain (the rest never reached 1% at any gain), and most channels stop after two of
  // the six predictions (1024 channels: 162 go on).
  constexpr std::size_t kNominal = 3;
  static_assert(kOutputGainSteps[kNominal - 1] == 1.0);
  using Pass2 = std::vector<std::pair<std::uint32_t, std::array<std::uint64_t, kCandidates>>>;
  const auto sweep = [&](const std::vector<std::size_t>& candidates, const std::vector<char>& wanted) {
    for_each_chunk_part<ChunkSeries, Pass2>(
        parts, chunks.size(), options.threads,
        [&](std::size_t i) {
          ChunkSeries c;
          c.series = chunk_codes(recording, meta, chunks[i], c.present);
          return c;
        },
        [&](const ChunkPart& part, const ChunkSeries& chunk) {
          const f::ChunkChannels& present = chunk.present;
          const auto& codes = chunk.series;
          std::vector<std::array<std::uint64_t, kCandidates>> local(present.channel.size());
          for (auto& m : local) m.fill(0);
          for (const std::size_t k : candidates) {
            std::vector<std::size_t> items;
            for (std::size_t p = part.first; p < part.end; ++p) {
              const std::uint32_t c = present.channel[p];
              if (!meta.channels[c].sync && wanted[c] && (k == 0 || output_gain[c] != 0)) items.push_back(p);
            }
            const auto model_of = [&](std::size_t p) {
              const std::uint32_t c = present.channel[p];
              f::MoModel model = f::mo_model_of(meta.channels[c].predictor, meta.codec);
              if (k != 0) model.network = &network, model.net_input_gain = input_gain[c], model.net_output_gain = candidate_gain(c, k);
              return model;
            };
            codecs::for_each_fixed_mo_residuals(codes, present, meta, items, model_of, [&](std::size_t p, const std::int32_t* z) {
              local[p][k] = format::mo_residual_cost(z, static_cast<std::uint32_t>(codes[p].size()));
            });
          }
          Pass2 out;
          for (std::size_t p = part.first; p < part.end; ++p) out.emplace_back(present.channel[p], local[p]);
          return out;
        },
        [&](const ChunkPart&, Pass2& part) {
          for (const auto& [c, m] : part)
            for (const std::size_t k : candidates) magnitude[c][k] += m[k];
        });
  };
  // The same costs through a batch predictor (the GPU's prediction stages): whole chunks per
  // batch, one plan per candidate over the batch's samples. Integer sums: the same totals.
  const auto sweep_in_batches = [&](const std::vector<std::size_t>& candidates, const std::vector<char>& wanted) {
    for (const auto& group : training_batch_chunks(meta, chunks, kCostBatchSamples)) {
      const GatheredSamples samples = gather_chunks(recording, meta, group, options.threads, options.sample_memory);
      const std::vector<std::uint32_t> channel_of = training_stream_channels(meta, group);
      for (const std::size_t k : candidates) {
        std::vector<std::int32_t> in(channels, 0), out(channels, 0);
        if (k != 0)
          for (std::size_t c = 0; c < channels; ++c)
            if (output_gain[c] != 0) in[c] = input_gain[c], out[c] = candidate_gain(c, k);
        const NetworkCandidate candidate{k != 0 ? &network : nullptr, in, out};
        BatchPlan plan = plan_training_batch(meta, group, &candidate);
        options.batch_predictor(plan, samples);
        for (std::size_t i = 0; i < channel_of.size(); ++i) {
          const std::uint32_t c = channel_of[i];
          if (!meta.channels[c].sync && wanted[c] && (k == 0 || output_gain[c] != 0)) magnitude[c][k] += plan.streams[i].folded_sum[0];
        }
      }
    }
  };
  const auto sweep_candidates = [&](const std::vector<std::size_t>& candidates, const std::vector<char>& wanted) {
    if (options.batch_predictor)
      sweep_in_batches(candidates, wanted);
    else
      sweep(candidates, wanted);
  };
  sweep_candidates({0, kNominal}, std::vector<char>(channels, 1));
  std::vector<char> promising(channels, 0);
  bool any_promising = false;
  for (std::size_t c = 0; c < channels; ++c) {
    promising[c] = output_gain[c] != 0 &&
                   static_cast<double>(magnitude[c][kNominal]) < static_cast<double>(magnitude[c][0]) * (1 - options.network_min_saving / 2);
    any_promising = any_promising || promising[c];
  }
  std::vector<std::size_t> others;
  for (std::size_t k = 1; k < kCandidates; ++k)
    if (k != kNominal) others.push_back(k);
  if (any_promising) sweep_candidates(others, promising);

  phase_parts.done("network: gains");
  bool any = false;
  std::uint64_t total = 0;
  for (std::size_t c = 0; c < channels; ++c) {
    total += magnitude[c][0];
    if (!promising[c]) continue;
    std::size_t best = 1;
    for (std::size_t k = 2; k < kCandidates; ++k)
      if (magnitude[c][k] < magnitude[c][best]) best = k;
    if (static_cast<double>(magnitude[c][best]) >= static_cast<double>(magnitude[c][0]) * (1 - options.network_min_saving)) continue;
    meta.channels[c].predictor.network_input_gain = input_gain[c];
    meta.channels[c].predictor.network_output_gain = candidate_gain(c, best);
    total -= magnitude[c][0] - magnitude[c][best];
    any = true;
  }
  if (any) {
    meta.codec.network = network;
    meta.codec.name = f::with_network(f::codec_row(meta.codec.name), gru ? f::NetworkKind::gru : f::NetworkKind::relu).name;
  }
  return total;
}

}  // namespace

namespace {

// train_relu_epochs_on_cpu with `quantized` a constant, so the compiler drops the other case.
// One thread: a batch takes tens of microseconds, and splitting it across a team (samples for
// the forward pass, hidden units for the sums) measured 2-3x slower on 2 cores than this loop.
// kHidden: the layer's width as a constant (0: run.layout's), so that the unit loops vectorize
// whole, without scalar remainders.
template <bool kQuantized, std::uint32_t kHidden>
inline __attribute__((always_inline)) void run_relu_epochs(const ReluEpochs& run, std::vector<float>& parameters) {
  ReluLayout layout = run.layout;
  if constexpr (kHidden != 0) layout.hidden = kHidden;
  const std::size_t count = run.y.size();
  const std::uint32_t size = layout.size();
  std::vector<float> m(size, 0.0f), v(size, 0.0f), batch(size), grad(size), pre(layout.hidden), h(layout.hidden);
  std::uint64_t step = 0;
  for (int epoch = 0; epoch < run.epochs; ++epoch) {
    const std::uint32_t* order = run.order.data() + static_cast<std::size_t>(epoch) * count;
    for (std::size_t start = 0; start < count; start += kReluBatch) {
      for (std::uint32_t k = 0; k < size; ++k) batch[k] = batch_weight(parameters[k], layout.unit(k), kQuantized);
      std::fill(grad.begin(), grad.end(), 0.0f);
      const std::size_t end = std::min(count, start + kReluBatch);
      const float scale = 1.0f / static_cast<float>(end - start);
      for (std::size_t s = start; s < end; ++s) {
        // The samples come in shuffled order from megabytes of inputs: fetch ahead.
        constexpr std::size_t kAhead = 8;
        if (s + kAhead < end) {
          __builtin_prefetch(&run.x[std::size_t{order[s + kAhead]} * f::kNetInputs]);
          __builtin_prefetch(&run.y[order[s + kAhead]]);
        }
        const float* xs = &run.x[std::size_t{order[s]} * f::kNetInputs];
        const float out = relu_forward(layout, batch.data(), xs, kQuantized, pre.data(), h.data());
        relu_add_sample_gradient(layout, l1_output_gradient(out, run.y[order[s]], scale), batch.data(), pre.data(), h.data(), xs, grad.data());
      }
      ++step;
      const float correction1 = adam_correction(0.9f, step), correction2 = adam_correction(0.999f, step);
      for (std::uint32_t k = 0; k < size; ++k)
        adam_update(m[k], v[k], parameters[k], grad[k], run.rate, layout.limit(k), correction1, correction2);
    }
  }
}

// Member `member`'s contiguous share [first, end) of n items (contiguous, so that members do not
// write into the same cache lines).
std::pair<std::size_t, std::size_t> share_of(unsigned member, unsigned members, std::size_t n) {
  return {n * member / members, n * (member + 1) / members};
}

// Windows [first, end) of the batch at `start` forward and back into their gradients, with the
// width and `quantized` as constants where kHidden is given (level max's 4 units): the unit loops
// unroll and the gates' branches go.
template <std::uint32_t kHidden, bool kQuantized>
void gru_window_gradients(const GruEpochs& run, const float* batch, const std::uint32_t* order, std::size_t start, std::size_t first,
                          std::size_t end, float scale, float* scratch, float* window_gradient) {
  GruLayout layout = run.layout;
  if constexpr (kHidden != 0) layout.hidden = kHidden;
  const std::uint32_t size = layout.size();
  for (std::size_t w = first; w < end; ++w) {
    const std::size_t window = order[start + w];
    gru_window_gradient(layout, batch, &run.x[window * kGruWindow * f::kNetInputs], &run.y[window * kGruWindow], scale, kQuantized,
                        &scratch[w * layout.scratch_size()], &window_gradient[w * size]);
  }
}

}  // namespace

void train_gru_epochs_on_cpu(const GruEpochs& run, std::vector<float>& parameters, unsigned threads) {
  const GruLayout& layout = run.layout;
  const std::size_t windows = run.y.size() / kGruWindow, batches = (windows + kGruBatch - 1) / kGruBatch;
  const std::uint32_t size = layout.size();
  std::vector<float> m(size, 0.0f), v(size, 0.0f), batch(size);
  std::vector<float> window_gradient(std::size_t{kGruBatch} * size), scratch(std::size_t{kGruBatch} * layout.scratch_size());
  // A team steps through the batches together: each member sets its share of the batch's
  // weights, runs its share of the windows forward and back, then sums its share of the
  // parameters' gradients over the windows in order and takes their Adam steps.
  run_as_team(training_team_size(threads), [&](unsigned member, unsigned members, auto& sync) {
    for (int epoch = 0; epoch < run.epochs; ++epoch) {
      const std::uint32_t* order = run.order.data() + static_cast<std::size_t>(epoch) * windows;
      for (std::size_t b = 0; b < batches; ++b) {
        const std::size_t start = b * kGruBatch, count = std::min<std::size_t>(windows - start, kGruBatch);
        const float scale = 1.0f / static_cast<float>(count * (kGruWindow - kGruWarmup));
        const auto step = static_cast<std::uint64_t>(epoch) * batches + b + 1;
        const float correction1 = adam_correction(0.9f, step), correction2 = adam_correction(0.999f, step);
        const auto [first_k, end_k] = share_of(member, members, size);
        for (auto k = static_cast<std::uint32_t>(first_k); k < end_k; ++k) batch[k] = batch_weight(parameters[k], layout.unit(k), run.quantized);
        sync.arrive_and_wait();
        const auto [first_w, end_w] = share_of(member, members, count);
        const auto windows_of = layout.hidden == 4 ? (run.quantized ? gru_window_gradients<4, true> : gru_window_gradients<4, false>)
                                                   : (run.quantized ? gru_window_gradients<0, true> : gru_window_gradients<0, false>);
        windows_of(run, batch.data(), order, start, first_w, end_w, scale, scratch.data(), window_gradient.data());
        sync.arrive_and_wait();
        for (auto k = static_cast<std::uint32_t>(first_k); k < end_k; ++k) {
          float gradient = 0.0f;
          for (std::size_t w = 0; w < count; ++w) gradient += window_gradient[w * size + k];
          adam_update(m[k], v[k], parameters[k], gradient, run.rate, layout.limit(k), correction1, correction2);
        }
        sync.arrive_and_wait();  // every parameter is updated before the next batch reads it
      }
    }
  });
}

// The loop with AVX2 where the CPU has it (the same float operations in the same order: the
// compiler vectorizes only across hidden units, and fuses no multiply-adds).
__attribute__((target_clones("avx2", "default"))) void train_relu_epochs_on_cpu(const ReluEpochs& run, std::vector<float>& parameters) {
  const bool sixteen = run.layout.hidden == 16;  // level default's width
  if (run.quantized)
    sixteen ? run_relu_epochs<true, 16>(run, parameters) : run_relu_epochs<true, 0>(run, parameters);
  else
    sixteen ? run_relu_epochs<false, 16>(run, parameters) : run_relu_epochs<false, 0>(run, parameters);
}

void train_mo_network(const Recording& recording, f::Metadata& meta, const MoTrainingOptions& options) {
  meta.codec.network.reset();
  meta.codec.name = f::with_network(f::codec_row(meta.codec.name), f::NetworkKind::none).name;
  for (auto& channel : meta.channels) channel.predictor.network_input_gain = channel.predictor.network_output_gain = 0;
  const std::string& projector = options.network_projector;
  if (projector != "mlp" && projector != "gru" && projector != "best")
    throw std::invalid_argument("network projector \"" + projector + "\" is not mlp, gru or best");
  const int relu_hidden = std::clamp(options.network_hidden, 0, f::kMaxNetHidden);
  const int gru_hidden = std::clamp(options.gru_hidden, 1, f::kMaxGruHidden);
  if (relu_hidden == 0 || meta.channels.empty()) return;  // network_hidden 0: no network stage
  if (projector != "best") {
    fit_network_stage(recording, meta, options, projector == "gru", projector == "gru" ? gru_hidden : relu_hidden);
    return;
  }
  // Both, keeping the one that leaves the smaller residual magnitude (the ReLU layer on a tie:
  // it decodes faster). The GRU trains on kGruSampleFactor times the ReLU's samples, several
  // times its cost: a GRU trained on the ReLU's count first, and where that one does not beat
  // the ReLU layer, the full one is not trained. (On every set in ../shared/data the full GRU
  // won exactly where this one did; the 303 N1 channels encode 2.2 s faster at level max.)
  f::Metadata with_gru = meta;
  const std::uint64_t relu_total = fit_network_stage(recording, meta, options, false, relu_hidden);
  MoTrainingOptions probe = options;
  probe.network_samples = std::max<std::uint64_t>(1, options.network_samples / kGruSampleFactor);
  f::Metadata probed = with_gru;
  if (fit_network_stage(recording, probed, probe, true, gru_hidden) >= relu_total) return;
  const std::uint64_t gru_total = fit_network_stage(recording, with_gru, options, true, gru_hidden);
  if (gru_total < relu_total) meta = std::move(with_gru);
}

}  // namespace spikey::host
