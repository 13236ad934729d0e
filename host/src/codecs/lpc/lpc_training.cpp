#include "codecs/lpc/lpc_training.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "spikey/format/chunk_payload.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/value_map.hpp"
#include "spikey/host/parallel.hpp"
#include "codecs/golomb/golomb_stream_encoder.hpp"
#include "codecs/lpc/lpc_lane_groups.hpp"
#include "codecs/training_common.hpp"

namespace spikey::host {

namespace f = spikey::format;

LevinsonResult levinson(std::span<const double> r) {
  const int n = static_cast<int>(r.size()) - 1;
  LevinsonResult out;
  out.residual_energy.push_back(r[0]);
  out.coefficients.emplace_back();
  std::vector<double> a;  // a[i] multiplies x[t-1-i]
  double error = r[0];
  for (int k = 1; k <= n; ++k) {
    if (error <= 0) {  // exactly predictable or empty: higher orders gain nothing
      out.residual_energy.push_back(0);
      out.coefficients.push_back(a);
      continue;
    }
    double acc = r[static_cast<std::size_t>(k)];
    for (int i = 0; i < k - 1; ++i) acc -= a[static_cast<std::size_t>(i)] * r[static_cast<std::size_t>(k - 1 - i)];
    const double reflection = acc / error;
    std::vector<double> next(static_cast<std::size_t>(k));
    for (int i = 0; i < k - 1; ++i)
      next[static_cast<std::size_t>(i)] = a[static_cast<std::size_t>(i)] - reflection * a[static_cast<std::size_t>(k - 2 - i)];
    next[static_cast<std::size_t>(k - 1)] = reflection;
    a = std::move(next);
    error *= (1 - reflection * reflection);
    out.residual_energy.push_back(std::max(error, 0.0));
    out.coefficients.push_back(a);
  }
  return out;
}

namespace {

using namespace training;

struct ChannelStats {
  std::vector<double> autocorrelation;  // lags 0..max_order (and 2W for sources)
  std::vector<double> signature;        // block sums of c, for source choice
  std::uint64_t samples = 0;
};

struct PairStats {
  std::vector<double> cross;  // cross[k + L] = sum_t c[t] * c_s[t + k], k in [-L, L]
};

}  // namespace

namespace {

// The least-squares predictors: history weights, and a source channel's window where it pays.
void fit_lpc_predictors(const Recording& recording, f::Metadata& meta, const PredictorTrainingOptions& options) {
  const std::size_t channels = meta.channels.size();
  const int max_order = std::clamp(options.max_order, 0, f::kMaxLpcOrder);
  const int half_window = std::min(options.source_half_window, f::kMaxSourceHalfWindow);
  const int lags = std::max(max_order, 2 * std::max(half_window, 0));

  // Training chunks: all of them, or whole chunks spread evenly when the recording is long.
  const std::vector<std::uint64_t> training_chunks = training::training_chunks(meta, options.max_training_samples);
  const std::uint64_t training_span = std::min<std::uint64_t>(meta.total_samples, training_chunks.size() * meta.chunk_samples);
  const std::uint64_t block = std::max<std::uint64_t>(16, (training_span + kSignatureBlocks - 1) / kSignatureBlocks);

  // Pass 1: autocorrelations and signatures.
  std::vector<ChannelStats> stats(channels);
  for (auto& s : stats) s.autocorrelation.assign(static_cast<std::size_t>(lags) + 1, 0);
  ordered_parallel<std::pair<f::ChunkChannels, std::vector<ChannelStats>>>(
      training_chunks.size(), options.threads, 2 * std::size_t{options.threads},
      [&](std::size_t i) {
        std::pair<f::ChunkChannels, std::vector<ChannelStats>> out;
        const auto diffs = clamped_differences(recording, meta, training_chunks[i], out.first);
        out.second.resize(diffs.size());
        for (std::size_t p = 0; p < diffs.size(); ++p) {
          const auto& c = diffs[p];
          auto& s = out.second[p];
          s.autocorrelation.assign(static_cast<std::size_t>(lags) + 1, 0);
          lagged_dots(c, c, lags, s.autocorrelation.data());
          append_block_sums(c, block, s.signature);
          s.samples = c.size();
        }
        return out;
      },
      [&](std::size_t, std::pair<f::ChunkChannels, std::vector<ChannelStats>>& partial) {
        for (std::size_t p = 0; p < partial.first.channel.size(); ++p) {
          auto& s = stats[partial.first.channel[p]];
          const auto& q = partial.second[p];
          for (std::size_t k = 0; k < s.autocorrelation.size(); ++k) s.autocorrelation[k] += q.autocorrelation[k];
          s.signature.insert(s.signature.end(), q.signature.begin(), q.signature.end());
          s.samples += q.samples;
        }
      });

  // Own-history predictors: order by description length (residual bits + stored weights).
  struct OwnFit {
    int order = 0;
    std::vector<double> coefficients;  // most recent first
    double energy = 0;
  };
  std::vector<OwnFit> own(channels);
  parallel_for(channels, options.threads, [&](std::size_t c) {
    const auto& s = stats[c];
    if (s.samples < 2 || s.autocorrelation[0] <= 0) return;
    std::vector<double> r(s.autocorrelation.begin(), s.autocorrelation.begin() + max_order + 1);
    r[0] *= 1 + 1e-9;  // ridge: keeps the system positive definite
    const auto lev = levinson(r);
    const double n = static_cast<double>(meta.channels[c].length);
    const double scale = n / static_cast<double>(s.samples);  // training energies -> whole channel
    double best_cost = 0;
    for (int k = 0; k <= max_order; ++k) {
      const double e = std::max(lev.residual_energy[static_cast<std::size_t>(k)], 1e-9);
      const double cost = 0.5 * n * std::log2(e * scale / n) + kBitsPerStoredWeight * k;
      if (k == 0 || cost < best_cost) best_cost = cost, own[c].order = k;
    }
    own[c].coefficients = lev.coefficients[static_cast<std::size_t>(own[c].order)];
    own[c].energy = lev.residual_energy[static_cast<std::size_t>(own[c].order)];
  });

  for (std::size_t c = 0; c < channels; ++c) {
    auto& p = meta.channels[c].predictor;
    p = {};
    p.lms_step = options.lms_step;
    const auto& a = own[c].coefficients;
    for (int i = 0; i < own[c].order; ++i)  // stored oldest first
      p.history_weights.push_back(quantize_weight(a[static_cast<std::size_t>(own[c].order - 1 - i)], meta.codec.weight_shift));
  }
  if (half_window < 0 || channels < 2) return;

  // Cross-channel candidates: the channel whose signature correlates best.
  std::vector<std::vector<double>> signatures(channels);
  for (std::size_t c = 0; c < channels; ++c) signatures[c] = std::move(stats[c].signature);
  const auto unit = unit_signatures(signatures, options.threads);
  const CorrelationMatrix correlation = correlate(unit, options.threads, options.correlations);
  std::vector<int> candidate(channels, -1);
  for (std::size_t c = 0; c < channels; ++c) {
    float best = kMinimumCorrelation;
    for (std::size_t s2 = 0; s2 < channels; ++s2) {
      if (s2 == c || unit[c].empty() || meta.channel_rate(c) != meta.channel_rate(s2)) continue;  // same clock only
      if (correlation(c, s2) > best) best = correlation(c, s2), candidate[c] = static_cast<int>(s2);
    }
  }

  // Pass 2: cross-correlations of each channel with its candidate.
  std::vector<char> involved(channels, 0);
  for (std::size_t c = 0; c < channels; ++c) {
    if (candidate[c] < 0) continue;
    involved[c] = 1;
    involved[static_cast<std::size_t>(candidate[c])] = 1;
  }
  const int cross_lags = max_order + half_window;
  std::vector<PairStats> pairs(channels);
  for (auto& q : pairs) q.cross.assign(static_cast<std::size_t>(2 * cross_lags + 1), 0);
  ordered_parallel<std::pair<f::ChunkChannels, std::vector<PairStats>>>(
      training_chunks.size(), options.threads, 2 * std::size_t{options.threads},
      [&](std::size_t i) {
        std::pair<f::ChunkChannels, std::vector<PairStats>> out;
        const auto diffs = clamped_differences(recording, meta, training_chunks[i], out.first, &involved);
        out.second.resize(diffs.size());
        for (std::size_t p = 0; p < diffs.size(); ++p) {
          const int s = candidate[out.first.channel[p]];
          if (s < 0) continue;
          const auto it = std::lower_bound(out.first.channel.begin(), out.first.channel.end(), static_cast<std::uint32_t>(s));
          if (it == out.first.channel.end() || *it != static_cast<std::uint32_t>(s)) continue;
          const auto& x = diffs[p];
          const auto& y = diffs[static_cast<std::size_t>(it - out.first.channel.begin())];
          auto& cross = out.second[p].cross;
          cross.assign(static_cast<std::size_t>(2 * cross_lags + 1), 0);
          lagged_dots(y, x, cross_lags, cross.data() + cross_lags);  // k >= 0: sum y[t] x[t - k]
          std::array<double, f::kMaxLpcTaps> behind;  // cross_lags + 1 <= kMaxLpcOrder + kMaxSourceHalfWindow + 1
          lagged_dots(x, y, cross_lags, behind.data());  // k < 0: sum x[t] y[t + k]
          for (int k = 1; k <= cross_lags; ++k) cross[static_cast<std::size_t>(cross_lags - k)] = behind[static_cast<std::size_t>(k)];
        }
        return out;
      },
      [&](std::size_t, std::pair<f::ChunkChannels, std::vector<PairStats>>& partial) {
        for (std::size_t p = 0; p < partial.first.channel.size(); ++p) {
          const auto& q = partial.second[p].cross;
          auto& total = pairs[partial.first.channel[p]].cross;
          for (std::size_t k = 0; k < q.size(); ++k) total[k] += q[k];
        }
      });

  // Link channels greedily in channel order; a source never has a source itself.
  std::vector<bool> is_source(channels, false);
  const int taps_w = 2 * half_window + 1;
  for (std::size_t c = 0; c < channels; ++c) {
    const int s = candidate[c];
    if (s < 0 || is_source[c] || meta.channels[static_cast<std::size_t>(s)].predictor.source_channel() >= 0) continue;
    const int order = own[c].order;
    const auto& rc = stats[c].autocorrelation;
    const auto& rs = stats[static_cast<std::size_t>(s)].autocorrelation;
    const auto& cross = pairs[c].cross;
    if (rc[0] <= 0 || rs[0] <= 0) continue;
    // Regressors: c[t-order .. t-1] then c_s[t-W .. t+W]; target c[t].
    const auto cross_at = [&](int k) { return cross[static_cast<std::size_t>(k + cross_lags)]; };  // sum c[t] c_s[t+k]
    const std::size_t n = static_cast<std::size_t>(order + taps_w);
    std::vector<std::vector<double>> A(n, std::vector<double>(n, 0));
    std::vector<double> b(n, 0);
    const auto lag_own = [&](int i) { return -order + i; };          // time offset of regressor i (own)
    const auto lag_src = [&](int j) { return -half_window + j; };    // time offset of source regressor j
    for (int i = 0; i < order; ++i) {
      b[static_cast<std::size_t>(i)] = rc[static_cast<std::size_t>(-lag_own(i))];
      for (int j = 0; j < order; ++j) A[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] = rc[static_cast<std::size_t>(std::abs(i - j))];
      for (int j = 0; j < taps_w; ++j) {
        // sum c[t+lag_own(i)] c_s[t+lag_src(j)] = cross(lag_src(j) - lag_own(i))
        const double v = cross_at(lag_src(j) - lag_own(i));
        A[static_cast<std::size_t>(i)][static_cast<std::size_t>(order + j)] = v;
        A[static_cast<std::size_t>(order + j)][static_cast<std::size_t>(i)] = v;
      }
    }
    for (int i = 0; i < taps_w; ++i) {
      b[static_cast<std::size_t>(order + i)] = cross_at(lag_src(i));
      for (int j = 0; j < taps_w; ++j) A[static_cast<std::size_t>(order + i)][static_cast<std::size_t>(order + j)] = rs[static_cast<std::size_t>(std::abs(i - j))];
    }
    for (std::size_t i = 0; i < n; ++i) A[i][i] *= 1 + 1e-9;
    std::vector<double> x;
    if (!solve_spd(A, b, x)) continue;
    double explained = 0;
    for (std::size_t i = 0; i < n; ++i) explained += x[i] * b[i];
    const double joint_energy = std::max(rc[0] - explained, 1e-9);
    const double length = static_cast<double>(meta.channels[c].length);
    const double saved_bits = 0.5 * length * std::log2(std::max(own[c].energy, 1e-9) / joint_energy);
    if (saved_bits <= kBitsPerStoredWeight * taps_w * 2) continue;  // margin: training noise
    auto& p = meta.channels[c].predictor;
    p.history_weights.clear();
    for (int i = 0; i < order; ++i) p.history_weights.push_back(quantize_weight(x[static_cast<std::size_t>(i)], meta.codec.weight_shift));
    f::PredictorSource source;
    source.channel = s;
    for (int j = 0; j < taps_w; ++j) source.weights.push_back(quantize_weight(x[static_cast<std::size_t>(order + j)], meta.codec.weight_shift));
    p.sources = {std::move(source)};
    is_source[static_cast<std::size_t>(s)] = true;
  }
}

// Channels whose adapting weights fold to no less than their fixed ones in every trial chunk
// stop adapting (lms_step 0), as levels default and max decide from their training chunks:
// the encoder then folds them once, and the GPU's adapting pass skips them. The adapting
// weights won 11% of the wide N1 recording's streams and 0.3% of the cinpla tile's, for 0.02%
// and 0.001% of the sum of folded residuals, yet their fold was a fifth of level fast's encoding;
// on the filtered Open Ephys demo they save 2.6%, and its channels that win keep them.
void stop_adapting_where_it_loses(const Recording& recording, f::Metadata& meta, const PredictorTrainingOptions& options) {
  std::vector<char> wins(meta.channels.size(), 0);
  bool any_step = false;
  for (auto& channel : meta.channels) {
    if (channel.sync) channel.predictor.lms_step = 0;  // runs, not predicted (§6.10)
    any_step |= channel.predictor.lms_step != 0;
  }
  if (!any_step) return;
  struct ChunkCodes {
    f::ChunkChannels present;
    std::vector<std::vector<std::int32_t>> codes;
  };
  const std::vector<std::uint64_t> chunks = training::training_chunks(meta, options.adapt_trial_samples);
  training::for_each_chunk_part<ChunkCodes, std::vector<std::uint32_t>>(
      training::chunk_parts(meta, chunks, options.threads), chunks.size(), options.threads,
      [&](std::size_t i) {
        ChunkCodes chunk;
        chunk.codes = training::chunk_codes(recording, meta, chunks[i], chunk.present);
        return chunk;
      },
      [&](const training::ChunkPart& part, const ChunkCodes& chunk) {
        std::vector<std::uint32_t> won;  // channels whose adapting weights folded smaller
        codecs::for_each_lpc_lane_group(chunk.codes, chunk.present, meta, part.first, part.end,
                                        [&](lanes::LpcLaneGroup& group, const std::int32_t* const* codes, std::span<const std::size_t> positions) {
                                          if (group.model[0].lms_step == 0) return;  // a group of channels that do not adapt
                                          codecs::fold_lane_group(group, lanes::lpc_fold, codes, [&](int l, const std::uint32_t* fixed, const std::uint32_t* adapted) {
                                            if (adapted != nullptr && codecs::adapting_folds_smaller(fixed, adapted, group.n))
                                              won.push_back(chunk.present.channel[positions[static_cast<std::size_t>(l)]]);
                                          });
                                        });
        return won;
      },
      [&](const training::ChunkPart&, std::vector<std::uint32_t>& won) {
        for (const std::uint32_t c : won) wins[c] = 1;
      });
  for (std::size_t c = 0; c < meta.channels.size(); ++c)
    if (!wins[c]) meta.channels[c].predictor.lms_step = 0;
}

}  // namespace

void train_lpc_predictors(const Recording& recording, f::Metadata& meta, const PredictorTrainingOptions& options) {
  fit_lpc_predictors(recording, meta, options);
  stop_adapting_where_it_loses(recording, meta, options);
}

}  // namespace spikey::host
