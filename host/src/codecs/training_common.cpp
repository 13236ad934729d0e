#include "codecs/training_common.hpp"

#include <algorithm>
#include <cmath>

#include "spikey/format/codecs/batch/training_batch.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/codecs/mo/wavelet_features.hpp"
#include "spikey/format/value_map.hpp"
#include "spikey/host/parallel.hpp"

namespace spikey::host::training {

namespace f = spikey::format;

std::vector<std::uint64_t> training_chunks(const f::Metadata& meta, std::uint64_t max_samples) {
  const std::uint64_t chunk_count = meta.chunk_count();
  const std::uint64_t wanted = std::max<std::uint64_t>(1, max_samples / std::max<std::uint64_t>(meta.chunk_samples, 1));
  std::vector<std::uint64_t> chunks;
  for (std::uint64_t i = 0; i < std::min(wanted, chunk_count); ++i) chunks.push_back(chunk_count <= wanted ? i : i * chunk_count / wanted);
  return chunks;
}

namespace {

// Each coded (non-sync) channel's share of `in_all` samples.
std::uint64_t coded_channel_share(const f::Metadata& meta, std::uint64_t in_all) {
  std::uint64_t coded = 0;
  for (const auto& channel : meta.channels) coded += channel.sync ? 0 : 1;
  return in_all / std::max<std::uint64_t>(coded, 1);
}

}  // namespace

std::uint64_t training_samples_per_channel(const f::Metadata& meta, std::uint64_t per_channel, std::uint64_t in_all) {
  return std::min(per_channel, std::max<std::uint64_t>(1, coded_channel_share(meta, in_all)));
}

std::uint32_t training_window(const f::Metadata& meta, std::uint64_t in_all) {
  const std::uint64_t share = coded_channel_share(meta, in_all);
  if (share >= meta.chunk_samples) return static_cast<std::uint32_t>(meta.chunk_samples);
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(meta.chunk_samples, std::max<std::uint64_t>(kMinTrainingWindow, share / 64 * 64)));
}

std::vector<ChunkPart> chunk_parts(const f::Metadata& meta, const std::vector<std::uint64_t>& chunks, unsigned threads) {
  constexpr std::size_t kMinPartChannels = 8;
  const std::size_t wanted = 2 * std::size_t{std::max(1u, threads)};
  const std::size_t per_chunk = chunks.empty() ? 1 : (wanted + chunks.size() - 1) / chunks.size();
  std::vector<ChunkPart> parts;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const std::size_t present =
        f::channels_in_chunk(meta, meta.chunk_first_sample(chunks[i]), meta.chunk_sample_count(chunks[i])).channel.size();
    const std::size_t count = std::max<std::size_t>(1, std::min(per_chunk, present / kMinPartChannels));
    for (std::size_t k = 0; k < count; ++k) parts.push_back({i, present * k / count, present * (k + 1) / count});
  }
  return parts;
}

namespace {

// out_low[tau] and out_high[tau] (tau < n): the level's filter sums over a (kWaveletPad zeros,
// then n values) at dilation D. Blocks of kBlock outputs are summed in registers over every tap,
// and the mirror-symmetric filters (low-pass about tap 17, high-pass about tap 16, as the
// lockstep kernels use them) multiply the sum of each mirrored pair once: the same integer sums.
__attribute__((target_clones("avx2", "default"))) void wavelet_filter_sums(const std::int32_t* a, std::uint32_t n, std::uint32_t dilation,
                                                                            std::int32_t* out_low, std::int32_t* out_high) {
  constexpr std::uint32_t kBlock = 32;
  static_assert(f::kDmeyTaps == 34, "low-pass taps 1 .. 33 about 17, high-pass taps 0 .. 32 about 16");
  const std::int32_t* at = a + f::kWaveletPad;  // x(tau - j D) = at[tau - j D]
  const auto block = [&](std::uint32_t tau0) {
    std::int32_t low[kBlock], high[kBlock];
    for (std::uint32_t i = 0; i < kBlock; ++i) {
      const std::int32_t* x = at + tau0 + i;
      low[i] = f::dmey_low(17) * x[-17 * static_cast<std::ptrdiff_t>(dilation)];
      high[i] = f::dmey_high(16) * x[-16 * static_cast<std::ptrdiff_t>(dilation)];
    }
    for (int k = 1; k <= 16; ++k) {
      const std::int32_t lo = f::dmey_low(17 + k), hi = f::dmey_high(16 + k);
      const std::int32_t* low_near = at + tau0 - static_cast<std::ptrdiff_t>(17 - k) * dilation;
      const std::int32_t* low_far = at + tau0 - static_cast<std::ptrdiff_t>(17 + k) * dilation;
      const std::int32_t* high_near = at + tau0 - static_cast<std::ptrdiff_t>(16 - k) * dilation;
      const std::int32_t* high_far = at + tau0 - static_cast<std::ptrdiff_t>(16 + k) * dilation;
      for (std::uint32_t i = 0; i < kBlock; ++i) {
        low[i] += lo * (low_near[i] + low_far[i]);
        high[i] += hi * (high_near[i] + high_far[i]);
      }
    }
    std::copy(low, low + kBlock, out_low + tau0);
    std::copy(high, high + kBlock, out_high + tau0);
  };
  std::uint32_t tau = 0;
  for (; tau + kBlock <= n; tau += kBlock) block(tau);
  if (tau < n) {  // the last outputs from a copy padded past its end, so that a block reads inside it
    std::vector<std::int32_t> tail(f::kWaveletPad + kBlock, 0);
    const std::uint32_t count = n - tau;
    std::copy(at + tau - f::kWaveletPad, at + n, tail.begin());
    std::vector<std::int32_t> low(kBlock), high(kBlock);
    wavelet_filter_sums(tail.data(), kBlock, dilation, low.data(), high.data());
    std::copy(low.begin(), low.begin() + count, out_low + tau);
    std::copy(high.begin(), high.begin() + count, out_high + tau);
  }
}

}  // namespace

