#include "codecs/mo/mo_training.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <stdexcept>

#include "spikey/format/codecs/mo/mo_predictor.hpp"
#include "spikey/format/codecs/mo/wavelet_features.hpp"
#include "spikey/host/batch_encoder.hpp"
#include "spikey/host/output_file.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/stopwatch.hpp"
#include "codecs/mo/normal_sums.hpp"
#include "codecs/training_common.hpp"

namespace spikey::host {

namespace f = spikey::format;
using namespace training;

namespace {
// Samples per batch of the least-squares pass through an executor (NormalSumsBatch): about
// 100 MB of the CPU executor's arrays, a few chunks of a wide recording.
constexpr std::uint64_t kNormalBatchSamples = std::uint64_t{1} << 24;
}  // namespace

// ---- topology -------------------------------------------------------------------------------

void Topology::save(const std::filesystem::path& path) const {
  nlohmann::json j;
  j["format"] = "spikey topology";
  j["version"] = 1;
  nlohmann::json channels = nlohmann::json::array();
  for (const auto& list : neighbours) {
    nlohmann::json edges = nlohmann::json::array();
    for (const auto& e : list) edges.push_back({{"channel", e.channel}, {"weight", e.weight}});
    channels.push_back(edges);
  }
  j["neighbours"] = channels;
  const std::string text = j.dump(1);
  OutputFile out(path, true);
  out.write({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  out.commit();
}

Topology Topology::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read topology " + path.string());
  const auto j = nlohmann::json::parse(in, nullptr, false);
  const auto bad = [&](const std::string& why) { return std::runtime_error("topology " + path.string() + ": " + why); };
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != "spikey topology") throw bad("not a spikey topology file");
  if (!j.contains("neighbours") || !j["neighbours"].is_array()) throw bad("no neighbour lists");
  Topology t;
  for (const auto& list : j["neighbours"]) {
    if (!list.is_array()) throw bad("a neighbour list is not an array");
    std::vector<Edge> edges;
    for (const auto& e : list) {
      if (!e.is_object() || !e.contains("channel") || !e["channel"].is_number_unsigned() || !e.contains("weight") || !e["weight"].is_number())
        throw bad("an edge is not {channel, weight}");
      edges.push_back({e["channel"].get<std::uint32_t>(), e["weight"].get<float>()});
    }
    t.neighbours.push_back(std::move(edges));
  }
  for (std::size_t c = 0; c < t.neighbours.size(); ++c)
    for (const auto& e : t.neighbours[c])
      if (e.channel >= t.neighbours.size() || e.channel == c) throw bad("channel " + std::to_string(c) + " has an invalid neighbour");
  return t;
}

Topology compute_topology(const Recording& recording, const f::Metadata& meta, const MoTrainingOptions& options) {
  const std::size_t channels = meta.channels.size();
  const auto chunks = training_chunks(meta, training_samples_per_channel(meta, options.max_training_samples, options.max_training_samples_in_all));
  const std::uint64_t span = std::min<std::uint64_t>(meta.total_samples, chunks.size() * meta.chunk_samples);
  const std::uint64_t block = std::max<std::uint64_t>(16, (span + kSignatureBlocks - 1) / kSignatureBlocks);
  std::vector<std::vector<double>> signatures(channels);
  PhaseParts parts(options.phase_parts);
  if (options.block_sums) {
    // Through the executor, in batches of whole chunks: the same exact sums, appended in chunk order.
    for (const auto& group : training_batch_chunks(meta, chunks, kNormalBatchSamples)) {
      const GatheredSamples samples = gather_chunks(recording, meta, group, options.threads, options.sample_memory);
      BatchPlan plan = plan_training_batch(meta, group, nullptr);
      BlockSums sums;
      sums.block = block;
      options.block_sums(plan, samples, sums);
      if (sums.offset.size() != plan.streams.size() + 1 || sums.sums.size() != sums.offset.back())
        throw std::logic_error("the block-sum executor returned the wrong number of sums");
      const std::vector<std::uint32_t> channel_of = training_stream_channels(meta, group);
      for (std::size_t stream = 0; stream < channel_of.size(); ++stream) {
        auto& signature = signatures[channel_of[stream]];
        for (std::uint64_t k = sums.offset[stream]; k < sums.offset[stream + 1]; ++k) signature.push_back(static_cast<double>(sums.sums[k]));
      }
    }
  } else {
    ordered_parallel<std::pair<f::ChunkChannels, std::vector<std::vector<double>>>>(
        chunks.size(), options.threads, 2 * std::size_t{options.threads},
        [&](std::size_t i) {
          std::pair<f::ChunkChannels, std::vector<std::vector<double>>> out;
          const auto diffs = clamped_differences(recording, meta, chunks[i], out.first);
          out.second.resize(diffs.size());
          for (std::size_t p = 0; p < diffs.size(); ++p) append_block_sums(diffs[p], block, out.second[p]);
          return out;
        },
        [&](std::size_t, std::pair<f::ChunkChannels, std::vector<std::vector<double>>>& part) {
          for (std::size_t p = 0; p < part.first.channel.size(); ++p) {
            auto& s = signatures[part.first.channel[p]];
            s.insert(s.end(), part.second[p].begin(), part.second[p].end());
          }
        });
  }
  parts.done("topology: signatures");
  const auto unit = unit_signatures(signatures, options.threads);
  const CorrelationMatrix correlation = correlate(unit, options.threads, options.correlations);
  parts.done("topology: correlations");
  Topology topology;
  topology.neighbours.resize(channels);
  for (std::size_t c = 0; c < channels; ++c) {
    if (unit[c].empty()) continue;
    auto& list = topology.neighbours[c];
    for (std::size_t s = 0; s < channels; ++s)
      if (s != c && meta.channel_rate(c) == meta.channel_rate(s) && correlation(c, s) > kMinimumCorrelation)  // same clock only
        list.push_back({static_cast<std::uint32_t>(s), correlation(c, s)});
    std::stable_sort(list.begin(), list.end(), [](const Topology::Edge& a, const Topology::Edge& b) { return a.weight > b.weight; });
    if (list.size() > static_cast<std::size_t>(options.topology_neighbours)) list.resize(static_cast<std::size_t>(options.topology_neighbours));
  }
  return topology;
}

namespace {

// A decoding order over the topology: start from the most connected channel, then always
// take the channel most strongly tied to those already placed. Each channel's candidate
// sources are its neighbours placed before it, strongest first, whose chains of sources stay
// below `max_depth` levels: the decoder runs each level's channels 8 at a time, so long chains
// of few channels per level would leave its SIMD lanes idle.
std::vector<std::vector<std::uint32_t>> candidate_sources(const Topology& topology, int max_sources, int max_depth) {
  const std::size_t n = topology.neighbours.size();
  std::vector<double> centrality(n, 0), tie(n, 0);
  for (std::size_t c = 0; c < n; ++c)
    for (const auto& e : topology.neighbours[c]) centrality[c] += e.weight;
  std::vector<char> placed(n, 0);
  std::vector<std::size_t> position(n, 0);
  for (std::size_t step = 0; step < n; ++step) {
    std::size_t next = n;
    for (std::size_t c = 0; c < n; ++c) {
      if (placed[c]) continue;
      if (next == n || tie[c] > tie[next] || (tie[c] == tie[next] && centrality[c] > centrality[next])) next = c;
    }
    placed[next] = 1;
    position[next] = step;
    for (const auto& e : topology.neighbours[next]) tie[e.channel] = std::max(tie[e.channel], double(e.weight));
    for (std::size_t c = 0; c < n; ++c)  // the graph may be asymmetric (a loaded topology)
      for (const auto& e : topology.neighbours[c])
        if (e.channel == next) tie[c] = std::max(tie[c], double(e.weight));
  }
  std::vector<std::size_t> order(n);
  for (std::size_t c = 0; c < n; ++c) order[position[c]] = c;
  std::vector<std::vector<std::uint32_t>> sources(n);
  std::vector<int> depth(n, 0);  // with every candidate used: a bound on the depth the decoder sees
  for (const std::size_t c : order) {
    for (const auto& e : topology.neighbours[c]) {
      if (position[e.channel] < position[c] && depth[e.channel] + 1 < max_depth && sources[c].size() < static_cast<std::size_t>(max_sources)) {
        sources[c].push_back(e.channel);
        depth[c] = std::max(depth[c], depth[e.channel] + 1);
      }
    }
  }
  return sources;
}

// Normal equations of one channel over its regressors: history (max_order), wavelet features
// (L+1), then each candidate source's window (2W+1).
struct Normal {
  std::vector<double> a;  // R x R, full
  std::vector<double> b;  // R
  double yy = 0;
  std::uint64_t samples = 0;
  std::size_t size = 0;
  void init(std::size_t r) {
    size = r;
    a.assign(r * r, 0);
    b.assign(r, 0);
  }
  void add(const Normal& o) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += o.a[i];
    for (std::size_t i = 0; i < b.size(); ++i) b[i] += o.b[i];
    yy += o.yy;
    samples += o.samples;
  }
};

// A channel's normal equations over one chunk, summed exactly: regressors and target are
// clamped differences (|v| <= kLpcHistoryClamp) or wavelet features (|v| <= kWaveletClamp), so
// they fit int16, kBlock products of two fit an int32 and the sums an int64. Exact sums do not
// depend on their order, so blocks of kBlock samples are summed as dot products of int16
// columns (vectorized by the compiler) and give what summing sample by sample in doubles gives
// (exact too while the sums stay below 2^53: 2^24 per product, far fewer than 2^29 samples).
// Every regressor is a shifted copy of one of a few series (the channel's differences, its
// wavelet features, its sources' differences), so a block's columns point into those series,
// zero-padded where the regressor is zero; only the last, partial block is copied.
class ExactNormal {
 public:
  static constexpr std::uint32_t kBlock = 64;
  static_assert(f::kLpcHistoryClamp <= 32767 && f::kWaveletClamp <= 32767);
  static_assert(std::int64_t{f::kWaveletClamp} * f::kWaveletClamp * kBlock < (std::int64_t{1} << 31));

