// Codec mo1 (level default): wavelet features, the predictor stream (scalar reference), the
// lockstep kernel against it, decoding order, topology, and the codec on real data.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <optional>

#include <random>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/codecs/mo/mo_predictor.hpp"
#include "spikey/format/value_map.hpp"
#include "spikey/format/codecs/mo/wavelet_features.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mo/mo_training.hpp"
#include "codecs/training_common.hpp"
#include "spikey/host/recording.hpp"
#include "test_support.hpp"
#include "training_support.hpp"

using namespace spikey;
using namespace spikey::format;
namespace fs = std::filesystem;

namespace {

std::vector<std::int32_t> cinpla_channel_codes(int channel, std::size_t count) {
  const auto raw = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto* s = reinterpret_cast<const std::int16_t*>(raw.data());
  std::vector<std::int32_t> codes;
  for (std::size_t t = 0; t < std::min<std::size_t>(count, raw.size() / 64); ++t) codes.push_back(s[t * 32 + static_cast<std::size_t>(channel)]);
  return codes;
}

struct RandomMo {
  MoModel model;
  std::vector<std::int32_t> weights;
};

// A random network stage, a ReLU layer or (half of the time, unless `projector` says) a GRU:
// weights anywhere in range, and sometimes every value at its bound (the overflow bounds of
// mo_network.hpp).
MoNetwork random_network(std::mt19937& rng, std::optional<NetProjector> projector = std::nullopt) {
  MoNetwork net;
  net.projector = projector ? *projector : (rng() % 2 ? NetProjector::kGru : NetProjector::kRelu);
  const bool extreme = rng() % 4 == 0;
  const auto value = [&](std::int32_t limit, std::int32_t typical) {
    if (extreme) return rng() % 2 ? limit : -limit;
    return static_cast<std::int32_t>(rng() % (2 * static_cast<std::uint32_t>(typical) + 1)) - typical;
  };
  if (net.projector == NetProjector::kGru) {
    net.hidden = 1 + static_cast<int>(rng() % kMaxGruHidden);
    for (int g = 0; g < kGruGates; ++g)
      for (int k = 0; k < net.hidden; ++k) {
        for (int i = 0; i < kNetInputs; ++i) net.gx[g][k][i] = value(kMaxNetWeight, 200);
        for (int j = 0; j < net.hidden; ++j) net.gh[g][k][j] = value(kMaxNetWeight, 400);
        net.gb[g][k] = value(kMaxGruBias, 1 << 16);
      }
    for (int k = 0; k < net.hidden; ++k) net.w2[k] = value(kMaxNetWeight, 300);
    net.b2 = value(kMaxNetOutputBias, 1 << 14);
    return net;
  }
  net.hidden = 1 + static_cast<int>(rng() % kMaxNetHidden);
  for (int j = 0; j < net.hidden; ++j) {
    for (int i = 0; i < kNetInputs; ++i) net.w1[j][i] = value(kMaxNetWeight, 600);
    net.b1[j] = value(kMaxNetHiddenBias, 1 << 16);
    net.w2[j] = value(kMaxNetWeight, 300);
  }
  net.b2 = value(kMaxNetOutputBias, 1 << 14);
  return net;
}

// Gives the model the network with random gains, half of the time.
void maybe_use_network(std::mt19937& rng, MoModel& model, const MoNetwork* net) {
  if (net == nullptr || rng() % 2 == 0) return;
  model.network = net;
  const bool extreme = rng() % 5 == 0;
  model.net_input_gain = extreme ? kMaxNetInputGain : static_cast<std::int32_t>(1 + rng() % 60000);
  model.net_output_gain = extreme ? kMaxNetOutputGain : static_cast<std::int32_t>(1 + rng() % 3000);
}

RandomMo random_mo(std::mt19937& rng, int levels, const MoNetwork* net = nullptr) {
  RandomMo m;
  m.model.order = static_cast<int>(rng() % (kMaxMoOrder + 1));
  m.model.levels = rng() % 2 ? levels : 0;
  m.model.sources = static_cast<int>(rng() % (kMaxMoSources + 1));
  m.model.half_window = 2;
  m.model.lms_step = static_cast<std::int32_t>(rng() % 3) * 2;
  for (int i = 0; i < m.model.taps(); ++i) m.weights.push_back(static_cast<std::int32_t>(rng() % 3001) - 1500);
  if (m.model.order > 0) m.weights[static_cast<std::size_t>(m.model.order - 1)] = 3500;
  if (rng() % 6 == 0)
    for (auto& w : m.weights) w = rng() % 2 ? kMaxLpcWeight : -kMaxLpcWeight;  // the overflow bound
  maybe_use_network(rng, m.model, net);
  return m;
}

}  // namespace

TEST(Wavelet, FiltersAreTheQuantizedDmeyPairAndMirrorSymmetric) {
  std::int64_t low_sum = 0, high_sum = 0;
  for (int j = 0; j < kDmeyTaps; ++j) low_sum += dmey_low(j), high_sum += dmey_high(j);
  EXPECT_NEAR(static_cast<double>(low_sum), 16384.0, 8.0);  // unit DC gain at 2^14
  EXPECT_LT(std::abs(high_sum), 16);                       // a high-pass has almost no DC gain
  EXPECT_EQ(dmey_low(17), 8626);
  EXPECT_EQ(dmey_high(16), -8626);
  for (int k = 1; k <= 16; ++k) {  // the lockstep kernel relies on this (mo_lanes_impl.hpp)
    EXPECT_EQ(dmey_low(17 - k), dmey_low(17 + k)) << k;
    EXPECT_EQ(dmey_high(16 - k), dmey_high(16 + k)) << k;
  }
  EXPECT_EQ(dmey_low(0), 0);
  EXPECT_EQ(dmey_high(33), 0);
}

