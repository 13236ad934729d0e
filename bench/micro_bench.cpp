// Micro-benchmarks of the codec stages on real N1 samples (samples/neuralink). Bytes
// processed are original WAV sample bytes (2 per sample), so MB/s compares with the corpus
// benchmark.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "spikey/format/codecs/rice1/rice1_stream.hpp"
#include "spikey/format/codecs/common/rice.hpp"
#include "spikey/format/value_map.hpp"
#include "spikey/format/codecs/common/golomb_stream.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "codecs/lpc/lpc_lanes.hpp"
#include "codecs/mo/mo_lanes.hpp"

namespace f = spikey::format;

namespace {

std::vector<std::int16_t> real_samples() {
  const auto path = std::filesystem::path(SPIKEY_SOURCE_DIR) / "samples" / "neuralink" / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav";
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (bytes.size() < 44) throw std::runtime_error("missing " + path.string());
  std::vector<std::int16_t> samples((bytes.size() - 44) / 2);
  std::memcpy(samples.data(), bytes.data() + 44, samples.size() * 2);
  return samples;
}

std::vector<std::int32_t> real_codes() {
  const f::ValueMap n1{f::ValueMapKind::n1_10bit};
  std::vector<std::int32_t> codes;
  for (auto v : real_samples()) codes.push_back(f::value_to_code(n1, v));
  return codes;
}

void BM_ValueMapN1Forward(benchmark::State& state) {
  const auto samples = real_samples();
  std::vector<std::int32_t> codes(samples.size());
  const f::ValueMap n1{f::ValueMapKind::n1_10bit};
  for (auto _ : state) {
    for (std::size_t i = 0; i < samples.size(); ++i) codes[i] = f::value_to_code(n1, samples[i]);
    benchmark::DoNotOptimize(codes.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * samples.size() * 2));
}

void BM_ValueMapN1Inverse(benchmark::State& state) {
  const auto codes = real_codes();
  std::vector<std::int16_t> values(codes.size());
  const f::ValueMap n1{f::ValueMapKind::n1_10bit};
  for (auto _ : state) {
    for (std::size_t i = 0; i < codes.size(); ++i) values[i] = f::code_to_value(n1, codes[i]);
    benchmark::DoNotOptimize(values.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * codes.size() * 2));
}

void BM_EncodeChannelStream(benchmark::State& state) {
  const auto codes = real_codes();
  const auto n = static_cast<std::uint32_t>(codes.size());
  const auto partition = static_cast<std::uint32_t>(state.range(0));
  std::vector<std::uint32_t> scratch(n), words(f::max_rice1_stream_words(n, partition));
  std::uint32_t size = 0;
  for (auto _ : state) {
    size = f::encode_rice1_stream(codes.data(), n, partition, scratch.data(), words.data());
    benchmark::DoNotOptimize(words.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * 2));
  state.counters["bits_per_sample"] = 32.0 * size / n;
}

void BM_DecodeChannelStream(benchmark::State& state) {
  const auto codes = real_codes();
  const auto n = static_cast<std::uint32_t>(codes.size());
  const auto partition = static_cast<std::uint32_t>(state.range(0));
  std::vector<std::uint32_t> scratch(n), words(f::max_rice1_stream_words(n, partition));
  words.resize(f::encode_rice1_stream(codes.data(), n, partition, scratch.data(), words.data()));
  std::vector<std::int32_t> decoded(n);
  for (auto _ : state) {
    const auto status = f::decode_rice1_stream(reinterpret_cast<const std::uint8_t*>(words.data()), words.size() * 4ull, n,
                                                 partition, decoded.data());
    if (status != f::StreamStatus::ok || decoded != codes) state.SkipWithError("decode mismatch");
    benchmark::DoNotOptimize(decoded.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * 2));
}

void BM_RiceParameterChoice(benchmark::State& state) {
  const auto codes = real_codes();
  std::vector<std::uint32_t> folded;
  for (std::size_t t = 1; t < codes.size(); ++t) folded.push_back(f::zigzag_encode(codes[t] - codes[t - 1]));
  const int partition = static_cast<int>(state.range(0));
  for (auto _ : state) {
    int sum = 0;
    for (std::size_t start = 0; start + static_cast<std::size_t>(partition) <= folded.size(); start += static_cast<std::size_t>(partition))
      sum += f::rice_parameter_for_partition(folded.data() + start, partition);
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * folded.size() * 2));
}