  explicit ExactNormal(std::size_t regressors) : size_(regressors + 1), tail_(size_ * kBlock), sums_(size_ * size_, 0) {}

  // Adds samples first..first+count-1 (count <= kBlock); column(a, t) points at the value of
  // regressor a (a = regressors: the target) at sample t, and the next count - 1 samples follow it.
  template <class Column>
  void add_block(std::uint32_t count, Column&& column, std::uint32_t first) {
    thread_local std::vector<const std::int16_t*> columns;
    columns.resize(size_);
    if (count == kBlock) {
      for (std::size_t a = 0; a < size_; ++a) columns[a] = column(a, first);
    } else {
      std::fill(tail_.begin(), tail_.end(), 0);
      for (std::size_t a = 0; a < size_; ++a) {
        std::copy_n(column(a, first), count, tail_.begin() + static_cast<std::ptrdiff_t>(a * kBlock));
        columns[a] = tail_.data() + a * kBlock;
      }
    }
    add_block_products(columns.data(), size_, sums_.data());
    samples_ += count;
  }

  // Adds the sums to `ne` (upper triangle of a, b, yy, samples).
  void add_to(Normal& ne) const {
    const std::size_t r = size_ - 1;
    for (std::size_t a = 0; a < r; ++a) {
      for (std::size_t b = a; b < r; ++b) ne.a[a * ne.size + b] += static_cast<double>(sums_[a * size_ + b]);
      ne.b[a] += static_cast<double>(sums_[a * size_ + r]);
    }
    ne.yy += static_cast<double>(sums_[r * size_ + r]);
    ne.samples += samples_;
  }