TEST(Wavelet, StepMatchesADirectConvolution) {
  // Level 1 of the cascade is the filters applied to the input: compare with a plain sum.
  const auto codes = cinpla_channel_codes(3, 3000);
  const std::uint32_t n = static_cast<std::uint32_t>(codes.size());
  std::vector<std::int32_t> c(n, 0);
  for (std::uint32_t t = 1; t < n; ++t) c[t] = clamp_history(codes[t] - codes[t - 1]);
  const int levels = 3;
  std::vector<std::int32_t> buffers(static_cast<std::size_t>(levels) * wavelet_buffer_size(n), 0), features(levels + 1);
  for (std::uint32_t t = 1; t < n; ++t) {
    wavelet_step(levels, buffers.data(), wavelet_buffer_size(n), t, c[t], features.data());
    std::int64_t high = 0;
    for (int j = 0; j < kDmeyTaps; ++j) high += std::int64_t{dmey_high(j)} * (t >= static_cast<std::uint32_t>(j) ? c[t - static_cast<std::uint32_t>(j)] : 0);
    const auto expected = static_cast<std::int32_t>(std::clamp<std::int64_t>((high + 8192) >> 14, -kWaveletClamp, kWaveletClamp));
    ASSERT_EQ(features[0], expected) << "t=" << t;
    for (const auto v : features) ASSERT_LE(std::abs(v), kWaveletClamp);
  }
}

TEST(Wavelet, WholeChunkSeriesEqualTheSteps) {
  // Training computes a chunk's features level by level; the predictor step by step.
  for (const std::uint32_t length : {2u, 3u, 32u, 33u, 70u, 5000u}) {  // whole blocks of the training sums and tails
    const auto codes = cinpla_channel_codes(5, length);
    const auto n = static_cast<std::uint32_t>(codes.size());
    std::vector<std::int32_t> c(n, 0);
    for (std::uint32_t t = 1; t < n; ++t) c[t] = clamp_history(codes[t] - codes[t - 1]);
    for (const int levels : {1, 3, kMaxWaveletLevels}) {
      std::vector<std::int16_t> series;
      spikey::host::training::wavelet_feature_series(levels, c, series);
      ASSERT_EQ(series.size(), static_cast<std::size_t>(levels + 1) * n);
      std::vector<std::int32_t> buffers(static_cast<std::size_t>(levels) * wavelet_buffer_size(n), 0), features(levels + 1, 0);
      for (std::uint32_t t = 1; t < n; ++t) {
        for (int k = 0; k <= levels; ++k) ASSERT_EQ(series[static_cast<std::size_t>(k) * n + t], features[static_cast<std::size_t>(k)]) << "n=" << n << " levels=" << levels << " t=" << t << " k=" << k;
        wavelet_step(levels, buffers.data(), wavelet_buffer_size(n), t, c[t], features.data());
      }
    }
  }
}

TEST(MoStream, RoundTripsRealDataUnderRandomModels) {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 60; ++trial) {
    const auto n = static_cast<std::uint32_t>(1 + rng() % 5000);
    const auto codes = cinpla_channel_codes(static_cast<int>(rng() % 32), n);
    const MoNetwork net = random_network(rng);
    const auto m = random_mo(rng, 1 + static_cast<int>(rng() % kMaxWaveletLevels), &net);
    std::vector<std::vector<std::int32_t>> buffers(kMaxMoSources);
    const std::int32_t* sources[kMaxMoSources] = {};
    for (int s = 0; s < m.model.sources; ++s) {
      const auto other = cinpla_channel_codes(static_cast<int>(rng() % 32), 6000);
      buffers[static_cast<std::size_t>(s)].assign(source_buffer_size(n), 0);
      fill_source_buffer(other.data(), static_cast<std::uint32_t>(rng() % (n + 8)), n, buffers[static_cast<std::size_t>(s)].data());
      sources[s] = buffers[static_cast<std::size_t>(s)].data();
    }
    std::vector<std::int32_t> w = m.weights, history(mo_history_buffer_size(n)), wavelet(static_cast<std::size_t>(m.model.levels) * wavelet_buffer_size(n) + 1),
        features(kMoStateSize);
    std::vector<std::uint32_t> folded(n);
    mo_fold_residuals(m.model, codes.data(), n, w.data(), history.data(), wavelet.data(), features.data(), sources, folded.data());
    std::vector<std::int32_t> decoded(n);
    w = m.weights;
    mo_reconstruct(m.model, codes[0], folded.data(), n, w.data(), history.data(), wavelet.data(), features.data(), sources, decoded.data());
    ASSERT_EQ(decoded, codes) << "trial " << trial;
  }
}