// lpc1 stages on one real channel with trained-looking weights (16 taps).
struct LpcFixture {
  std::vector<std::int32_t> codes = real_codes();
  std::uint32_t n = static_cast<std::uint32_t>(codes.size());
  f::LpcModel model;
  std::vector<std::int32_t> weights = {-10, 14, -20, 25, -31, 40, -55, 70, -90, 120, -160, 230, -330, 520, -900, 2900};
  std::vector<std::int32_t> history = std::vector<std::int32_t>(f::lpc_history_buffer_size(n));
  std::vector<std::int32_t> source = std::vector<std::int32_t>(f::source_buffer_size(n));
  std::vector<std::uint32_t> folded = std::vector<std::uint32_t>(n);
  LpcFixture(std::int32_t lms_step) {
    model.order = 16;
    model.lms_step = lms_step;
  }
};

void BM_LpcPredictScalar(benchmark::State& state) {
  LpcFixture fx(static_cast<std::int32_t>(state.range(0)));
  for (auto _ : state) {
    auto w = fx.weights;
    f::lpc_fold_residuals(fx.model, fx.codes.data(), fx.n, w.data(), fx.history.data(), fx.source.data(), fx.folded.data());
    benchmark::DoNotOptimize(fx.folded.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * fx.n * 2));
}

// The lockstep kernel: 8 channels per call (bytes count all 8).
void BM_LpcLanesReconstruct(benchmark::State& state) {
  LpcFixture fx(static_cast<std::int32_t>(state.range(0)));
  auto w = fx.weights;
  f::lpc_fold_residuals(fx.model, fx.codes.data(), fx.n, w.data(), fx.history.data(), fx.source.data(), fx.folded.data());
  spikey::host::lanes::LpcLaneGroup group;
  group.lanes = spikey::host::lanes::kLanes;
  group.n = fx.n;
  std::vector<std::vector<std::int32_t>> out(spikey::host::lanes::kLanes, std::vector<std::int32_t>(fx.n));
  const std::uint32_t* in[spikey::host::lanes::kLanes];
  std::int32_t* codes_out[spikey::host::lanes::kLanes];
  std::int32_t first[spikey::host::lanes::kLanes];
  for (int l = 0; l < group.lanes; ++l) {
    group.model[l] = fx.model;
    group.weights[l] = fx.weights.data();
    in[l] = fx.folded.data();
    codes_out[l] = out[static_cast<std::size_t>(l)].data();
    first[l] = fx.codes[0];
  }
  for (auto _ : state) {
    spikey::host::lanes::lpc_reconstruct(group, first, in, codes_out);
    benchmark::DoNotOptimize(codes_out[0]);
  }
  if (out[3] != fx.codes) state.SkipWithError("lockstep kernel mismatch");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * fx.n * 2 * spikey::host::lanes::kLanes));
  state.SetLabel(spikey::host::lanes::instruction_set());
}

// Level default's decoder kernel: 8 N1 channels in lockstep with 16 history taps, two source
// windows and, with range(0) > 0, the network stage with that many hidden units (a ReLU layer,
// or with range(1) = 1 a GRU).
void BM_MoLanesReconstruct(benchmark::State& state) {
  namespace lanes = spikey::host::lanes;
  const auto codes = real_codes();
  const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(codes.size(), 19531));
  f::MoNetwork net;
  net.hidden = static_cast<int>(state.range(0));
  net.projector = state.range(1) == 1 ? f::NetProjector::kGru : f::NetProjector::kRelu;
  for (int j = 0; j < net.hidden; ++j) {
    for (int i = 0; i < f::kNetInputs; ++i) {
      net.w1[j][i] = (j * 37 + i * 11) % 401 - 200;
      for (int g = 0; g < f::kGruGates; ++g) net.gx[g][j][i] = (j * 29 + i * 13 + g * 7) % 301 - 150;
    }
    for (int k = 0; k < net.hidden; ++k)
      for (int g = 0; g < f::kGruGates; ++g) net.gh[g][j][k] = (j * 17 + k * 19 + g * 5) % 201 - 100;
    net.w2[j] = (j * 53) % 301 - 150;
  }
  f::MoModel model;
  model.order = 16;
  model.sources = 2;
  model.half_window = 2;
  if (net.hidden > 0) model.network = &net, model.net_input_gain = 8192, model.net_output_gain = 256;
  std::vector<std::int32_t> weights(static_cast<std::size_t>(model.taps()), 0);
  weights[15] = 3000;
  weights[14] = -800;
  std::vector<std::int32_t> source(f::source_buffer_size(n));
  f::fill_source_buffer(codes.data(), n, n, source.data());
  const std::int32_t* sources[f::kMaxMoSources] = {source.data(), source.data()};
  std::vector<std::int32_t> w = weights, history(f::mo_history_buffer_size(n)), features(f::kMoStateSize);
  std::vector<std::uint32_t> folded(n);
  f::mo_fold_residuals(model, codes.data(), n, w.data(), history.data(), nullptr, features.data(), sources, folded.data());
  lanes::MoLaneGroup group;
  group.lanes = lanes::kLanes;
  group.n = n;
  std::vector<std::vector<std::int32_t>> out(lanes::kLanes, std::vector<std::int32_t>(n));
  const std::uint32_t* in[lanes::kLanes];
  std::int32_t* codes_out[lanes::kLanes];
  std::int32_t first[lanes::kLanes];
  for (int l = 0; l < group.lanes; ++l) {
    group.model[l] = model;
    group.weights[l] = weights.data();
    group.sources[l][0] = group.sources[l][1] = source.data();
    in[l] = folded.data();
    codes_out[l] = out[static_cast<std::size_t>(l)].data();
    first[l] = codes[0];
  }
  for (auto _ : state) {
    lanes::mo_reconstruct(group, first, in, codes_out);
    benchmark::DoNotOptimize(codes_out[0]);
  }
  if (!std::equal(out[3].begin(), out[3].end(), codes.begin())) state.SkipWithError("lockstep kernel mismatch");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * 2 * lanes::kLanes));
  state.SetLabel(lanes::instruction_set());
}

