#include "codecs/cm/cm_training.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>

#include "spikey/format/codecs/stored_models.hpp"
#include "spikey/format/codecs/cm/cm_stream.hpp"
#include "spikey/format/codecs/cm/cm_tables.hpp"
#include "spikey/format/codecs/batch/training_batch.hpp"
#include "spikey/format/value_map.hpp"
#include "codecs/mo/mo_chunk_residuals.hpp"
#include "codecs/mo/normal_sums.hpp"
#include "spikey/host/batch_encoder.hpp"
#include "spikey/host/parallel.hpp"
#include "codecs/training_common.hpp"
#include "spikey/host/stopwatch.hpp"

namespace spikey::host {

namespace f = spikey::format;

namespace {

constexpr std::size_t kMagnitudeBins = f::kCountMagnitudeBins;  // |z| histogram per class (training_batch.hpp)
constexpr std::size_t kCodeBins = f::kCountCodeBins;
constexpr std::uint64_t kMinClassCount = 200;   // fewer residuals: the class gets its default shape
constexpr double kMaxBucketMean = 40;           // a class's buckets widen until their mean |j| is below this
// Samples per batch of the counting pass through the batch stages (about 100 MB of the CPU
// executor's arrays).
constexpr std::uint64_t kCountBatchSamples = std::uint64_t{1} << 24;
constexpr std::size_t kRateCount = f::kCountRates;  // scale rates tried (count_scale_rate); the cheapest fit wins

// What training gathers: per candidate scale rate and scale class, a histogram of |z|; and a
// histogram of codes.
struct Statistics {
  std::vector<std::uint64_t> magnitudes = std::vector<std::uint64_t>(kRateCount * f::kCmClasses * kMagnitudeBins, 0);
  std::vector<std::uint64_t> codes = std::vector<std::uint64_t>(kCodeBins, 0);
  std::vector<char> adapted;  // per channel: its adapting weights were chosen in some chunk