// The lockstep kernel equals the scalar reference, group after group on one thread.
TEST(MoLanes, EqualTheScalarReference) {
  if (std::getenv("SPIKEY_LANES") != nullptr) ASSERT_STREQ(host::lanes::instruction_set(), "generic");
  std::mt19937 rng(23);
  for (int trial = 0; trial < 45; ++trial) {
    const MoNetwork net = random_network(rng);  // one per recording: every lane that uses it shares it
    host::lanes::MoLaneGroup group;
    group.lanes = 1 + trial % host::lanes::kLanes;
    group.n = 1 + static_cast<std::uint32_t>(rng() % (trial % 3 == 0 ? 40 : 3000));
    const int levels = 1 + static_cast<int>(rng() % kMaxWaveletLevels);
    std::vector<RandomMo> models;
    std::vector<std::vector<std::int32_t>> codes, buffers(static_cast<std::size_t>(group.lanes) * kMaxMoSources);
    for (int l = 0; l < group.lanes; ++l) {
      models.push_back(random_mo(rng, levels, trial % 3 == 2 ? nullptr : &net));
      codes.push_back(cinpla_channel_codes(static_cast<int>(rng() % 32), group.n));
      codes.back().resize(group.n, codes.back().empty() ? 0 : codes.back().back());
      for (int s = 0; s < models.back().model.sources; ++s) {
        auto& b = buffers[static_cast<std::size_t>(l) * kMaxMoSources + static_cast<std::size_t>(s)];
        const auto other = cinpla_channel_codes(static_cast<int>(rng() % 32), 6000);
        b.assign(source_buffer_size(group.n), 0);
        fill_source_buffer(other.data(), static_cast<std::uint32_t>(rng() % (group.n + 8)), group.n, b.data());
        group.sources[l][s] = b.data();
      }
      group.model[l] = models.back().model;
      group.weights[l] = models.back().weights.data();
    }
    std::vector<std::vector<std::uint32_t>> reference(static_cast<std::size_t>(group.lanes)), folded(static_cast<std::size_t>(group.lanes));
    std::vector<std::vector<std::int32_t>> decoded(static_cast<std::size_t>(group.lanes));
    const std::int32_t* in[host::lanes::kLanes] = {};
    std::uint32_t* out[host::lanes::kLanes] = {};
    const std::uint32_t* folded_in[host::lanes::kLanes] = {};
    std::int32_t* codes_out[host::lanes::kLanes] = {};
    std::int32_t first[host::lanes::kLanes] = {};
    for (int l = 0; l < group.lanes; ++l) {
      const auto i = static_cast<std::size_t>(l);
      reference[i].resize(group.n);
      folded[i].resize(group.n);
      decoded[i].resize(group.n);
      std::vector<std::int32_t> w = models[i].weights, history(mo_history_buffer_size(group.n)),
          wavelet(static_cast<std::size_t>(models[i].model.levels) * wavelet_buffer_size(group.n) + 1), features(kMoStateSize);
      mo_fold_residuals(models[i].model, codes[i].data(), group.n, w.data(), history.data(), wavelet.data(), features.data(), group.sources[l],
                        reference[i].data());
      in[l] = codes[i].data();
      out[l] = folded[i].data();
      folded_in[l] = reference[i].data();
      codes_out[l] = decoded[i].data();
      first[l] = codes[i][0];
    }
    host::lanes::mo_fold(group, in, out);
    host::lanes::mo_reconstruct(group, first, folded_in, codes_out);
    for (std::size_t l = 0; l < static_cast<std::size_t>(group.lanes); ++l) {
      ASSERT_TRUE(std::equal(folded[l].begin(), folded[l].begin() + group.n - 1, reference[l].begin())) << "trial " << trial << " lane " << l;
      ASSERT_EQ(decoded[l], codes[l]) << "trial " << trial << " lane " << l;
    }
  }
}

namespace {

// Residuals handed to the lagged decoder, lane by lane at each lane's own time; checks that
// every lane is live exactly over its times 1 .. n-1 and that the kernel's predicted codes are
// the reference's.
class ReferenceResiduals final : public host::lanes::MoResidualSource {
 public:
  ReferenceResiduals(const host::lanes::MoLaneGroup& group, const std::vector<std::vector<std::int32_t>>& codes,
                     const std::vector<std::vector<std::int32_t>>& z)
      : group_(group), codes_(codes), z_(z) {}
  bool residuals(std::uint32_t step, unsigned live, const std::int32_t* base, std::int32_t* z) override {
    for (int l = 0; l < host::lanes::kLanes; ++l) {
      z[l] = 0;
      if (l >= group_.lanes) continue;
      const std::int64_t t = std::int64_t{step} - group_.lag[l];
      const bool expected = t >= 1 && t < std::int64_t{group_.n};
      EXPECT_EQ(((live >> l) & 1) != 0, expected) << "lane " << l << " at step " << step;
      if (!expected) continue;
      const auto i = static_cast<std::size_t>(l), at = static_cast<std::size_t>(t);
      EXPECT_EQ(base[l], codes_[i][at] - z_[i][at]) << "lane " << l << " at time " << t;
      z[l] = z_[i][at];
    }
    return true;
  }

 private:
  const host::lanes::MoLaneGroup& group_;
  const std::vector<std::vector<std::int32_t>>& codes_;
  const std::vector<std::vector<std::int32_t>>& z_;
};

}  // namespace

namespace {

// A group of lagged lanes (the mt decoder's groups along chains of sources) with random models
// on real codes, and each lane's residuals from the scalar reference.
struct LaggedTrial {
  MoNetwork net;
  host::lanes::MoLaneGroup group;
  std::vector<RandomMo> models;
  std::vector<std::vector<std::int32_t>> codes, z, buffers;
};

std::unique_ptr<LaggedTrial> lagged_trial(std::mt19937& rng, int trial) {
  auto made = std::make_unique<LaggedTrial>();
  LaggedTrial& x = *made;
  x.net = random_network(rng, trial % 2 ? NetProjector::kGru : NetProjector::kRelu);
  host::lanes::MoLaneGroup& group = x.group;
  group.lanes = 2 + trial % (host::lanes::kLanes - 1);
  group.n = 2 + static_cast<std::uint32_t>(rng() % (trial % 4 == 0 ? 30 : 2500));
  const int levels = 1 + static_cast<int>(rng() % kMaxWaveletLevels);
  x.z.resize(static_cast<std::size_t>(group.lanes));
  x.buffers.resize(static_cast<std::size_t>(group.lanes) * kMaxMoSources);
  x.models.reserve(static_cast<std::size_t>(group.lanes));
  for (int l = 0; l < group.lanes; ++l) {
    const auto i = static_cast<std::size_t>(l);
    x.models.push_back(random_mo(rng, levels, trial % 3 == 2 ? nullptr : &x.net));
    if (x.models.back().model.sources == 0) {  // every lane draws on some source
      x.models.back().model.sources = 1;
      x.models.back().weights.insert(x.models.back().weights.end(), static_cast<std::size_t>(x.models.back().model.source_taps()), 700);
    }
    x.codes.push_back(cinpla_channel_codes(static_cast<int>(rng() % 32), group.n));
    x.codes.back().resize(group.n, x.codes.back().empty() ? 0 : x.codes.back().back());
    for (int k = 0; k < x.models.back().model.sources; ++k) {
      auto& b = x.buffers[i * kMaxMoSources + static_cast<std::size_t>(k)];
      b.assign(source_buffer_size(group.n), 0);
      if (l > 0 && ((l == 1 && k == 0) || rng() % 3 != 0)) {  // a source in the group: an earlier lane, decoded W + 1 steps ahead
        const int m = static_cast<int>(rng() % static_cast<std::uint32_t>(l));
        group.in_group_source[l][k] = static_cast<std::uint8_t>(m + 1);
        group.lag[l] = std::max(group.lag[l], group.lag[m] + static_cast<std::uint32_t>(x.models.back().model.half_window) + 1);
        fill_source_buffer(x.codes[static_cast<std::size_t>(m)].data(), group.n, group.n, b.data());  // for the reference only
      } else {
        const auto other = cinpla_channel_codes(static_cast<int>(rng() % 32), 6000);
        fill_source_buffer(other.data(), static_cast<std::uint32_t>(rng() % (group.n + 8)), group.n, b.data());
      }
      group.sources[l][k] = b.data();
    }
    group.model[l] = x.models.back().model;
    group.weights[l] = x.models.back().weights.data();
    std::vector<std::int32_t> w = x.models.back().weights, history(mo_history_buffer_size(group.n)),
        wavelet(static_cast<std::size_t>(group.model[l].levels) * wavelet_buffer_size(group.n) + 1), features(kMoStateSize);
    x.z[i].assign(group.n, 0);
    mo_residuals(group.model[l], x.codes[i].data(), group.n, w.data(), history.data(), wavelet.data(), features.data(), group.sources[l], x.z[i].data());
  }
  return made;
}

// The reference's residuals, failing at one step of the group's clock (never: UINT32_MAX).
class FailingResiduals final : public host::lanes::MoResidualSource {
 public:
  FailingResiduals(MoResidualSource& inner, std::uint32_t fail_at) : inner_(inner), fail_at_(fail_at) {}
  bool residuals(std::uint32_t step, unsigned live, const std::int32_t* base, std::int32_t* z) override {
    return step != fail_at_ && inner_.residuals(step, live, base, z);
  }