 private:
  // sums[a][b] += column a . column b (b >= a), the columns kBlock int16 each.
  __attribute__((target_clones("avx2", "default"))) static void add_block_products(const std::int16_t* const* columns, std::size_t size,
                                                                                   std::int64_t* sums) {
    for (std::size_t a = 0; a < size; ++a) {
      const std::int16_t* x = columns[a];
      for (std::size_t b = a; b < size; ++b) {
        const std::int16_t* z = columns[b];
        std::int32_t dot = 0;
        for (std::uint32_t t = 0; t < kBlock; ++t) dot += std::int32_t{x[t]} * z[t];
        sums[a * size + b] += dot;
      }
    }
  }

  std::size_t size_;
  std::vector<std::int16_t> tail_;   // size_ x kBlock: the last, partial block
  std::vector<std::int64_t> sums_;   // size_ x size_, upper triangle
  std::uint64_t samples_ = 0;
};

// Least squares on a subset of the regressors: returns the residual energy and the weights.
double fit(const Normal& ne, const std::vector<std::size_t>& subset, std::vector<double>& weights) {
  const std::size_t r = subset.size();
  if (r == 0) {
    weights.clear();
    return ne.yy;
  }
  std::vector<std::vector<double>> A(r, std::vector<double>(r));
  std::vector<double> b(r);
  for (std::size_t i = 0; i < r; ++i) {
    b[i] = ne.b[subset[i]];
    for (std::size_t j = 0; j < r; ++j) A[i][j] = ne.a[subset[i] * ne.size + subset[j]];
    A[i][i] = A[i][i] * (1 + 1e-9) + 1e-9;  // ridge: keeps the system positive definite
  }
  if (!solve_spd(A, b, weights)) {
    weights.assign(r, 0);
    return ne.yy;
  }
  double explained = 0;
  for (std::size_t i = 0; i < r; ++i) explained += weights[i] * b[i];
  return std::max(ne.yy - explained, 1e-9);
}

// Adds an executor's sums of one stream (training_batch.hpp: the upper triangle row by row, the
// target last) to `ne`, as ExactNormal::add_to adds its own.
void add_normal_sums(const f::BatchStream& s, const std::int64_t* sums, Normal& ne) {
  const int size = f::normal_size(s);
  const std::size_t r = static_cast<std::size_t>(size - 1);
  if (r != ne.size) throw std::logic_error("a least-squares batch stream's regressors differ from its channel's");
  std::uint32_t term = 0;
  for (std::size_t a = 0; a <= r; ++a)
    for (std::size_t b = a; b <= r; ++b, ++term) {
      const double v = static_cast<double>(sums[term]);
      if (a == r) ne.yy += v;
      else if (b == r) ne.b[a] += v;
      else ne.a[a * ne.size + b] += v;
    }
  ne.samples += s.n > 1 ? s.n - 1 : 0;
}

}  // namespace