void wavelet_feature_series(int levels, const std::vector<std::int32_t>& d, std::vector<std::int16_t>& features) {
  const auto n = static_cast<std::uint32_t>(d.size());
  features.assign(static_cast<std::size_t>(levels + 1) * n, 0);
  if (levels <= 0 || n < 2) return;
  // wavelet_step runs at tau = 1..n-2 for the features of t = tau + 1; a_0[0] stays 0.
  std::vector<std::int32_t> approximation(f::kWaveletPad + n, 0), next(f::kWaveletPad + n, 0), low(n), high(n);
  for (std::uint32_t tau = 1; tau < n; ++tau) approximation[f::kWaveletPad + tau] = d[tau];
  const std::int32_t half = std::int32_t{1} << (f::kDmeyShift - 1);
  for (int l = 1; l <= levels; ++l) {
    wavelet_filter_sums(approximation.data(), n, 1u << (l - 1), low.data(), high.data());
    std::int16_t* detail = features.data() + static_cast<std::size_t>(l - 1) * n;
    for (std::uint32_t tau = 0; tau + 1 < n; ++tau) detail[tau + 1] = static_cast<std::int16_t>(f::clamp_wavelet((high[tau] + half) >> f::kDmeyShift));
    for (std::uint32_t tau = 0; tau < n; ++tau) next[f::kWaveletPad + tau] = f::clamp_wavelet((low[tau] + half) >> f::kDmeyShift);
    next[f::kWaveletPad] = 0;  // tau = 0 never ran: every level's a[0] is 0
    approximation.swap(next);
  }
  std::int16_t* last = features.data() + static_cast<std::size_t>(levels) * n;
  for (std::uint32_t tau = 0; tau + 1 < n; ++tau) last[tau + 1] = static_cast<std::int16_t>(approximation[f::kWaveletPad + tau]);
  for (int k = 0; k <= levels; ++k) features[static_cast<std::size_t>(k) * n + 1] = 0;
}

bool solve_spd(std::vector<std::vector<double>> A, std::vector<double> b, std::vector<double>& x) {
  const std::size_t n = b.size();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < i; ++k) A[i][i] -= A[i][k] * A[i][k];
    if (!(A[i][i] > 0)) return false;
    A[i][i] = std::sqrt(A[i][i]);
    for (std::size_t j = i + 1; j < n; ++j) {
      for (std::size_t k = 0; k < i; ++k) A[j][i] -= A[j][k] * A[i][k];
      A[j][i] /= A[i][i];
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < i; ++k) b[i] -= A[i][k] * b[k];
    b[i] /= A[i][i];
  }
  x.assign(n, 0);
  for (std::size_t i = n; i-- > 0;) {
    double s = b[i];
    for (std::size_t k = i + 1; k < n; ++k) s -= A[k][i] * x[k];
    x[i] = s / A[i][i];
  }
  return true;
}

std::int32_t quantize_weight(double a, std::uint32_t shift) {
  const double w = std::round(a * static_cast<double>(1u << shift));
  return static_cast<std::int32_t>(std::clamp(w, -double(f::kMaxLpcWeight), double(f::kMaxLpcWeight)));
}