  explicit Statistics(std::size_t channels) : adapted(channels, 0) {}
  void merge(const Statistics& other) {
    for (std::size_t i = 0; i < magnitudes.size(); ++i) magnitudes[i] += other.magnitudes[i];
    for (std::size_t i = 0; i < codes.size(); ++i) codes[i] += other.codes[i];
    for (std::size_t i = 0; i < adapted.size(); ++i) adapted[i] |= other.adapted[i];
  }
};

// A chunk's codes, as the encoder sees them.
struct ChunkCodes {
  f::ChunkChannels present;
  std::vector<std::vector<std::int32_t>> codes;
};
ChunkCodes codes_of_chunk(const Recording& recording, const f::Metadata& meta, std::uint64_t chunk) {
  ChunkCodes c;
  c.codes = training::chunk_codes(recording, meta, chunk, c.present);
  return c;
}

// Calls visit(channel, codes, residuals z[1..n-1], n, value map, adapt) for the coded channels
// [first, end) of a chunk's present ones, with the residuals the encoder codes
// (for_each_mo_residuals).
template <class Visit>
void for_each_stream(const f::Metadata& meta, const ChunkCodes& chunk, std::size_t first, std::size_t end, Visit&& visit) {
  const auto& present = chunk.present;
  codecs::for_each_mo_residuals(chunk.codes, present, meta, first, end, [&](std::size_t i, const std::int32_t* z, bool adapt) {
    visit(present.channel[i], chunk.codes[i].data(), z, static_cast<std::uint32_t>(chunk.codes[i].size()), meta.channels[present.channel[i]].value_map,
          adapt);
  });
}

// The codes of the pass's chunks [first, end), for predicting them together.
std::vector<ChunkCodes> codes_of_chunks(const Recording& recording, const f::Metadata& meta, const std::vector<std::uint64_t>& chunks,
                                        std::pair<std::size_t, std::size_t> range) {
  std::vector<ChunkCodes> joint;
  for (std::size_t i = range.first; i < range.second; ++i) joint.push_back(codes_of_chunk(recording, meta, chunks[i]));
  return joint;
}

// The same for every present channel of several chunks predicted together (their channels share
// lane groups): visit(k, ...) for chunk chunks[k].
template <class Visit>
void for_each_stream(const f::Metadata& meta, std::span<const ChunkCodes> chunks, Visit&& visit) {
  std::vector<codecs::ChunkResidualInputs> inputs;
  for (const ChunkCodes& chunk : chunks) inputs.push_back({&chunk.codes, &chunk.present, 0, chunk.present.channel.size()});
  codecs::for_each_mo_residuals(inputs, meta, [&](std::size_t k, std::size_t i, const std::int32_t* z, bool adapt) {
    const ChunkCodes& chunk = chunks[k];
    visit(k, chunk.present.channel[i], chunk.codes[i].data(), z, static_cast<std::uint32_t>(chunk.codes[i].size()),
          meta.channels[chunk.present.channel[i]].value_map, adapt);
  });
}

// Training chunks in groups predicted together (a recording of few channels).
std::vector<std::pair<std::size_t, std::size_t>> joint_chunk_groups(const f::Metadata& meta, std::size_t count, unsigned threads) {
  std::size_t coded = 0;
  for (const auto& channel : meta.channels) coded += channel.sync ? 0 : 1;
  return codecs::lane_filling_chunk_groups(count, coded, threads);
}

// One stream's codes and residuals into the statistics.
void count_stream(Statistics& stats, std::uint32_t channel, const std::int32_t* codes, const std::int32_t* residuals, std::uint32_t n, bool adapt) {
  stats.adapted[channel] |= adapt ? 1 : 0;
  for (std::uint32_t t = 0; t < n; ++t) {
    std::size_t bin = 0;
    if (f::count_code_bin(codes[t], bin)) ++stats.codes[bin];
  }
  // The candidate rates' scale chains side by side (independent, so they overlap in the CPU).
  std::int32_t scale[kRateCount];
  std::fill(std::begin(scale), std::end(scale), f::kCmScaleStart);
  for (std::uint32_t t = 1; t < n; ++t) {
    const std::int32_t z = residuals[t];
    for (std::size_t r = 0; r < kRateCount; ++r) {
      ++stats.magnitudes[f::count_magnitude_slot(r, scale[r], z)];
      scale[r] = f::cm_next_scale(scale[r], z, f::count_scale_rate(r));
    }
  }
}

void gather_chunk_part(const f::Metadata& meta, const ChunkCodes& chunk, std::size_t first, std::size_t end, Statistics& stats) {
  for_each_stream(meta, chunk, first, end, [&](std::uint32_t channel, const std::int32_t* codes, const std::int32_t* residuals, std::uint32_t n,
                                               const f::ValueMap&, bool adapt) { count_stream(stats, channel, codes, residuals, n, adapt); });
}

// ---- shapes ----

// Gaussian index g of a Gaussian with standard deviation sigma (in buckets): rho = 2^-(2^((56-g)/8))
// against exp(-1/(2 sigma^2)).
int gauss_index_for(double sigma) {
  const double exponent = std::log2(std::log2(std::exp(1.0)) / (2 * sigma * sigma));
  return static_cast<int>(std::lround(std::clamp(56 - 8 * exponent, 0.0, 255.0)));
}
// Laplace index l of exp(-|j| / b): lambda = 2^-(2^((64-l)/16)) against exp(-1/b).
int laplace_index_for(double b) {
  const double exponent = std::log2(std::log2(std::exp(1.0)) / b);
  return static_cast<int>(std::lround(std::clamp(64 - 16 * exponent, 0.0, 255.0)));
}

int shift_for_mean(double mean) {
  int shift = 0;
  while (shift < f::kCmMaxShift && mean / static_cast<double>(1 << shift) > kMaxBucketMean) ++shift;
  return shift;
}

// Mean |z| of the residuals that fall in class k: the centre of its range of running means.
double nominal_class_mean(int k) {
  const int width = k / 4 + 5, quarter = k % 4;
  const double v = std::ldexp(1.0, width - 1) * (1.0 + (quarter + 0.5) / 4.0);
  return std::max(0.05, (v - 16) / 16);
}

f::CmShape default_shape(double mean) {
  f::CmShape s;
  s.shift = static_cast<std::uint8_t>(shift_for_mean(mean));
  const double bucket_mean = std::max(0.05, mean / static_cast<double>(1 << s.shift));
  s.gauss = static_cast<std::uint8_t>(gauss_index_for(bucket_mean * 1.2533));  // sigma of a Gaussian with this mean |z|
  s.laplace = static_cast<std::uint8_t>(laplace_index_for(bucket_mean * 2));
  s.weight = 16;
  return s;
}

// log2 of every uint16 weight, once (the fit evaluates thousands of shapes per class).
const std::vector<double>& log2_of_weights() {
  static const std::vector<double> table = [] {
    std::vector<double> t(65536);
    for (std::size_t w = 0; w < t.size(); ++w) t[w] = std::log2(static_cast<double>(w));
    return t;
  }();
  return table;
}

// Every gauss and laplace parameter's component terms (cm_gauss_terms, cm_laplace_terms), built
// once per process: a fit tries thousands of shapes, each a mix of two of them.
struct ShapeTerms {
  std::vector<std::uint64_t> gauss, laplace;  // parameter p's terms at [p * kTerms, (p + 1) * kTerms)
  static constexpr std::size_t kTerms = f::kCmMaxHalfWidth + 1;
  const std::uint64_t* gauss_of(std::uint8_t p) const { return gauss.data() + p * kTerms; }
  const std::uint64_t* laplace_of(std::uint8_t p) const { return laplace.data() + p * kTerms; }
};

const ShapeTerms& shape_terms() {
  static const ShapeTerms terms = [] {
    ShapeTerms t;
    t.gauss.resize(256 * ShapeTerms::kTerms);
    t.laplace.resize(256 * ShapeTerms::kTerms);
    for (int p = 0; p < 256; ++p) {
      f::cm_gauss_terms(static_cast<std::uint8_t>(p), t.gauss.data() + static_cast<std::size_t>(p) * ShapeTerms::kTerms);
      f::cm_laplace_terms(static_cast<std::uint8_t>(p), t.laplace.data() + static_cast<std::size_t>(p) * ShapeTerms::kTerms);
    }
    return t;
  }();
  return terms;
}

// A class's histogram of |j| per bucket (the last bucket: every j beyond the widest window), its
// non-empty buckets in order with what each costs when it falls outside a shape's window.
struct BucketCounts {
  struct Bucket {
    int j = 0;
    double count = 0;
    double escape_bits = 0;
  };
  std::vector<Bucket> filled;