 private:
  MoResidualSource& inner_;
  std::uint32_t fail_at_;
};

}  // namespace

// Lagged lanes (the mt decoder's groups along chains of sources): a lane whose sources decode in
// the same group, W + 1 steps ahead of it, gets the codes the scalar reference gets from those
// sources decoded first; with either projector (the GRU's state held until its lane starts).
TEST(MoLanes, LaggedChainsEqualTheScalarReference) {
  std::mt19937 rng(41);
  for (int trial = 0; trial < 40; ++trial) {
    const auto x = lagged_trial(rng, trial);
    const host::lanes::MoLaneGroup& group = x->group;
    ASSERT_GT(*std::max_element(group.lag, group.lag + group.lanes), 0u) << "trial " << trial << ": no lane lags";
    std::vector<std::vector<std::int32_t>> decoded(static_cast<std::size_t>(group.lanes), std::vector<std::int32_t>(group.n));
    std::int32_t first[host::lanes::kLanes] = {};
    std::int32_t* out[host::lanes::kLanes] = {};
    for (int l = 0; l < group.lanes; ++l) first[l] = x->codes[static_cast<std::size_t>(l)][0], out[l] = decoded[static_cast<std::size_t>(l)].data();
    ReferenceResiduals source(group, x->codes, x->z);
    ASSERT_TRUE(host::lanes::mo_reconstruct_from(group, first, source, out));
    for (std::size_t l = 0; l < static_cast<std::size_t>(group.lanes); ++l) ASSERT_EQ(decoded[l], x->codes[l]) << "trial " << trial << " lane " << l;
  }
}

// Two groups decoded at once (their steps interleaved, as the decoder runs independent groups
// on one thread), of different lengths and lags: each gets the reference's codes. When one
// group's source fails, that group reports it and the other still decodes to its end.
TEST(MoLanes, TwoGroupsAtOnceEqualTheScalarReference) {
  std::mt19937 rng(43);
  for (int trial = 0; trial < 24; ++trial) {
    const auto a = lagged_trial(rng, trial), b = lagged_trial(rng, trial + 1);
    LaggedTrial* trials[2] = {a.get(), b.get()};
    for (const int failing : {-1, 0, 1}) {
      SCOPED_TRACE("trial " + std::to_string(trial) + ", failing group " + std::to_string(failing));
      std::vector<std::vector<std::int32_t>> decoded[2];
      std::int32_t first[2][host::lanes::kLanes] = {};
      std::int32_t* out[2][host::lanes::kLanes] = {};
      std::unique_ptr<ReferenceResiduals> reference[2];
      std::unique_ptr<FailingResiduals> sources[2];
      host::lanes::MoGroupDecoding runs[2];
      for (int h = 0; h < 2; ++h) {
        const LaggedTrial& x = *trials[h];
        decoded[h].assign(static_cast<std::size_t>(x.group.lanes), std::vector<std::int32_t>(x.group.n));
        for (int l = 0; l < x.group.lanes; ++l) first[h][l] = x.codes[static_cast<std::size_t>(l)][0], out[h][l] = decoded[h][static_cast<std::size_t>(l)].data();
        reference[h] = std::make_unique<ReferenceResiduals>(x.group, x.codes, x.z);
        const std::uint32_t fail_at = h == failing ? 1 + static_cast<std::uint32_t>(rng() % x.group.n) : std::numeric_limits<std::uint32_t>::max();
        sources[h] = std::make_unique<FailingResiduals>(*reference[h], fail_at);
        runs[h] = {&x.group, first[h], sources[h].get(), out[h]};
      }
      host::lanes::mo_reconstruct_from(std::span(runs));
      for (int h = 0; h < 2; ++h) {
        ASSERT_EQ(runs[h].ok, h != failing) << "group " << h;
        if (h == failing) continue;
        for (std::size_t l = 0; l < decoded[h].size(); ++l) ASSERT_EQ(decoded[h][l], trials[h]->codes[l]) << "group " << h << ", lane " << l;
      }
    }
  }
}

TEST(MoMetadata, DecodingOrderPutsSourcesFirstAndRejectsCycles) {
  Metadata m;
  m.codec.name = kCodecMo1;
  m.channels.resize(4);
  m.channels[0].predictor.sources = {{2, {}}};
  m.channels[1].predictor.sources = {{0, {}}, {2, {}}};
  m.channels[3].predictor.sources = {{1, {}}};
  EXPECT_EQ(mo_decoding_order(m), (std::vector<std::uint32_t>{2, 0, 1, 3}));
  m.channels[2].predictor.sources = {{3, {}}};  // 2 -> 3 -> 1 -> 0 -> 2
  EXPECT_LT(mo_decoding_order(m).size(), 4u);
}