void BM_GolombEncodeStream(benchmark::State& state) {
  LpcFixture fx(0);
  auto w = fx.weights;
  f::lpc_fold_residuals(fx.model, fx.codes.data(), fx.n, w.data(), fx.history.data(), fx.source.data(), fx.folded.data());
  std::vector<std::uint8_t> indices(fx.n / 256 + 2);
  std::vector<std::uint32_t> words(f::max_golomb_stream_words(fx.n, 256));
  std::uint32_t size = 0;
  for (auto _ : state) {
    f::golomb_partition_indices(fx.folded.data(), fx.n - 1, 256, indices.data());
    size = f::encode_golomb_stream(fx.codes[0], false, fx.folded.data(), fx.n - 1, 256, indices.data(), words.data());
    benchmark::DoNotOptimize(words.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * fx.n * 2));
  state.counters["bits_per_sample"] = 32.0 * size / fx.n;
}

void BM_GolombDecodeStream(benchmark::State& state) {
  LpcFixture fx(0);
  auto w = fx.weights;
  f::lpc_fold_residuals(fx.model, fx.codes.data(), fx.n, w.data(), fx.history.data(), fx.source.data(), fx.folded.data());
  std::vector<std::uint8_t> indices(fx.n / 256 + 2);
  std::vector<std::uint32_t> words(f::max_golomb_stream_words(fx.n, 256));
  f::golomb_partition_indices(fx.folded.data(), fx.n - 1, 256, indices.data());
  words.resize(f::encode_golomb_stream(fx.codes[0], false, fx.folded.data(), fx.n - 1, 256, indices.data(), words.data()));
  std::vector<std::uint32_t> decoded(fx.n);
  for (auto _ : state) {
    std::int32_t first;
    bool adapt;
    if (!f::decode_golomb_stream_residuals(reinterpret_cast<const std::uint8_t*>(words.data()), words.size() * 4ull, fx.n, 256, &first, &adapt,
                                        decoded.data()))
      state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(decoded.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * fx.n * 2));
}

}  // namespace

BENCHMARK(BM_LpcPredictScalar)->Arg(0)->Arg(2);
BENCHMARK(BM_LpcLanesReconstruct)->Arg(0)->Arg(2);
BENCHMARK(BM_MoLanesReconstruct)->Args({0, 0})->Args({8, 0})->Args({16, 0})->Args({8, 1})->Args({16, 1});
BENCHMARK(BM_GolombEncodeStream);
BENCHMARK(BM_GolombDecodeStream);
BENCHMARK(BM_ValueMapN1Forward);
BENCHMARK(BM_ValueMapN1Inverse);
BENCHMARK(BM_EncodeChannelStream)->Arg(64)->Arg(256)->Arg(1024);
BENCHMARK(BM_DecodeChannelStream)->Arg(64)->Arg(256)->Arg(1024);
BENCHMARK(BM_RiceParameterChoice)->Arg(256);
BENCHMARK_MAIN();