  explicit BucketCounts(const std::vector<double>& buckets) {
    for (std::size_t j = 0; j < buckets.size(); ++j)
      if (buckets[j] != 0) filled.push_back({static_cast<int>(j), buckets[j], 12.0 + 6.0 + std::log2(static_cast<double>(j) * 2 + 1)});
  }
};

// Bits to code the histogram with this shape, ignoring the prior.
double shape_cost(const f::CmShape& shape, const BucketCounts& buckets, std::vector<std::uint16_t>& table) {
  const std::vector<double>& log2_weight = log2_of_weights();
  const ShapeTerms& terms = shape_terms();
  const int h = f::cm_mix_shape(terms.gauss_of(shape.gauss), terms.laplace_of(shape.laplace), shape.weight, table.data());
  // In integers (the double sum it replaces was exact too: every partial sum is below 2^26).
  std::uint64_t total = table[0];
  for (int j = 1; j <= h; ++j) total += 2u * std::uint64_t{table[static_cast<std::size_t>(j)]};
  const double log_total = std::log2(static_cast<double>(total));
  double bits = 0;
  for (const BucketCounts::Bucket& b : buckets.filled) {
    if (b.j <= h) bits += b.count * (log_total - log2_weight[table[static_cast<std::size_t>(b.j)]]);
    else bits += b.count * b.escape_bits;
  }
  return bits;
}

struct FittedShape {
  f::CmShape shape;
  double bits = 0;      // to code the class's residuals with it (estimate)
  bool fitted = false;  // false: too few residuals, the default shape
};

// The best shape for a class's |z| histogram; classes with few residuals get the default
// shape of their nominal mean.
FittedShape fit_shape(const std::uint64_t* magnitudes, int k) {
  double count = 0, sum = 0;
  for (std::size_t m = 0; m < kMagnitudeBins; ++m) count += static_cast<double>(magnitudes[m]), sum += static_cast<double>(magnitudes[m]) * static_cast<double>(m);
  const bool sparse = count < kMinClassCount;
  f::CmShape best = default_shape(sparse ? nominal_class_mean(k) : sum / count);
  const int shift = best.shift;
  // Histogram of buckets |j| (as cm_bucket rounds), last entry: beyond the widest window.
  std::vector<double> buckets(f::kCmMaxHalfWidth + 2, 0);
  for (std::size_t m = 0; m < kMagnitudeBins; ++m) {
    if (magnitudes[m] == 0) continue;
    const auto j = static_cast<std::size_t>(f::cm_bucket(static_cast<std::int32_t>(m), shift));
    buckets[std::min<std::size_t>(j, buckets.size() - 1)] += static_cast<double>(magnitudes[m]);
  }
  const BucketCounts filled(buckets);
  std::vector<std::uint16_t> table(f::kCmMaxHalfWidth + 1);
  double best_bits = shape_cost(best, filled, table);
  if (sparse) return {best, best_bits, false};
  const auto consider = [&](f::CmShape s) {
    const double bits = shape_cost(s, filled, table);
    if (bits < best_bits) best_bits = bits, best = s;
  };
  // Pure Gaussians, then mixtures around the best, then coordinate steps.
  for (int g = 0; g < 256; ++g) consider({static_cast<std::uint8_t>(g), best.laplace, 0, best.shift});
  const int g0 = best.gauss;
  for (const int w : {1, 2, 4, 8, 16, 32, 64, 128, 192})
    for (int l = std::max(0, g0 - 16); l <= std::min(255, g0 + 80); l += 4)
      for (int g = std::max(0, g0 - 8); g <= std::min(255, g0 + 8); g += 2)
        consider({static_cast<std::uint8_t>(g), static_cast<std::uint8_t>(l), static_cast<std::uint8_t>(w), best.shift});
  for (bool improved = true; improved;) {
    const double before = best_bits;
    const f::CmShape center = best;
    for (const int d : {-1, 1}) {
      if (center.gauss + d >= 0 && center.gauss + d <= 255) consider({static_cast<std::uint8_t>(center.gauss + d), center.laplace, center.weight, center.shift});
      if (center.laplace + d >= 0 && center.laplace + d <= 255) consider({center.gauss, static_cast<std::uint8_t>(center.laplace + d), center.weight, center.shift});
      if (center.weight + d >= 0 && center.weight + d <= 255) consider({center.gauss, center.laplace, static_cast<std::uint8_t>(center.weight + d), center.shift});
    }
    improved = best_bits < before;
  }
  return {best, best_bits, true};
}

// ---- prior ----

// Stored prior value of a relative weight (log scale, 1/32 octave).
std::uint8_t prior_value_of(double relative) {
  const double v = f::kCmNeutralPrior + 32 * std::log2(std::max(relative, 1e-9));
  return static_cast<std::uint8_t>(std::clamp<long>(std::lround(v), 0, 255));
}

// The code-density pattern of the recording: for each candidate period P (a power of two), how
// much likelier codes of each residue are than their neighbourhood's average; the period with
// the largest estimated saving net of its cost in the archive (and of fitting noise) wins.
std::vector<std::uint8_t> fit_prior(const std::vector<std::uint64_t>& codes, std::uint32_t max_period, double& gain_bits) {
  gain_bits = 0;
  constexpr int kRadius = 8;
  std::vector<double> smooth(codes.size(), 0);
  double window = 0;
  for (int c = 0; c < kRadius && c < static_cast<int>(codes.size()); ++c) window += static_cast<double>(codes[static_cast<std::size_t>(c)]);
  for (std::size_t c = 0; c < codes.size(); ++c) {
    if (c + kRadius < codes.size()) window += static_cast<double>(codes[c + kRadius]);
    if (c > static_cast<std::size_t>(kRadius)) window -= static_cast<double>(codes[c - kRadius - 1]);
    smooth[c] = window / (2 * kRadius + 1);
  }
  double total = 0;
  for (const auto v : codes) total += static_cast<double>(v);
  std::vector<std::uint8_t> best(1, f::kCmNeutralPrior);
  if (total == 0) return best;
  double best_net = 0;
  for (std::uint32_t period = 2; period <= std::min(max_period, f::kCmMaxPriorPeriod); period *= 2) {
    std::vector<double> count(period, 0), expected(period, 0);
    for (std::size_t c = 0; c < codes.size(); ++c) {
      const std::uint32_t phase = static_cast<std::uint32_t>(static_cast<std::int64_t>(c) - f::kCountCodeOffset) & (period - 1);
      count[phase] += static_cast<double>(codes[c]);
      expected[phase] += smooth[c];
    }
    std::vector<std::uint8_t> pattern(period);
    for (std::uint32_t i = 0; i < period; ++i) pattern[i] = prior_value_of((count[i] + 0.5) / (expected[i] + 0.5));
    // Saving: log-likelihood of the codes under smooth * pattern (renormalised) against smooth.
    double gain = 0, mass = 0, smooth_mass = 0;
    for (std::size_t c = 0; c < codes.size(); ++c) {
      const std::uint32_t phase = static_cast<std::uint32_t>(static_cast<std::int64_t>(c) - f::kCountCodeOffset) & (period - 1);
      const auto weight = static_cast<double>(f::cm_prior_weight(pattern[phase]));
      if (codes[c] != 0) gain += static_cast<double>(codes[c]) * std::log2(weight);
      mass += smooth[c] * weight;
      smooth_mass += smooth[c];
    }
    gain -= total * std::log2(mass / smooth_mass);
    const double cost = static_cast<double>(period) * (8.0 + 0.5 * std::log2(std::max(2.0, total / period)));
    if (gain - cost > best_net) best_net = gain - cost, gain_bits = gain, best = std::move(pattern);
  }
  return best;
}

// What refining the prior needs from the residuals of the classes that use it (no bucket shift,
// z inside the class's window), whatever the prior's values: per prior phase the count of
// observed codes; per (class, phase of the prediction) the count of residuals whose window lies
// inside the code range (their distribution over phases depends on nothing else); and the few
// whose window crosses the code range, one by one.
struct PriorEvidence {
  struct Edge {
    int k;
    std::int32_t base, code, low, high;
  };
  std::vector<std::uint64_t> observed;  // per phase, of the interior residuals
  std::vector<std::uint64_t> interior;  // per class and phase of the prediction
  std::vector<Edge> edges;
  explicit PriorEvidence(std::size_t period) : observed(period, 0), interior(f::kCmClasses * period, 0) {}
};

void gather_prior_evidence(const f::CmTables& tables, const std::int32_t* codes, const std::int32_t* residuals, std::uint32_t n,
                           PriorEvidence& evidence) {
  const std::uint32_t period = tables.prior_mask + 1;
  std::int32_t scale = f::kCmScaleStart;
  for (std::uint32_t t = 1; t < n; ++t) {
    const std::int32_t z = residuals[t];
    const int k = f::cm_class_of(scale);
    scale = f::cm_next_scale(scale, z, tables.scale_rate);
    if (tables.shift[k] != 0) continue;
    const std::int32_t base = codes[t] - z;
    const std::int32_t h = tables.half_width[k];
    if (z < -h || z > h || f::cm_prior(tables, codes[t]) == 0) continue;
    if (f::cm_window_inside(tables, k, base)) {
      ++evidence.observed[static_cast<std::uint32_t>(codes[t]) & tables.prior_mask];
      ++evidence.interior[static_cast<std::size_t>(k) * period + (static_cast<std::uint32_t>(base) & tables.prior_mask)];
    } else {
      evidence.edges.push_back({k, base, codes[t], tables.code_low, tables.code_high});
    }
  }
}

// Observed and expected (under the current prior) counts of codes per prior phase.
void count_prior_phases(const f::CmModelTables& model, const PriorEvidence& evidence, std::vector<double>& observed, std::vector<double>& expected) {
  const std::size_t period = evidence.observed.size();
  f::CmTables tables = model.for_map(f::ValueMap{});
  observed.assign(period, 0);
  expected.assign(period, 0);
  for (std::size_t p = 0; p < period; ++p) observed[p] = static_cast<double>(evidence.observed[p]);
  const auto spread = [&](int k, std::int32_t base, double count) {  // count residuals predicted at base, over the phases of base + j
    const std::int32_t h = tables.half_width[k];
    double total = 0;
    for (std::int32_t j = -h; j <= h; ++j) total += static_cast<double>(f::cm_weight(tables, k, base, j));
    if (total == 0) return false;
    for (std::int32_t j = -h; j <= h; ++j) {
      const auto w = static_cast<double>(f::cm_weight(tables, k, base, j));
      if (w != 0) expected[static_cast<std::uint32_t>(base + j) & tables.prior_mask] += count * w / total;
    }
    return true;
  };
  for (int k = 0; k < f::kCmClasses; ++k)
    for (std::size_t b = 0; b < period; ++b) {
      const std::uint64_t count = evidence.interior[static_cast<std::size_t>(k) * period + b];
      if (count != 0) spread(k, static_cast<std::int32_t>(b), static_cast<double>(count));
    }
  for (const auto& edge : evidence.edges) {
    tables.code_low = edge.low, tables.code_high = edge.high;
    if (spread(edge.k, edge.base, 1)) observed[static_cast<std::uint32_t>(edge.code) & tables.prior_mask] += 1;
  }
}

// Refines the prior so that the model's expected code counts match the observed ones (a few
// multiplicative steps, from the residuals of about kPriorRefineSamples samples of the training
// chunks): the first estimate compares codes with their neighbourhood, which the predicted
// distribution of each sample does better.
void refine_prior(const Recording& recording, f::Metadata& meta, const std::vector<std::uint64_t>& training_chunks, unsigned threads) {
  constexpr std::uint64_t kPriorRefineSamples = 1u << 21;
  constexpr int kSteps = 2;
  const std::size_t period = meta.codec.cm_prior.size();
  if (period == 1) return;
  std::uint64_t samples = 0;
  for (const auto& channel : meta.channels) samples += std::min<std::uint64_t>(channel.length, training_chunks.size() * meta.chunk_samples);
  const std::size_t stride = std::max<std::size_t>(1, static_cast<std::size_t>(samples / kPriorRefineSamples));
  std::vector<std::uint64_t> chunks;
  for (std::size_t i = 0; i < training_chunks.size(); i += stride) chunks.push_back(training_chunks[i]);
  // The evidence depends on the shapes and the scale rate only: gathered once, per chunk, then
  // merged in chunk order (the same model for any thread count).
  std::vector<PriorEvidence> per_chunk(chunks.size(), PriorEvidence(period));
  {
    const f::CmModelTables model(meta.codec);
    auto groups = joint_chunk_groups(meta, chunks.size(), threads);
    if (groups.empty())  // a chunk each
      for (std::size_t i = 0; i < chunks.size(); ++i) groups.emplace_back(i, i + 1);
    parallel_for(groups.size(), threads, [&](std::size_t g) {
      const std::vector<ChunkCodes> joint = codes_of_chunks(recording, meta, chunks, groups[g]);
      for_each_stream(meta, std::span<const ChunkCodes>(joint), [&](std::size_t k, std::uint32_t, const std::int32_t* codes, const std::int32_t* residuals,
                                                                    std::uint32_t n, const f::ValueMap& map, bool) {
        gather_prior_evidence(model.for_map(map), codes, residuals, n, per_chunk[groups[g].first + k]);
      });
    });
  }
  PriorEvidence evidence(period);
  for (auto& part : per_chunk) {
    for (std::size_t p = 0; p < period; ++p) evidence.observed[p] += part.observed[p];
    for (std::size_t i = 0; i < part.interior.size(); ++i) evidence.interior[i] += part.interior[i];
    evidence.edges.insert(evidence.edges.end(), part.edges.begin(), part.edges.end());
    part = PriorEvidence(0);
  }
  std::vector<double> observed, expected;
  for (int step = 0; step < kSteps; ++step) {
    count_prior_phases(f::CmModelTables(meta.codec), evidence, observed, expected);
    // New log weights, shifted so that their observed-weighted mean stays neutral (the scale is free).
    std::vector<double> refined(period);
    double weighted = 0, mass = 0;
    for (std::size_t p = 0; p < period; ++p) {
      refined[p] = std::log2(static_cast<double>(f::cm_prior_weight(meta.codec.cm_prior[p])) * (observed[p] + 0.5) / (expected[p] + 0.5) /
                             f::kCmNeutralPriorWeight);
      weighted += refined[p] * observed[p], mass += observed[p];
    }
    if (mass == 0) return;
    for (std::size_t p = 0; p < period; ++p) meta.codec.cm_prior[p] = prior_value_of(std::exp2(refined[p] - weighted / mass));
  }
}

}  // namespace

double train_cm_model(const Recording& recording, f::Metadata& meta, const CmTrainingOptions& options) {
  const std::vector<std::uint64_t> chunks =
      training::training_chunks(meta, training::training_samples_per_channel(meta, options.samples_per_channel, options.samples_in_all));

  // Counts, so any split of the work adds up to the same statistics: parts of chunks (for
  // recordings with more threads than training chunks), each into a pooled Statistics; or
  // batches of whole chunks through the batch stages.
  Statistics total(meta.channels.size());
  if (options.context_counts) {
    for (const auto& group : training_batch_chunks(meta, chunks, kCountBatchSamples)) {
      const GatheredSamples samples = gather_chunks(recording, meta, group, options.threads, options.sample_memory);
      BatchPlan plan = plan_training_batch(meta, group, nullptr);
      const std::vector<std::uint32_t> channel_of = training_stream_channels(meta, group);
      ContextCounts counts;
      for (const std::uint32_t c : channel_of) counts.counted.push_back(meta.channels[c].sync ? 0 : 1);  // as for_each_mo_residuals
      options.context_counts(plan, samples, counts);
      if (counts.magnitudes.size() != total.magnitudes.size() || counts.codes.size() != total.codes.size())
        throw std::logic_error("the context-count executor returned histograms of the wrong size");
      for (std::size_t k = 0; k < total.magnitudes.size(); ++k) total.magnitudes[k] += counts.magnitudes[k];
      for (std::size_t k = 0; k < total.codes.size(); ++k) total.codes[k] += counts.codes[k];
      for (std::size_t i = 0; i < plan.streams.size(); ++i)
        if (counts.counted[i] && plan.streams[i].adapt) total.adapted[channel_of[i]] = 1;
    }
  }
  std::mutex mutex;
  std::vector<std::unique_ptr<Statistics>> pool;  // a few, reused: each is 26 MB of histograms
  const auto take_statistics = [&] {
    {
      const std::lock_guard lock(mutex);
      if (!pool.empty()) {
        auto stats = std::move(pool.back());
        pool.pop_back();
        return stats;
      }
    }
    return std::make_unique<Statistics>(meta.channels.size());
  };
  const auto give_back = [&](std::unique_ptr<Statistics> stats) {
    const std::lock_guard lock(mutex);
    pool.push_back(std::move(stats));
  };
  // Counts, so groups of chunks predicted together add up to the same statistics too.
  const auto groups = options.context_counts ? std::vector<std::pair<std::size_t, std::size_t>>{} : joint_chunk_groups(meta, chunks.size(), options.threads);
  parallel_for(groups.size(), options.threads, [&](std::size_t g) {
    const std::vector<ChunkCodes> joint = codes_of_chunks(recording, meta, chunks, groups[g]);
    auto stats = take_statistics();
    for_each_stream(meta, std::span<const ChunkCodes>(joint), [&](std::size_t, std::uint32_t channel, const std::int32_t* codes,
                                                                  const std::int32_t* residuals, std::uint32_t n, const f::ValueMap&, bool adapt) {
      count_stream(*stats, channel, codes, residuals, n, adapt);
    });
    give_back(std::move(stats));
  });
  struct Done {};
  training::for_each_chunk_part<ChunkCodes, Done>(
      options.context_counts || !groups.empty() ? std::vector<training::ChunkPart>{} : training::chunk_parts(meta, chunks, options.threads),
      chunks.size(), options.threads,
      [&](std::size_t i) { return codes_of_chunk(recording, meta, chunks[i]); },
      [&](const training::ChunkPart& part, const ChunkCodes& chunk) {
        auto stats = take_statistics();
        gather_chunk_part(meta, chunk, part.first, part.end, *stats);
        give_back(std::move(stats));
        return Done{};
      },
      [](const training::ChunkPart&, Done&) {});
  for (const auto& stats : pool) total.merge(*stats);
  // Channels whose adapting weights lost in every training chunk stop adapting: the encoder
  // then predicts them once instead of both ways (their adapt flag is always 0).
  for (std::size_t c = 0; c < meta.channels.size(); ++c)
    if (!total.adapted[c]) meta.channels[c].predictor.lms_step = 0;

  // Shapes for every candidate rate; the rate whose fitted shapes code the residuals cheapest wins.
  std::vector<FittedShape> fitted(kRateCount * f::kCmClasses);
  parallel_for(fitted.size(), options.threads, [&](std::size_t i) {
    fitted[i] = fit_shape(total.magnitudes.data() + i * kMagnitudeBins, static_cast<int>(i % f::kCmClasses));
  });
  std::size_t best_rate = 0;
  double best_bits = std::numeric_limits<double>::infinity();
  for (std::size_t r = 0; r < kRateCount; ++r) {
    double bits = 0;
    for (int k = 0; k < f::kCmClasses; ++k) bits += fitted[r * f::kCmClasses + static_cast<std::size_t>(k)].bits;
    if (bits < best_bits) best_bits = bits, best_rate = r;
  }
  meta.codec.cm_scale_rate = static_cast<std::uint32_t>(f::count_scale_rate(best_rate));
  // Stored: the run of classes from the first to the last fitted one; the classes outside it
  // follow from its ends (cm_complete_shapes).
  const FittedShape* rate_shapes = fitted.data() + best_rate * f::kCmClasses;
  int first = f::kCmClasses, last = -1;
  for (int k = 0; k < f::kCmClasses; ++k)
    if (rate_shapes[k].fitted) first = std::min(first, k), last = std::max(last, k);
  if (last < 0) first = last = f::cm_class_of(f::kCmScaleStart);
  std::vector<f::CmShape> stored;
  for (int k = first; k <= last; ++k) stored.push_back(rate_shapes[k].shape);
  meta.codec.cm_first_class = static_cast<std::uint32_t>(first);
  meta.codec.cm_stored_classes = static_cast<std::uint32_t>(stored.size());
  meta.codec.cm_shapes = f::cm_complete_shapes(stored, meta.codec.cm_first_class);
  double prior_gain = 0;
  meta.codec.cm_prior = fit_prior(total.codes, options.max_prior_period, prior_gain);
  refine_prior(recording, meta, chunks, options.threads);

  // The estimate: the fitted shapes' bits, the raw low bits of shifted classes, less the prior's
  // first estimate of its gain, per residual of the training chunks.
  double bits = 0, residuals = 0;
  for (int k = 0; k < f::kCmClasses; ++k) {
    const std::uint64_t* histogram = total.magnitudes.data() + (best_rate * f::kCmClasses + static_cast<std::size_t>(k)) * kMagnitudeBins;
    double count = 0;
    for (std::size_t m = 0; m < kMagnitudeBins; ++m) count += static_cast<double>(histogram[m]);
    bits += rate_shapes[k].bits + count * rate_shapes[k].shape.shift;
    residuals += count;
  }
  return residuals > 0 ? std::max(0.0, bits - prior_gain) / residuals : 0;
}

void train_context_model(const Recording& recording, f::Metadata& meta, const EncodeOptions& options, std::uint32_t max_prior_period,
                         Model& model) {
  if (options.progress) options.progress("train", 0, 1);
  CmTrainingOptions cm = options.cm_training;
  cm.threads = options.threads;
  cm.max_prior_period = std::min(cm.max_prior_period, max_prior_period);
  const Stopwatch phase;
  model.estimated_bits_per_residual = train_cm_model(recording, meta, cm);
  model.training_seconds.emplace_back("context_model", phase.seconds());
}

}  // namespace spikey::host