TEST(Topology, SavesLoadsAndRejectsNonsense) {
  test::TempDir dir;
  host::Topology t;
  t.neighbours = {{{1, 0.9f}, {2, 0.5f}}, {{0, 0.9f}}, {}};
  t.save(dir / "topo.json");
  const auto back = host::Topology::load(dir / "topo.json");
  ASSERT_EQ(back.neighbours.size(), 3u);
  EXPECT_EQ(back.neighbours[0][1].channel, 2u);
  EXPECT_FLOAT_EQ(back.neighbours[0][0].weight, 0.9f);
  test::write_file(dir / "bad.json", {'{', '}'});
  EXPECT_THROW(host::Topology::load(dir / "bad.json"), std::runtime_error);
  host::Topology self;
  self.neighbours = {{{0, 1.0f}}};
  self.save(dir / "self.json");
  EXPECT_THROW(host::Topology::load(dir / "self.json"), std::runtime_error);
}

TEST(Mo1, LinksChannelsWithCommonActivityOnRealData) {
  // The bundled cinpla slice: 32 channels sharing an LFP. mo1 links most of them.
  test::TempDir out;
  const auto recording = test::cinpla_sample_recording();
  host::EncodeOptions options;
  options.codec = kCodecMo1;  // not the race: this test is about mo1
  options.overwrite = true;
  const auto report = host::compress(recording, out / "a.spikey", options);
  EXPECT_TRUE(report.verified);
  const ArchiveReader reader(out / "a.spikey");
  std::size_t linked = 0;
  for (const auto& c : reader.metadata().channels) linked += !c.predictor.sources.empty();
  EXPECT_GE(linked, 24u);
  host::EncodeOptions fast;
  fast.level = "fast";
  fast.overwrite = true;
  const auto fast_report = host::compress(recording, out / "b.spikey", fast);
  EXPECT_LT(report.archive_bytes, fast_report.archive_bytes) << "message passing should beat level fast on common-LFP data";
}

TEST(Mo1, WaveletFeaturesRoundTripWhenForced) {
  // The encoder keeps wavelet features only where they pay; force them to exercise the path.
  test::TempDir out;
  const auto recording = test::cinpla_sample_recording();
  host::EncodeOptions options;
  options.codec = kCodecMo1;
  options.mo_training.wavelet_min_saving = -1;  // any predicted saving
  options.mo_training.wavelet_levels = 4;
  options.chunk_seconds = 0.07;
  options.overwrite = true;
  const auto report = host::compress(recording, out / "w.spikey", options);
  EXPECT_TRUE(report.verified);
  const ArchiveReader reader(out / "w.spikey");
  std::size_t wavelet = 0;
  for (const auto& c : reader.metadata().channels) wavelet += !c.predictor.wavelet_weights.empty();
  EXPECT_GT(wavelet, 16u);
  EXPECT_EQ(reader.metadata().codec.wavelet_levels, 4u);
}

namespace {

std::int64_t wide_clamp(std::int64_t v, std::int64_t limit) { return std::clamp(v, -limit, limit); }

// The network's inputs at one step: 8 recent differences (all at the clamp when extreme) and
// a linear prediction.
void random_network_inputs(std::mt19937& rng, bool extreme, std::int32_t* recent, std::int32_t* linear) {
  for (int i = 0; i < kNetHistory; ++i)
    recent[i] = extreme ? (rng() % 2 ? kLpcHistoryClamp : -kLpcHistoryClamp) : static_cast<std::int32_t>(rng() % 4095) - 2047;
  *linear = static_cast<std::int32_t>(rng() % 20001) - 10000;
}

// The scaled inputs x_i of mo_network.hpp, in int64.
void wide_network_inputs(const std::int32_t* recent, std::int32_t linear, std::int32_t input_gain, std::int64_t* x) {
  for (int i = 0; i < kNetInputs; ++i) {
    const std::int64_t v = i < kNetHistory ? recent[i] : wide_clamp(linear, kNetPredictionClamp);
    x[i] = wide_clamp((v * input_gain + 2048) >> 12, kNetInputClamp);
  }
}

}  // namespace

// The network's int32 arithmetic equals the same formulas in int64: no intermediate overflows,
// at the bounds as well as in between.
TEST(MoNetwork, Int32ArithmeticEqualsAWideReference) {
  std::mt19937 rng(31);
  for (int trial = 0; trial < 3000; ++trial) {
    const MoNetwork net = random_network(rng, NetProjector::kRelu);
    const bool extreme = trial % 3 == 0;
    const std::int32_t input_gain = extreme ? kMaxNetInputGain : static_cast<std::int32_t>(1 + rng() % kMaxNetInputGain);
    const std::int32_t output_gain = extreme ? kMaxNetOutputGain : static_cast<std::int32_t>(1 + rng() % kMaxNetOutputGain);
    std::int32_t recent[kNetHistory], linear;
    random_network_inputs(rng, extreme, recent, &linear);
    std::int64_t x[kNetInputs];
    wide_network_inputs(recent, linear, input_gain, x);
    std::int64_t o = net.b2;
    for (int j = 0; j < net.hidden; ++j) {
      std::int64_t pre = net.b1[j];
      for (int i = 0; i < kNetInputs; ++i) pre += std::int64_t{net.w1[j][i]} * x[i];
      o += std::int64_t{net.w2[j]} * (pre > 0 ? std::min<std::int64_t>(pre >> 8, kNetHiddenClamp) : 0);
    }
    ASSERT_LT(std::abs(o), std::int64_t{1} << 31);
    ASSERT_EQ(mo_network_output(net, input_gain, recent, linear), o) << "trial " << trial;
    const std::int64_t y = wide_clamp((o + 128) >> 8, kNetOutputClamp);
    ASSERT_EQ(mo_network_correction(net, input_gain, output_gain, recent, linear, nullptr), wide_clamp(y * output_gain, kMaxNetCorrection));
  }
}