std::vector<std::vector<std::int32_t>> chunk_codes(const Recording& recording, const f::Metadata& meta, std::uint64_t chunk, f::ChunkChannels& present) {
  const std::uint64_t first = meta.chunk_first_sample(chunk);
  present = f::channels_in_chunk(meta, first, meta.chunk_sample_count(chunk));
  std::vector<std::int16_t> samples;
  recording.gather(first, present, samples);
  std::vector<std::vector<std::int32_t>> codes(present.channel.size());
  std::size_t position = 0;
  for (std::size_t i = 0; i < present.channel.size(); ++i) {
    const f::ValueMap map = meta.channels[present.channel[i]].value_map;
    codes[i].resize(present.sample_count[i]);
    for (std::uint32_t t = 0; t < present.sample_count[i]; ++t) codes[i][t] = f::value_to_code(map, samples[position + t]);
    position += present.sample_count[i];
  }
  return codes;
}

std::vector<std::vector<std::int32_t>> clamped_differences(const Recording& recording, const f::Metadata& meta, std::uint64_t chunk,
                                                           f::ChunkChannels& present, const std::vector<char>* wanted) {
  present = f::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
  thread_local std::vector<std::int16_t> samples;  // kept: a chunk of many channels is tens of MB
  recording.gather(meta.chunk_first_sample(chunk), present, samples);
  std::vector<std::vector<std::int32_t>> out(present.channel.size());
  std::size_t position = 0;
  for (std::size_t i = 0; i < present.channel.size(); ++i) {
    const f::ValueMap map = meta.channels[present.channel[i]].value_map;
    const std::uint32_t n = present.sample_count[i];
    if (wanted != nullptr && !(*wanted)[present.channel[i]]) {
      position += n;
      continue;
    }
    auto& c = out[i];
    c.assign(n, 0);
    // Each difference from its two codes, the map's kind decided once: the loop vectorizes.
    const std::int16_t* v = samples.data() + position;
    const auto differences = [&](auto code_of) {
      for (std::uint32_t t = 1; t < n; ++t) c[t] = f::clamp_history(code_of(v[t]) - code_of(v[t - 1]));
    };
    if (map.kind == f::ValueMapKind::n1_10bit)
      differences([](std::int16_t value) { return f::n1_value_to_code(value); });
    else if (map.kind == f::ValueMapKind::identity)
      differences([](std::int16_t value) { return std::int32_t{value}; });
    else
      differences([&](std::int16_t value) { return f::value_to_code(map, value); });
    position += n;
  }
  return out;
}

// Clamped differences are below 2^11, so a product is below 2^22 and 256 of them fit an int32
// partial sum. Integer sums do not depend on summation order, so vectorised and scalar builds agree.
double lagged_dot(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b, int lag) {
  const std::size_t k = static_cast<std::size_t>(lag);
  const std::size_t n = std::min(a.size(), b.size() + k);
  std::int64_t total = 0;
  for (std::size_t t = k; t < n; t += 256) {
    const std::size_t end = std::min(n, t + 256);
    std::int32_t block = 0;
    for (std::size_t u = t; u < end; ++u) block += a[u] * b[u - k];
    total += block;
  }
  return static_cast<double>(total);
}

namespace {

// sum_t a[t] * b[t] of 16-bit series whose values lie within clamp_history's bound, so that 256
// products fit an int32 partial sum; GCC turns the inner loop into multiply-adds of pairs.
__attribute__((target_clones("avx2", "default"))) std::int64_t dot_of_clamped(const std::int16_t* a, const std::int16_t* b, std::size_t n) {
  std::int64_t total = 0;
  for (std::size_t t = 0; t < n; t += 256) {
    const std::size_t end = std::min(n, t + 256);
    std::int32_t block = 0;
    for (std::size_t u = t; u < end; ++u) block += std::int32_t{a[u]} * std::int32_t{b[u]};
    total += block;
  }
  return total;
}

// `from` in 16 bits into `to`; false (and `to` unfilled) when a value lies outside
// clamp_history's bound. The bound and the copy in loops of their own, which vectorize.
__attribute__((target_clones("avx2", "default"))) bool as_clamped_16(const std::vector<std::int32_t>& from, std::vector<std::int16_t>& to) {
  std::int32_t lo = 0, hi = 0;
  for (const std::int32_t v : from) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo < -f::kLpcHistoryClamp || hi > f::kLpcHistoryClamp) return false;
  to.resize(from.size());
  for (std::size_t t = 0; t < from.size(); ++t) to[t] = static_cast<std::int16_t>(from[t]);
  return true;
}

}  // namespace