void train_mo_predictors(const Recording& recording, f::Metadata& meta, const MoTrainingOptions& options, const Topology* given) {
  const std::size_t channels = meta.channels.size();
  const int order = std::clamp(options.max_order, 0, f::kMaxMoOrder);
  const int levels = std::clamp(options.wavelet_levels, 0, f::kMaxWaveletLevels);
  const int half_window = std::clamp(options.half_window, 0, f::kMaxMoHalfWindow);
  const int window = 2 * half_window + 1;
  meta.codec.source_half_window = static_cast<std::uint32_t>(half_window);
  meta.codec.wavelet_levels = static_cast<std::uint32_t>(std::max(levels, 1));
  const int wavelet_taps = levels > 0 ? levels + 1 : 0;

  Topology computed;
  if (given == nullptr) {
    computed = compute_topology(recording, meta, options);
    given = &computed;
  }
  if (given->neighbours.size() != channels)
    throw std::invalid_argument("the topology describes " + std::to_string(given->neighbours.size()) + " channels, the recording has " +
                                std::to_string(channels));
  const auto sources = candidate_sources(*given, std::clamp(options.max_sources, 0, f::kMaxMoSources), std::max(options.max_depth, 1));

  // One pass: normal equations of every channel over all its candidate regressors.
  std::vector<std::size_t> regressors(channels);
  for (std::size_t c = 0; c < channels; ++c) regressors[c] = static_cast<std::size_t>(order + wavelet_taps) + sources[c].size() * static_cast<std::size_t>(window);
  std::vector<Normal> normal(channels);
  for (std::size_t c = 0; c < channels; ++c) normal[c].init(regressors[c]);
  const auto chunks = training_chunks(meta, training_samples_per_channel(meta, options.max_training_samples, options.max_training_samples_in_all));
  PhaseParts parts(options.phase_parts);
  double gather_seconds = 0, executor_seconds = 0;
  if (options.normal_sums) {
    // Through the executor, in batches of whole chunks: the same exact integer sums, added to
    // each channel's doubles in chunk order as below.
    NormalPassShape shape;
    shape.order = order;
    shape.levels = levels;
    shape.half_window = half_window;
    shape.sources = sources;
    for (const auto& group : training_batch_chunks(meta, chunks, kNormalBatchSamples)) {
      Stopwatch gather;
      NormalSumsBatch batch = plan_normal_sums(recording, meta, group, shape, options.threads, options.sample_memory);
      gather_seconds += gather.lap();
      options.normal_sums(batch);
      executor_seconds += gather.lap();
      if (batch.sums.size() != batch.sums_offset.back()) throw std::logic_error("the least-squares executor returned no sums");
      for (std::size_t i = 0; i < batch.streams.size(); ++i) add_normal_sums(batch.streams[i], batch.sums.data() + batch.sums_offset[i], normal[batch.channel[i]]);
    }
  } else {
    // In parts of chunks (each channel's sums of a chunk made in one part), consumed in order: the
    // same sums at any thread count.
    struct ChunkDifferences {
      f::ChunkChannels present;
      std::vector<std::vector<std::int32_t>> diffs;
    };
    using Sums = std::vector<std::pair<std::uint32_t, Normal>>;
    for_each_chunk_part<ChunkDifferences, Sums>(
        chunk_parts(meta, chunks, options.threads), chunks.size(), options.threads,
        [&](std::size_t i) {
          ChunkDifferences chunk;
          chunk.diffs = clamped_differences(recording, meta, chunks[i], chunk.present);
          return chunk;
        },
        [&](const ChunkPart& part, const ChunkDifferences& chunk) {
          const auto& present = chunk.present;
          const auto& diffs = chunk.diffs;
          Sums out;
          std::vector<std::int16_t> series, feature_series;
          std::vector<std::vector<std::int16_t>> source_series;
          for (std::size_t p = part.first; p < part.end; ++p) {
            const std::uint32_t c = present.channel[p];
            const auto& d = diffs[p];
            const auto n = static_cast<std::uint32_t>(d.size());
            out.emplace_back(c, Normal{});
            Normal& ne = out.back().second;
            ne.init(regressors[c]);
            ExactNormal sums(regressors[c]);
            // Source windows: zero where the source has no samples in this chunk.
            const auto source_of = [&](std::uint32_t s) -> const std::vector<std::int32_t>* {
              const auto it = std::lower_bound(present.channel.begin(), present.channel.end(), s);
              return it != present.channel.end() && *it == s ? &diffs[static_cast<std::size_t>(it - present.channel.begin())] : nullptr;
            };
            // The series, as int16 with zeros in front (and behind, for the sources): the history
            // tap k at t is d[t - k], the source window j at t is s[t + j], the wavelet features
            // at t are those of d[0..t-1], the target is d[t].
            const std::size_t front = static_cast<std::size_t>(std::max(order, half_window));
            series.assign(front + n, 0);
            for (std::uint32_t t = 0; t < n; ++t) series[front + t] = static_cast<std::int16_t>(d[t]);
            source_series.resize(sources[c].size());
            for (std::size_t k = 0; k < sources[c].size(); ++k) {
              const auto* src = source_of(sources[c][k]);
              auto& padded = source_series[k];
              padded.assign(front + n + static_cast<std::size_t>(half_window), 0);
              if (src != nullptr)
                for (std::size_t u = 0; u < std::min<std::size_t>(src->size(), n + static_cast<std::size_t>(half_window)); ++u)
                  padded[front + u] = static_cast<std::int16_t>((*src)[u]);
            }
            if (levels > 0) wavelet_feature_series(levels, d, feature_series);
            const auto column = [&](std::size_t a, std::uint32_t t) -> const std::int16_t* {
              if (a < static_cast<std::size_t>(order)) return series.data() + front + t - (static_cast<std::size_t>(order) - a);  // tap order - a
              a -= static_cast<std::size_t>(order);
              if (a < static_cast<std::size_t>(wavelet_taps)) return feature_series.data() + a * n + t;
              a -= static_cast<std::size_t>(wavelet_taps);
              const std::size_t k = a / static_cast<std::size_t>(window);
              if (k < source_series.size()) return source_series[k].data() + front + t + (a % static_cast<std::size_t>(window)) - static_cast<std::size_t>(half_window);
              return series.data() + front + t;  // the target
            };
            for (std::uint32_t t = 1; t < n; t += ExactNormal::kBlock) sums.add_block(std::min(ExactNormal::kBlock, n - t), column, t);
            sums.add_to(ne);
          }
          return out;
        },
        [&](const ChunkPart&, Sums& part) {
          for (const auto& [c, ne] : part) normal[c].add(ne);
        });
  }

  if (options.normal_sums && options.phase_parts != nullptr) {
    options.phase_parts->emplace_back("predictors: sums, gathering", gather_seconds);
    options.phase_parts->emplace_back("predictors: sums, executor", executor_seconds);
  }
  parts.done("predictors: sums");
  // Per channel: the model with the smallest description length (residual bits + 16 bits per
  // stored weight): history order, then wavelet features, then sources one by one.
  parallel_for(channels, options.threads, [&](std::size_t c) {
    Normal& ne = normal[c];
    for (std::size_t a = 0; a < ne.size; ++a)
      for (std::size_t b = 0; b < a; ++b) ne.a[a * ne.size + b] = ne.a[b * ne.size + a];
    f::ChannelPredictor& p = meta.channels[c].predictor;
    p = {};
    p.lms_step = options.lms_step;
    if (ne.samples < 2 || ne.yy <= 0) return;
    const double length = static_cast<double>(meta.channels[c].length);
    const auto cost = [&](double energy, std::size_t taps) {
      return 0.5 * length * std::log2(energy / static_cast<double>(ne.samples)) + kBitsPerStoredWeight * static_cast<double>(taps);
    };
    std::vector<double> w;
    std::vector<std::size_t> best_subset;
    double best_cost = cost(ne.yy, 0);
    int best_order = 0;
    for (int k = 1; k <= order; ++k) {  // the k most recent history taps
      std::vector<std::size_t> subset;
      for (int i = order - k; i < order; ++i) subset.push_back(static_cast<std::size_t>(i));
      const double e = fit(ne, subset, w);
      if (cost(e, subset.size()) < best_cost) best_cost = cost(e, subset.size()), best_subset = subset, best_order = k;
    }
    bool use_wavelet = false;
    if (wavelet_taps > 0) {
      auto subset = best_subset;
      for (int k = 0; k < wavelet_taps; ++k) subset.push_back(static_cast<std::size_t>(order + k));
      const double e = fit(ne, subset, w);
      // The channel's bits without them, Gaussian estimate: n * max(1, log2(2 pi e * variance) / 2).
      std::vector<double> unused;
      const double variance = fit(ne, best_subset, unused) / static_cast<double>(ne.samples);
      const double bits = length * std::max(1.0, 0.5 * std::log2(2 * M_PI * M_E * std::max(variance, 1e-9)));
      const double saving = best_cost - cost(e, subset.size());
      if (saving > options.wavelet_min_saving * bits) best_cost = cost(e, subset.size()), best_subset = subset, use_wavelet = true;
    }
    std::vector<std::uint32_t> used;
    for (std::size_t s = 0; s < sources[c].size(); ++s) {
      auto subset = best_subset;
      const std::size_t first = static_cast<std::size_t>(order + wavelet_taps) + s * static_cast<std::size_t>(window);
      for (int k = 0; k < window; ++k) subset.push_back(first + static_cast<std::size_t>(k));
      const double e = fit(ne, subset, w);
      if (cost(e, subset.size()) < best_cost) best_cost = cost(e, subset.size()), best_subset = subset, used.push_back(sources[c][s]);
    }
    fit(ne, best_subset, w);
    std::size_t i = 0;
    for (int k = 0; k < best_order; ++k) p.history_weights.push_back(quantize_weight(w[i++], meta.codec.weight_shift));
    if (use_wavelet)
      for (int k = 0; k < wavelet_taps; ++k) p.wavelet_weights.push_back(quantize_weight(w[i++], meta.codec.weight_shift));
    for (const auto s : used) {
      f::PredictorSource source;
      source.channel = static_cast<std::int32_t>(s);
      for (int k = 0; k < window; ++k) source.weights.push_back(quantize_weight(w[i++], meta.codec.weight_shift));
      p.sources.push_back(std::move(source));
    }
  });
  parts.done("predictors: fits");
}

}  // namespace spikey::host