// The GRU projector's int32 arithmetic equals the same formulas in int64, step after step.
TEST(MoNetwork, GruInt32ArithmeticEqualsAWideReference) {
  std::mt19937 rng(37);
  for (int trial = 0; trial < 300; ++trial) {
    const MoNetwork net = random_network(rng, NetProjector::kGru);
    const bool extreme = trial % 3 == 0;
    const std::int32_t input_gain = extreme ? kMaxNetInputGain : static_cast<std::int32_t>(1 + rng() % kMaxNetInputGain);
    std::int32_t state[kMaxGruHidden] = {};
    std::int64_t wide_state[kMaxGruHidden] = {};
    for (int step = 0; step < 20; ++step) {
      std::int32_t recent[kNetHistory], linear;
      random_network_inputs(rng, extreme, recent, &linear);
      std::int64_t x[kNetInputs];
      wide_network_inputs(recent, linear, input_gain, x);
      const auto table = [](std::int64_t pre, bool tanh_gate) {
        const double real = (static_cast<double>(std::clamp<std::int64_t>(pre >> 11, -256, 255)) + 0.5) / 32;
        return static_cast<std::int64_t>(std::floor(256 * (tanh_gate ? std::tanh(real) : 1 / (1 + std::exp(-real))) + 0.5));
      };
      std::int64_t z[kMaxGruHidden], rh[kMaxGruHidden], next[kMaxGruHidden], o = net.b2;
      for (int k = 0; k < net.hidden; ++k) {
        std::int64_t pz = net.gb[0][k], pr = net.gb[1][k];
        for (int i = 0; i < kNetInputs; ++i) pz += std::int64_t{net.gx[0][k][i]} * x[i], pr += std::int64_t{net.gx[1][k][i]} * x[i];
        for (int j = 0; j < net.hidden; ++j) pz += std::int64_t{net.gh[0][k][j]} * wide_state[j], pr += std::int64_t{net.gh[1][k][j]} * wide_state[j];
        ASSERT_LT(std::max(std::abs(pz), std::abs(pr)), std::int64_t{1} << 29);
        z[k] = table(pz, false);
        rh[k] = (table(pr, false) * wide_state[k]) >> 8;
      }
      for (int k = 0; k < net.hidden; ++k) {
        std::int64_t pn = net.gb[2][k];
        for (int i = 0; i < kNetInputs; ++i) pn += std::int64_t{net.gx[2][k][i]} * x[i];
        for (int j = 0; j < net.hidden; ++j) pn += std::int64_t{net.gh[2][k][j]} * rh[j];
        ASSERT_LT(std::abs(pn), std::int64_t{1} << 29);
        next[k] = ((256 - z[k]) * table(pn, true) + z[k] * wide_state[k]) >> 8;
        ASSERT_LE(std::abs(next[k]), 256);
        o += std::int64_t{net.w2[k]} * next[k];
      }
      for (int k = 0; k < net.hidden; ++k) wide_state[k] = next[k];
      ASSERT_EQ(mo_gru_output(net, input_gain, recent, linear, state), o) << "trial " << trial << " step " << step;
      for (int k = 0; k < net.hidden; ++k) ASSERT_EQ(state[k], wide_state[k]);
    }
  }
}

// The gate tables are the formulas of mo_network.hpp.
TEST(MoNetwork, GruTablesAreTheirFormulas) {
  for (int i = -kGruTableHalf; i < kGruTableHalf; ++i) {
    const double real = (i + 0.5) / 32;
    EXPECT_EQ(gru_sigmoid(i + kGruTableHalf), static_cast<std::int32_t>(std::floor(256 / (1 + std::exp(-real)) + 0.5))) << i;
    EXPECT_EQ(gru_tanh(i + kGruTableHalf), static_cast<std::int32_t>(std::floor(256 * std::tanh(real) + 0.5))) << i;
  }
  EXPECT_EQ(gru_table_index(-(1 << 29)), 0);
  EXPECT_EQ(gru_table_index(1 << 29), 2 * kGruTableHalf - 1);
  EXPECT_EQ(gru_table_index(0), kGruTableHalf);
  EXPECT_EQ(gru_table_index(-1), kGruTableHalf - 1);
}

// Options of the network-stage tests: the cinpla sample in short chunks, every channel given
// the network whatever it saves, and a training set big enough for this short sample (smaller
// under sanitizers, where float training runs many times slower).
host::EncodeOptions network_test_options() {
#ifdef SPIKEY_SANITIZED_BUILD
  return test::network_stage_options(1u << 12);
#else
  return test::network_stage_options(1u << 15);
#endif
}

bool restores_cinpla_sample(const fs::path& archive, const fs::path& directory) {
  const ArchiveReader reader(archive);
  host::RestoreOptions restore;
  restore.output_directory = directory;
  return host::restore_sources(reader, restore).mismatched_files.empty() &&
         test::read_file(directory / "cinpla32_30kHz_first6000.dat") ==
             test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
}

// The network stage on real data: training is deterministic for a seed, the channels that use
// the network are the ones where it saves, and the archive round-trips through the lockstep
// decoder (verify) and the scalar reference path (cm1 shares the predictor).
TEST(Mo1, NetworkStageTrainsDeterministicallyAndRoundTrips) {
  test::TempDir out;
  const auto recording = test::cinpla_sample_recording();
  auto options = network_test_options();
  const auto a = host::compress(recording, out / "a.spikey", options);
  const auto b = host::compress(recording, out / "b.spikey", options);
  EXPECT_TRUE(a.verified);
  EXPECT_EQ(test::read_file(out / "a.spikey"), test::read_file(out / "b.spikey")) << "training must be deterministic for a seed";
  const ArchiveReader reader(out / "a.spikey");
  EXPECT_EQ(a.codec, kCodecMo2);
  EXPECT_EQ(reader.metadata().codec.name, kCodecMo2);
  ASSERT_TRUE(reader.metadata().codec.network.has_value());
  EXPECT_EQ(reader.metadata().codec.network->hidden, options.mo_training.network_hidden);
  for (const auto& c : reader.metadata().channels) EXPECT_TRUE(c.predictor.uses_network()) << c.name;
  EXPECT_TRUE(restores_cinpla_sample(out / "a.spikey", out / "restored"));

  options.mo_training.network_seed = 2;
  host::compress(recording, out / "c.spikey", options);
  EXPECT_NE(test::read_file(out / "a.spikey"), test::read_file(out / "c.spikey")) << "the seed should change the network";

  options.codec = kCodecCm1;
  options.mo_training.network_projector = "mlp";
  const auto max = host::compress(recording, out / "m.spikey", options);
  EXPECT_TRUE(max.verified);
  EXPECT_EQ(max.codec, kCodecCm2);
  EXPECT_TRUE(ArchiveReader(out / "m.spikey").metadata().codec.network.has_value());

  // Without the stage the archive has no network at all, and the codec stays mo1.
  options.codec = kCodecMo1;
  options.mo_training.network_hidden = 0;
  host::compress(recording, out / "e.spikey", options);
  const ArchiveReader linear(out / "e.spikey");
  EXPECT_FALSE(linear.metadata().codec.network.has_value());
  EXPECT_EQ(linear.metadata().codec.name, kCodecMo1);
  for (const auto& c : linear.metadata().channels) EXPECT_FALSE(c.predictor.uses_network());
}