void lagged_dots(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b, int max_lag, double* out) {
  thread_local std::vector<std::int16_t> a16, b16;
  const bool clamped = as_clamped_16(a, a16) && (&b == &a || as_clamped_16(b, b16));
  const std::int16_t* b_16 = &b == &a ? a16.data() : b16.data();  // an autocorrelation: one copy
  for (int lag = 0; lag <= max_lag; ++lag) {
    if (!clamped) {  // not differences clamp_history made: the 32-bit sums
      out[lag] = lagged_dot(a, b, lag);
      continue;
    }
    const auto k = static_cast<std::size_t>(lag);
    const std::size_t end = std::min(a.size(), b.size() + k);
    out[lag] = end > k ? static_cast<double>(dot_of_clamped(a16.data() + k, b_16, end - k)) : 0.0;
  }
}

void append_block_sums(const std::vector<std::int32_t>& c, std::uint64_t block, std::vector<double>& signature) {
  for (std::size_t t = 0; t < c.size(); t += block) {
    double sum = 0;
    for (std::size_t u = t; u < std::min<std::size_t>(c.size(), t + block); ++u) sum += c[u];
    signature.push_back(sum);
  }
}

std::vector<std::vector<float>> unit_signatures(const std::vector<std::vector<double>>& signatures, unsigned threads) {
  std::size_t length = SIZE_MAX;
  for (const auto& s : signatures) length = std::min(length, s.size());
  if (signatures.empty() || length < 8) return std::vector<std::vector<float>>(signatures.size());
  std::vector<std::vector<float>> unit(signatures.size());
  parallel_for(signatures.size(), threads, [&](std::size_t c) {
    const auto& a = signatures[c];
    double mean = 0;
    for (std::size_t i = 0; i < length; ++i) mean += a[i];
    mean /= double(length);
    double norm = 0;
    for (std::size_t i = 0; i < length; ++i) norm += (a[i] - mean) * (a[i] - mean);
    unit[c].assign(length, 0.0f);
    if (norm > 0)
      for (std::size_t i = 0; i < length; ++i) unit[c][i] = static_cast<float>((a[i] - mean) / std::sqrt(norm));
  });
  return unit;
}

float signature_dot(const std::vector<float>& a, const std::vector<float>& b) {
  return f::signature_dot(a.data(), b.data(), std::min(a.size(), b.size()));
}

CorrelationMatrix correlate(const std::vector<std::vector<float>>& unit, unsigned threads, const CorrelationRunner& runner) {
  CorrelationMatrix m;
  m.upper.resize(unit.size());
  const std::uint64_t length = unit.empty() ? 0 : unit[0].size();  // unit_signatures: all of one length, or all empty
  if (runner && length > 0 && unit.size() > 1) {
    SignatureCorrelations job;
    job.channels = static_cast<std::uint32_t>(unit.size());
    job.length = length;
    job.unit.reserve(unit.size() * length);
    for (const auto& u : unit) job.unit.insert(job.unit.end(), u.begin(), u.end());
    runner(job);
    const std::uint64_t pairs = std::uint64_t{job.channels} * (job.channels - 1) / 2;
    if (job.upper.size() != pairs) throw std::logic_error("the correlation executor returned " + std::to_string(job.upper.size()) + " of " + std::to_string(pairs) + " pairs");
    for (std::size_t c = 0; c < unit.size(); ++c) {
      m.upper[c].assign(unit.size() - c, 0.0f);
      for (std::size_t s = c + 1; s < unit.size(); ++s) m.upper[c][s - c] = job.upper[f::signature_pair_index(unit.size(), c, s)];
    }
    return m;
  }
  parallel_for(unit.size(), threads, [&](std::size_t c) {
    m.upper[c].assign(unit.size() - c, 0.0f);
    for (std::size_t s = c + 1; s < unit.size(); ++s) m.upper[c][s - c] = std::fabs(signature_dot(unit[c], unit[s]));
  });
  return m;
}

void run_correlations_on_cpu(SignatureCorrelations& job, unsigned threads) {
  job.upper.assign(std::uint64_t{job.channels} * (job.channels > 0 ? job.channels - 1 : 0) / 2, 0.0f);
  parallel_for(job.channels, threads, [&](std::size_t c) {
    for (std::size_t s = c + 1; s < job.channels; ++s)
      job.upper[f::signature_pair_index(job.channels, c, s)] =
          std::fabs(f::signature_dot(job.unit.data() + c * job.length, job.unit.data() + s * job.length, job.length));
  });
}

}  // namespace spikey::host::training