// The GRU projector (mo3, cm3): deterministic for a seed and for any thread count, and round
// trips through the lockstep decoder and the scalar path of cm3.
TEST(Mo1, GruProjectorTrainsDeterministicallyAndRoundTrips) {
  test::TempDir out;
  const auto recording = test::cinpla_sample_recording();
  auto options = network_test_options();
  options.mo_training.network_projector = "gru";
  options.mo_training.gru_hidden = 8;
  options.threads = 1;
  const auto g1 = host::compress(recording, out / "g1.spikey", options);
  options.threads = 2;
  const auto g2 = host::compress(recording, out / "g2.spikey", options);
  EXPECT_TRUE(g1.verified);
  EXPECT_EQ(g1.codec, kCodecMo3);
  EXPECT_EQ(test::read_file(out / "g1.spikey"), test::read_file(out / "g2.spikey")) << "GRU training must not depend on the thread count";
  {
    const ArchiveReader gru(out / "g1.spikey");
    ASSERT_TRUE(gru.metadata().codec.network.has_value());
    EXPECT_EQ(gru.metadata().codec.network->projector, NetProjector::kGru);
    EXPECT_EQ(gru.metadata().codec.network->hidden, 8);
  }
  EXPECT_TRUE(restores_cinpla_sample(out / "g1.spikey", out / "restored_gru"));
  options.mo_training.network_projector = "lstm";
  EXPECT_THROW(host::compress(recording, out / "x.spikey", options), std::invalid_argument);
}

// At level max: the GRU gives cm3, and the level's projector choice ("best", trained both)
// keeps one of the two archives whole.
TEST(Mo1, LevelMaxKeepsTheBetterProjector) {
  test::TempDir out;
  const auto recording = test::cinpla_sample_recording();
  auto options = network_test_options();
  options.codec = kCodecCm1;
  options.mo_training.gru_hidden = 4;
  options.mo_training.network_projector = "gru";
  const auto gru_max = host::compress(recording, out / "gru4.spikey", options);
  EXPECT_TRUE(gru_max.verified);
  EXPECT_EQ(gru_max.codec, kCodecCm3);
  options.mo_training.network_projector = "mlp";
  host::compress(recording, out / "relu.spikey", options);
  options.mo_training.network_projector = "";
  host::compress(recording, out / "level.spikey", options);
  const auto chosen = test::read_file(out / "level.spikey");
  EXPECT_TRUE(chosen == test::read_file(out / "relu.spikey") || chosen == test::read_file(out / "gru4.spikey"));
  EXPECT_NE(test::read_file(out / "relu.spikey"), test::read_file(out / "gru4.spikey"));
}

TEST(MoMetadata, NetworkIsValidated) {
  Metadata m;
  m.sample_rate = 1000;
  m.chunk_samples = 100;
  m.total_samples = 10;
  m.codec.name = kCodecMo1;
  m.sources.push_back({});
  m.sources[0].path = "a.wav";
  m.sources[0].channel_count = 2;
  m.sources[0].frames = 10;
  m.sources[0].size = 40;
  for (int c = 0; c < 2; ++c) {
    ChannelInfo info;
    info.length = 10;
    info.predictor.history_weights = {100};
    m.channels.push_back(info);
  }
  MetadataSection section{m, {}};
  section.metadata.channels[1].predictor.network_input_gain = 4096;
  section.metadata.channels[1].predictor.network_output_gain = 160;
  EXPECT_THROW(parse_metadata_section(serialize(section)), ArchiveError) << "gains without a network";
  MoNetwork net;
  net.hidden = 2;
  net.w1[1][3] = 77;
  net.b2 = -5;
  section.metadata.codec.network = net;
  EXPECT_THROW(parse_metadata_section(serialize(section)), ArchiveError) << "mo1 has no network stage: the gains stay unexplained";
  section.metadata.codec.name = kCodecMo2;
  const auto parsed = parse_metadata_section(serialize(section));
  ASSERT_TRUE(parsed.metadata.codec.network.has_value());
  EXPECT_EQ(parsed.metadata.codec.network->w1[1][3], 77);
  EXPECT_EQ(parsed.metadata.codec.network->b2, -5);
  EXPECT_EQ(parsed.metadata.channels[1].predictor.network_output_gain, 160);
  EXPECT_FALSE(parsed.metadata.channels[0].predictor.uses_network());
  EXPECT_THROW(parse_metadata_section(serialize(section), 6), ArchiveError) << "mo2 needs version 7";
  {
    MetadataSection no_network = section;
    no_network.metadata.codec.network.reset();
    EXPECT_THROW(parse_metadata_section(serialize(no_network)), ArchiveError) << "mo2 without its network";
  }
  section.metadata.codec.network->w1[0][0] = kMaxNetWeight + 1;
  EXPECT_THROW(parse_metadata_section(serialize(section)), ArchiveError) << "weight out of range";
  section.metadata.codec.network->w1[0][0] = 0;
  section.metadata.channels[1].predictor.network_input_gain = kMaxNetInputGain + 1;
  EXPECT_THROW(parse_metadata_section(serialize(section)), ArchiveError) << "gain out of range";
  section.metadata.channels[1].predictor.network_input_gain = 4096;

  // mo3: the GRU projector's arrays, stored and checked; version 8 only.
  MoNetwork gru;
  gru.projector = NetProjector::kGru;
  gru.hidden = 3;
  gru.gx[2][1][8] = -4095;
  gru.gh[1][2][0] = 123;
  gru.gb[0][2] = kMaxGruBias;
  gru.w2[2] = 9;
  gru.b2 = 11;
  section.metadata.codec.name = kCodecMo3;
  section.metadata.codec.network = gru;
  const auto with_gru = parse_metadata_section(serialize(section));
  ASSERT_TRUE(with_gru.metadata.codec.network.has_value());
  const MoNetwork& g = *with_gru.metadata.codec.network;
  EXPECT_EQ(g.projector, NetProjector::kGru);
  EXPECT_EQ(g.hidden, 3);
  EXPECT_EQ(g.gx[2][1][8], -4095);
  EXPECT_EQ(g.gh[1][2][0], 123);
  EXPECT_EQ(g.gb[0][2], kMaxGruBias);
  EXPECT_EQ(g.w2[2], 9);
  EXPECT_EQ(g.b2, 11);
  EXPECT_THROW(parse_metadata_section(serialize(section), 7), ArchiveError) << "mo3 needs version 8";
  section.metadata.codec.network->gb[1][0] = kMaxGruBias + 1;
  EXPECT_THROW(parse_metadata_section(serialize(section)), ArchiveError) << "GRU bias out of range";
  section.metadata.codec.network->gb[1][0] = 0;
  section.metadata.codec.network->hidden = kMaxGruHidden + 1;
  EXPECT_THROW(parse_metadata_section(serialize(section)), ArchiveError) << "GRU state larger than 16";
  section.metadata.codec.network->hidden = 3;
  section.metadata.codec.name = kCodecMo2;  // a ReLU network's fields are missing
  EXPECT_THROW(parse_metadata_section(serialize(section)), ArchiveError) << "mo2 reads w1 and b1";
}

// Chunks decoded together (their lanes shared level by level) give exactly what each chunk
// decoded alone gives: all channels, a subset with its sources, and a shorter last chunk.
TEST(Mo1, ChunksDecodedTogetherEqualChunksDecodedAlone) {
  test::TempDir out;
  const auto recording = test::cinpla_sample_recording();
  host::EncodeOptions options;
  options.codec = kCodecMo1;
  options.overwrite = true;
  options.chunk_seconds = 0.07;  // 2100, 2100 and 1800 samples
  options.mo_training.network_samples = 1u << 15;
  host::compress(recording, out / "j.spikey", options);
  const ArchiveReader reader(out / "j.spikey");
  ASSERT_EQ(reader.index().size(), 3u);
  std::size_t linked = 0;
  for (const auto& c : reader.metadata().channels) linked += !c.predictor.sources.empty();
  ASSERT_GT(linked, 0u);
  for (const std::vector<std::uint32_t> channels : {std::vector<std::uint32_t>{}, std::vector<std::uint32_t>{3, 17, 30}}) {
    const auto together = host::decode_chunks(reader, 0, 3, channels);
    ASSERT_EQ(together.size(), 3u);
    for (std::uint64_t chunk = 0; chunk < 3; ++chunk) {
      const auto alone = host::decode_chunk(reader, chunk, channels);
      EXPECT_EQ(together[chunk].chunk, chunk);
      EXPECT_EQ(together[chunk].channel, alone.channel);
      EXPECT_EQ(together[chunk].samples, alone.samples) << "chunk " << chunk << ", " << channels.size() << " channels asked";
    }
  }
}

// Training on a bounded budget: with many channels the trainers see each channel's share of
// EncodeOptions::training_window_in_all as their chunk length, never below kMinTrainingWindow,
// never above the archive's chunks; sync channels do not count.
TEST(Training, WindowIsEachChannelsShareWhenOneChunkOfEveryChannelIsTooMuch) {
  Metadata meta;
  meta.chunk_samples = 19531;
  meta.channels.resize(1024);
  EXPECT_EQ(host::training::training_window(meta, 1u << 23), 8192u);
  EXPECT_EQ(host::training::training_window(meta, 1u << 30), 19531u);
  EXPECT_EQ(host::training::training_window(meta, 1u << 20), host::training::kMinTrainingWindow);
  EXPECT_EQ(host::training::training_window(meta, 1000u * 1024), 4096u);
  EXPECT_EQ(host::training::training_window(meta, 10000u * 1024), 9984u);  // whole 64-sample blocks
  for (std::size_t c = 0; c < 768; ++c) meta.channels[c].sync = true;  // 256 coded channels
  EXPECT_EQ(host::training::training_window(meta, 1u << 23), 19531u);
  meta.channels.resize(32);
  EXPECT_EQ(host::training::training_window(meta, 1u << 23), 19531u);

  // On real data, a window shorter than the chunks changes what training sees, and the archive
  // still round-trips (the model holds no chunk length; the chunks stay whole).
  test::TempDir out;
  const auto recording = test::cinpla_sample_recording();
  host::EncodeOptions options;
  options.chunk_seconds = 0.2;  // the sample's 6000 frames in one chunk
  const auto whole = host::compress(recording, out / "whole.spikey", options);
  options.training_window_in_all = 32 * 4096;  // 4096-sample windows: two of the chunk's
  const auto windowed = host::compress(recording, out / "windowed.spikey", options);
  EXPECT_TRUE(whole.verified);
  EXPECT_TRUE(windowed.verified);
  EXPECT_EQ(ArchiveReader(out / "windowed.spikey").metadata().chunk_samples, 6000u);
  EXPECT_NE(test::read_file(out / "whole.spikey"), test::read_file(out / "windowed.spikey"));
  EXPECT_TRUE(restores_cinpla_sample(out / "windowed.spikey", out / "restored"));
}
