// Body of the lockstep mo1 kernel, compiled once per instruction set (included by
// codecs/lanes/lanes_*.cpp inside their namespace, after lpc_lanes_impl.hpp, whose vector helpers it uses).
namespace mo_detail {

using spikey::host::lanes::MoLaneGroup;

constexpr int kMoGroupTaps = f::kMaxMoTaps;

struct MoScratch {
  std::vector<std::int32_t> history;  // (pad + n) rows
  std::vector<std::int32_t> pairs;    // (pad + n) rows: row r holds history rows r and r + 1 as int16 pairs
  std::vector<std::int32_t> sources;  // per source slot: (n + 2W) rows
  std::vector<std::int32_t> wavelet;  // per level below L: (kWaveletPad + n) rows
  std::vector<std::int32_t> codes;    // n rows
  std::vector<std::uint32_t> folded;  // n rows
};

// Two per thread: the decoder runs two groups at once (reconstruct_from_sources).
MoScratch& mo_scratch(int i) {
  thread_local MoScratch s[2];
  return s[i];
}

// The network's weights packed as int16 pairs in int32 words, so that one multiply-add of
// int16 pairs (x_a·w_a + x_b·w_b, exact in int32: every |value| fits 14 bits) does two taps.
constexpr int kInputPairs = (f::kNetInputs + 1) / 2;
struct PackedNetwork {
  int hidden = 0;
  std::int32_t w1[f::kMaxNetHidden][kInputPairs] = {};  // inputs 2k, 2k+1 of hidden unit j (the 10th input is 0)
  std::int32_t b1[f::kMaxNetHidden] = {};
  std::int32_t w2[f::kMaxNetHidden / 2] = {};          // hidden units 2k, 2k+1
  std::int32_t b2 = 0;
};

constexpr std::int32_t pack_pair(std::int32_t low, std::int32_t high) {
  return static_cast<std::int32_t>((static_cast<std::uint32_t>(low) & 0xffffu) | (static_cast<std::uint32_t>(high) << 16));
}

PackedNetwork pack_network(const f::MoNetwork& net) {
  PackedNetwork p;
  p.hidden = net.hidden;
  for (int j = 0; j < net.hidden; ++j) {
    for (int k = 0; k < kInputPairs; ++k)
      p.w1[j][k] = pack_pair(net.w1[j][2 * k], 2 * k + 1 < f::kNetInputs ? net.w1[j][2 * k + 1] : 0);
    p.b1[j] = net.b1[j];
  }
  for (int k = 0; 2 * k < net.hidden; ++k) p.w2[k] = pack_pair(net.w2[2 * k], 2 * k + 1 < net.hidden ? net.w2[2 * k + 1] : 0);
  p.b2 = net.b2;
  return p;
}

// mo_network_correction (mo_network.hpp) for all lanes; `recent` is the row of c[t-8].
[[gnu::always_inline]] inline lanes_i32 network_correction(const PackedNetwork& net, const std::int32_t* recent, lanes_i32 acc, int shift,
                                                          lanes_i32 input_gain, lanes_i32 output_gain) {
  const lanes_i32 input_half = lanes_i32{} + (std::int32_t{1} << (f::kNetInputShift - 1));
  const auto input = [&](lanes_i32 v) { return clamp((v * input_gain + input_half) >> f::kNetInputShift, f::kNetInputClamp); };
  const lanes_i32 linear = (acc + (std::int32_t{1} << (shift - 1))) >> shift;
  lanes_i32 x[kInputPairs];
  for (int k = 0; k < f::kNetHistory / 2; ++k) x[k] = pack_lanes(input(load(recent + 2 * k * kLanes)), input(load(recent + (2 * k + 1) * kLanes)));
  x[kInputPairs - 1] = input(clamp(linear, f::kNetPredictionClamp)) & 0xffff;
  const lanes_i32 hidden_max = lanes_i32{} + f::kNetHiddenClamp;
  const auto hidden = [&](int j) {
    lanes_i32 pre = lanes_i32{} + net.b1[j];
#pragma GCC unroll 5
    for (int k = 0; k < kInputPairs; ++k) pre += multiply_add_pairs(x[k], lanes_i32{} + net.w1[j][k]);
    lanes_i32 h = pre >> f::kNetActivationShift;
    h &= h > 0;
    return h > hidden_max ? hidden_max : h;
  };
  lanes_i32 o = lanes_i32{} + net.b2;
  for (int j = 0; j < net.hidden; j += 2) {
    const lanes_i32 low = hidden(j);
    const lanes_i32 high = j + 1 < net.hidden ? hidden(j + 1) : lanes_i32{};
    o += multiply_add_pairs(pack_lanes(low, high), lanes_i32{} + net.w2[j / 2]);
  }
  const lanes_i32 y = clamp((o + (std::int32_t{1} << (f::kNetActivationShift - 1))) >> f::kNetActivationShift, f::kNetOutputClamp);
  return clamp(y * output_gain, f::kMaxNetCorrection);
}

// The GRU projector (§6.8.2) for all lanes at once: every lane runs the recording's one
// network, so each weight multiplies a vector of the lanes' inputs; the gate tables are read
// lane by lane (a gather on AVX2).
struct GruTables {
  alignas(32) std::int32_t sigmoid[2 * f::kGruTableHalf];
  alignas(32) std::int32_t tanh[2 * f::kGruTableHalf];
  GruTables() {
    for (int i = 0; i < 2 * f::kGruTableHalf; ++i) sigmoid[i] = f::gru_sigmoid(i), tanh[i] = f::gru_tanh(i);
  }
};

[[gnu::always_inline]] inline lanes_i32 gru_lookup(const std::int32_t* table, lanes_i32 pre) {
  lanes_i32 index = pre >> f::kGruTableShift;
  const lanes_i32 lo = lanes_i32{} - f::kGruTableHalf, hi = lanes_i32{} + (f::kGruTableHalf - 1);
  index = index < lo ? lo : index;
  index = (index > hi ? hi : index) + f::kGruTableHalf;
#if defined(__AVX2__)
  return (lanes_i32)_mm256_i32gather_epi32(table, (__m256i)index, 4);
#else
  lanes_i32 out;
  for (int l = 0; l < kLanes; ++l) out[l] = table[index[l]];
  return out;
#endif
}

// The GRU's weights as int16 pairs (as PackedNetwork): inputs 2i, 2i+1 and state units 2j, 2j+1
// share a word, so one multiply-add of int16 pairs does two taps (|x| <= 8191, |h|, |q| <= 256
// and |weight| <= 4095 all fit 14 bits; the pair sums stay far inside int32).
constexpr int kGruStatePairs = f::kMaxGruHidden / 2;
struct PackedGru {
  int hidden = 0;
  std::int32_t gx[f::kGruGates][f::kMaxGruHidden][kInputPairs] = {};
  std::int32_t gh[f::kGruGates][f::kMaxGruHidden][kGruStatePairs] = {};
  std::int32_t gb[f::kGruGates][f::kMaxGruHidden] = {};
  std::int32_t w2[kGruStatePairs] = {};
  std::int32_t b2 = 0;
};

PackedGru pack_gru(const f::MoNetwork& net) {
  PackedGru p;
  p.hidden = net.hidden;
  const auto state_weight = [&](const std::int32_t* row, int j) { return j < net.hidden ? row[j] : 0; };
  for (int g = 0; g < f::kGruGates; ++g)
    for (int k = 0; k < net.hidden; ++k) {
      for (int i = 0; i < kInputPairs; ++i)
        p.gx[g][k][i] = pack_pair(net.gx[g][k][2 * i], 2 * i + 1 < f::kNetInputs ? net.gx[g][k][2 * i + 1] : 0);
      for (int j = 0; 2 * j < net.hidden; ++j) p.gh[g][k][j] = pack_pair(net.gh[g][k][2 * j], state_weight(net.gh[g][k], 2 * j + 1));
      p.gb[g][k] = net.gb[g][k];
    }
  for (int j = 0; 2 * j < net.hidden; ++j) p.w2[j] = pack_pair(net.w2[2 * j], state_weight(net.w2, 2 * j + 1));
  p.b2 = net.b2;
  return p;
}

struct GruLanes {
  lanes_i32 state[f::kMaxGruHidden] = {};
};

// mo_network_correction with a GRU projector for all lanes; `recent` is the row of c[t-8]. The
// state moves on only in the lanes set in `live` (lanes waiting for their start keep theirs).
inline lanes_i32 gru_correction(const PackedGru& net, const GruTables& tables, GruLanes& gru, const std::int32_t* recent, lanes_i32 acc,
                                int shift, lanes_i32 input_gain, lanes_i32 output_gain, lanes_i32 live) {
  const lanes_i32 input_half = lanes_i32{} + (std::int32_t{1} << (f::kNetInputShift - 1));
  const auto input = [&](lanes_i32 v) { return clamp((v * input_gain + input_half) >> f::kNetInputShift, f::kNetInputClamp); };
  lanes_i32 x[kInputPairs];
  for (int i = 0; i < f::kNetHistory / 2; ++i) x[i] = pack_lanes(input(load(recent + 2 * i * kLanes)), input(load(recent + (2 * i + 1) * kLanes)));
  x[kInputPairs - 1] = input(clamp((acc + (std::int32_t{1} << (shift - 1))) >> shift, f::kNetPredictionClamp)) & 0xffff;
  const int hidden = net.hidden;
  const int pairs = (hidden + 1) / 2;
  lanes_i32* h = gru.state;
  lanes_i32 hp[kGruStatePairs], qp[kGruStatePairs];
  for (int j = 0; j < pairs; ++j) hp[j] = pack_lanes(h[2 * j], 2 * j + 1 < hidden ? h[2 * j + 1] : lanes_i32{});
  lanes_i32 z[f::kMaxGruHidden], q[f::kMaxGruHidden];
  for (int k = 0; k < hidden; ++k) {
    lanes_i32 pz = lanes_i32{} + net.gb[0][k], pr = lanes_i32{} + net.gb[1][k];
#pragma GCC unroll 5
    for (int i = 0; i < kInputPairs; ++i) pz += multiply_add_pairs(x[i], lanes_i32{} + net.gx[0][k][i]), pr += multiply_add_pairs(x[i], lanes_i32{} + net.gx[1][k][i]);
    for (int j = 0; j < pairs; ++j) pz += multiply_add_pairs(hp[j], lanes_i32{} + net.gh[0][k][j]), pr += multiply_add_pairs(hp[j], lanes_i32{} + net.gh[1][k][j]);
    z[k] = gru_lookup(tables.sigmoid, pz);
    q[k] = (gru_lookup(tables.sigmoid, pr) * h[k]) >> 8;
  }
  for (int j = 0; j < pairs; ++j) qp[j] = pack_lanes(q[2 * j], 2 * j + 1 < hidden ? q[2 * j + 1] : lanes_i32{});
  for (int k = 0; k < hidden; ++k) {
    lanes_i32 pn = lanes_i32{} + net.gb[2][k];
#pragma GCC unroll 5
    for (int i = 0; i < kInputPairs; ++i) pn += multiply_add_pairs(x[i], lanes_i32{} + net.gx[2][k][i]);
    for (int j = 0; j < pairs; ++j) pn += multiply_add_pairs(qp[j], lanes_i32{} + net.gh[2][k][j]);
    const lanes_i32 n = gru_lookup(tables.tanh, pn);
    z[k] = ((f::kGruOne - z[k]) * n + z[k] * h[k]) >> 8;  // z[k] becomes h'_k; h itself changes only after the loop
  }
  lanes_i32 o = lanes_i32{} + net.b2;
  for (int k = 0; k < hidden; ++k) h[k] = (z[k] & live) | (h[k] & ~live);
  for (int j = 0; j < pairs; ++j) o += multiply_add_pairs(pack_lanes(h[2 * j], 2 * j + 1 < hidden ? h[2 * j + 1] : lanes_i32{}), lanes_i32{} + net.w2[j]);
  const lanes_i32 y = clamp((o + (std::int32_t{1} << (f::kNetActivationShift - 1))) >> f::kNetActivationShift, f::kNetOutputClamp);
  return clamp(y * output_gain, f::kMaxNetCorrection);
}

// What a pass of the kernel does per step: the encoder's folded residuals (Golomb codecs) or
// signed residuals (mt codecs) from known codes; the decoder's codes from folded residuals, or
// from residuals a source decodes once it knows each lane's predicted code.
enum class MoPass { fold, residuals, reconstruct_folded, reconstruct_from_source };

// One group's run of the kernel: the setup (the group's layout, its weights, its rows in the
// scratch), then each step of the group's clock in two halves, then the rows back to columns.
// The halves let the decoder interleave two groups' steps (reconstruct_from_pair): the entropy
// decoder's table lookups wait on memory, and the other group's work fills the wait.
template <MoPass kPass>
class MoRun {
 public:
  static constexpr bool kDecode = kPass == MoPass::reconstruct_folded || kPass == MoPass::reconstruct_from_source;

  MoRun(const MoLaneGroup& g, const std::int32_t* first_code, const std::uint32_t* const* folded_in, const std::int32_t* const* codes_in,
        MoScratch& s)
      : g_(g) {
    // Group layout: history taps (the longest lane's), wavelet taps (when any lane uses them),
    // then source slots (the most sources of any lane); lanes with fewer taps get zero weights
    // and zero steps there.
    half_window_ = g.model[0].half_window;
    for (int l = 0; l < g.lanes; ++l) {
      order_ = std::max(order_, g.model[l].order);
      sources_ = std::max(sources_, g.model[l].sources);
      levels_ = std::max(levels_, g.model[l].levels);
    }
    wavelet_taps_ = levels_ > 0 ? levels_ + 1 : 0;
    window_ = 2 * half_window_ + 1;
    // Lagged lanes (the decoder's groups along chains of sources): every buffer is indexed by the
    // group's clock, lane l's time t at row t + lag[l]; the clock runs max_lag steps further.
    if constexpr (kPass == MoPass::reconstruct_from_source) {
      for (int l = 0; l < g.lanes; ++l) {
        max_lag_ = std::max(max_lag_, g.lag[l]);
        for (int k = 0; k < g.model[l].sources; ++k)
          if (g.in_group_source[l][k] != 0) in_group_[in_group_count_++] = {l, k, g.in_group_source[l][k] - 1};
      }
    }
    alignas(32) std::int32_t lag_table[kLanes] = {};
    for (int l = 0; l < g.lanes; ++l) lag_table[l] = static_cast<std::int32_t>(g.lag[l]);
    lag_ = load(lag_table);
    // The network stage (version 7): lanes without it get zero gains, so their correction is 0.
    alignas(32) std::int32_t input_gain_table[kLanes] = {}, output_gain_table[kLanes] = {};
    for (int l = 0; l < g.lanes; ++l)
      if (g.model[l].uses_network()) {
        network_ = g.model[l].network;
        input_gain_table[l] = g.model[l].net_input_gain;
        output_gain_table[l] = g.model[l].net_output_gain;
      }
    input_gain_ = load(input_gain_table), output_gain_ = load(output_gain_table);
    // History rows: `pad` zero rows (the linear taps' order, or the network's 8 inputs), then c[t]
    // at row pad + t.
    // The history taps in int16 pairs, each pair one multiply-add (every weight and clamped
    // difference fits 15 bits): an odd order gets a tap of weight and step 0 at its oldest end.
    history_pairs_ = (order_ + 1) / 2;
    paired_order_ = 2 * history_pairs_;
    pad_ = network_ != nullptr ? std::max(paired_order_, f::kNetHistory) : paired_order_;
    gru_ = network_ != nullptr && network_->projector == f::NetProjector::kGru;
    if (network_ != nullptr) gru_ ? void(packed_gru_ = pack_gru(*network_)) : void(net_ = pack_network(*network_));
    const int total_taps = order_ + wavelet_taps_ + sources_ * window_;
    alignas(32) std::int32_t weight_table[kMoGroupTaps][kLanes] = {};
    alignas(32) std::int32_t step_table[kMoGroupTaps][kLanes] = {};
    for (int l = 0; l < g.lanes; ++l) {
      const f::MoModel& m = g.model[l];
      int i = 0;
      for (int k = 0; k < m.order; ++k, ++i) weight_table[order_ - m.order + k][l] = g.weights[l][i], step_table[order_ - m.order + k][l] = m.lms_step;
      for (int k = 0; k < m.wavelet_taps(); ++k, ++i) weight_table[order_ + k][l] = g.weights[l][i], step_table[order_ + k][l] = m.lms_step;
      for (int src = 0; src < m.sources; ++src)
        for (int k = 0; k < window_; ++k, ++i) {
          const int tap = order_ + wavelet_taps_ + src * window_ + k;
          weight_table[tap][l] = g.weights[l][i];
          step_table[tap][l] = m.lms_step;
        }
    }
    pair_taps(weight_table, step_table, order_, weight_pair_, step_pair_);
    for (int k = order_; k < total_taps; ++k) weight_[k] = load(weight_table[k]), step_[k] = load(step_table[k]);  // the history taps are paired

    const std::size_t n = g.n;
    rows_ = n + max_lag_;  // of the group's clock
    const std::size_t lanes = kLanes;
    s.history.resize((static_cast<std::size_t>(pad_) + rows_) * lanes);
    std::fill(s.history.begin(), s.history.begin() + static_cast<std::ptrdiff_t>(pad_ + 1) * kLanes, 0);
    s.pairs.resize((static_cast<std::size_t>(pad_) + rows_) * lanes);
    std::fill(s.pairs.begin(), s.pairs.begin() + static_cast<std::ptrdiff_t>(pad_) * kLanes, 0);
    // In-group sources write a row for every clock step, up to max_lag rows past the clock's end.
    source_rows_ = rows_ + 2 * static_cast<std::size_t>(half_window_) + max_lag_;
    // Every entry written once, row by row (sequential stores): lane l's source buffer c_s[-W ..
    // n - 1 + W] at rows lag[l] .. lag[l] + n + 2W - 1, zeros elsewhere, in unused slots and in
    // the columns of in-group sources (their lanes fill them as they decode).
    s.sources.resize(static_cast<std::size_t>(sources_) * source_rows_ * lanes);
    const std::size_t buffer_rows = n + 2 * static_cast<std::size_t>(half_window_);
    for (int k = 0; k < sources_; ++k) {
      const std::int32_t* src[kLanes] = {};
      std::size_t from[kLanes] = {};
      for (int l = 0; l < g.lanes; ++l)
        if (k < g.model[l].sources && g.in_group_source[l][k] == 0)
          src[l] = g.sources[l][k] + f::kMaxSourceHalfWindow - half_window_, from[l] = g.lag[l];  // c_s[-W]
      columns_to_rows(src, from, buffer_rows, source_rows_, s.sources.data() + static_cast<std::size_t>(k) * source_rows_ * lanes);
    }
    // Source lane m's code at its time tau (clock t = tau + lag[m]) is lane l's source value at
    // row tau + W + lag[l]. Outside the source's times (tau <= 0, tau >= n) its code is 0 (the
    // lane is not live), which is the buffer's value there, so every step writes.
    for (int i = 0; i < in_group_count_; ++i) {
      InGroup& link = in_group_[i];
      link.at = (static_cast<std::size_t>(link.slot) * source_rows_ + static_cast<std::size_t>(half_window_) + g.lag[link.lane] - g.lag[link.source_lane]) * lanes +
                static_cast<std::size_t>(link.lane);
    }
    wavelet_rows_ = f::kWaveletPad + rows_;
    s.wavelet.resize(static_cast<std::size_t>(levels_) * wavelet_rows_ * lanes);
    for (int level = 0; level < levels_; ++level)
      std::fill(s.wavelet.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(level) * wavelet_rows_ * lanes),
                s.wavelet.begin() + static_cast<std::ptrdiff_t>((static_cast<std::size_t>(level) * wavelet_rows_ + f::kWaveletPad + 1) * lanes), 0);
    s.codes.resize(rows_ * lanes);
    if (kPass != MoPass::reconstruct_from_source) s.folded.resize(rows_ * lanes);  // that pass has no folded rows
    // The lanes' inputs, row by row (sequential stores); unused lanes read zeros. Decoding reads
    // only row 0 of the codes (the warm-up codes): the kernel writes every later row first.
    const auto active = static_cast<std::size_t>(g.lanes);
    if (kDecode) {
      for (std::size_t l = 0; l < lanes; ++l) s.codes[l] = l < active ? first_code[l] : 0;
      for (std::size_t t = 1; t < n && kPass == MoPass::reconstruct_folded; ++t) {
        std::uint32_t* row = s.folded.data() + (t - 1) * lanes;
        for (std::size_t l = 0; l < lanes; ++l) row[l] = l < active ? folded_in[l][t - 1] : 0;
      }
    } else {
      const std::int32_t* in[kLanes] = {};
      const std::size_t no_offset[kLanes] = {};
      std::copy(codes_in, codes_in + g.lanes, in);
      columns_to_rows(in, no_offset, n, n, s.codes.data());
    }
    for (int l = 0; l < g.lanes; ++l) adapting_ |= g.model[l].lms_step != 0;
    shift_ = g.model[0].weight_shift;
    previous_ = load(s.codes.data());
    for (int l = 0; l < g.lanes; ++l) used_lanes_ |= 1u << l;
    history_ = s.history.data(), pairs_ = s.pairs.data(), sources_at_ = s.sources.data(), wavelet_ = s.wavelet.data();
    codes_ = s.codes.data(), folded_ = s.folded.data();
  }

  // Rows of the group's clock: steps 1 .. rows() - 1.
  std::size_t rows() const { return rows_; }

  // Step t's first half: the prediction p, and for reconstruct_from_source the lanes at their
  // times (live_bits) and their predicted codes (base), which the residual source needs.
  [[gnu::always_inline]] void predict(std::size_t t) {
    const std::size_t lanes = kLanes;
    live_ = lanes_i32{} - 1;
    live_bits = used_lanes_;
    if constexpr (kPass == MoPass::reconstruct_from_source) {
      if (max_lag_ != 0) {
        const lanes_i32 clock = lanes_i32{} + static_cast<std::int32_t>(t);
        live_ = (clock > lag_) & (clock < lag_ + static_cast<std::int32_t>(g_.n));
#if defined(__AVX2__)
        live_bits = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(reinterpret_cast<__m256i>(live_)))) & used_lanes_;
#else
        live_bits = 0;
        for (int l = 0; l < g_.lanes; ++l) live_bits |= (live_[l] != 0 ? 1u : 0u) << l;
#endif
      }
    }
    const std::int32_t* hp = pairs_ + (t + static_cast<std::size_t>(pad_ - paired_order_)) * lanes;  // pair j at row 2j
    lanes_i32 acc = {};
    for (int j = 0; j < history_pairs_; ++j) acc += multiply_add_pairs(weight_pair_[j], load(hp + 2 * j * kLanes));
    for (int k = 0; k < wavelet_taps_; ++k) acc += weight_[order_ + k] * features_[k];
    for (int src = 0; src < sources_; ++src) {
      const std::int32_t* w = sources_at_ + (static_cast<std::size_t>(src) * source_rows_ + t) * lanes;
      for (int k = 0; k < window_; ++k) acc += weight_[order_ + wavelet_taps_ + src * window_ + k] * load(w + k * kLanes);
    }
    if (network_ != nullptr) {
      const std::int32_t* recent = history_ + (t + static_cast<std::size_t>(pad_ - f::kNetHistory)) * lanes;
      acc += gru_ ? gru_correction(packed_gru_, gru_tables(), gru_lanes_, recent, acc, shift_, input_gain_, output_gain_, live_)
                  : network_correction(net_, recent, acc, shift_, input_gain_, output_gain_);
    }
    p_ = (acc + (std::int32_t{1} << (shift_ - 1))) >> shift_;
    flip_ = acc > p_ * (std::int32_t{1} << shift_);
    if constexpr (kPass == MoPass::reconstruct_from_source) store(base, (lanes_i32)((lanes_u32)previous_ + (lanes_u32)p_));
  }

  // Step t's second half: the residual (from z, the source's residuals, in reconstruct_from_source),
  // the code, the weights' update and the rows the next steps read.
  [[gnu::always_inline]] void advance(std::size_t t, const std::int32_t* z) {
    const std::size_t lanes = kLanes;
    std::int32_t* codes = codes_;
    std::uint32_t* folded = folded_;
    lanes_i32 e, d;
    if constexpr (kPass == MoPass::reconstruct_folded) {
      const lanes_u32 u = load(folded + (t - 1) * lanes);
      const lanes_u32 unfolded = (u >> 1) ^ (lanes_u32{} - (u & 1u));
      e = (lanes_i32)(((lanes_u32)flip_ ^ unfolded) - (lanes_u32)flip_);
      d = (lanes_i32)((lanes_u32)e + (lanes_u32)p_);
      previous_ = (lanes_i32)((lanes_u32)previous_ + (lanes_u32)d);
      store(codes + t * lanes, previous_);
    } else if constexpr (kPass == MoPass::reconstruct_from_source) {
      e = load(z);
      d = (lanes_i32)((lanes_u32)e + (lanes_u32)p_) & live_;  // lanes not started or done keep their code
      previous_ = (lanes_i32)((lanes_u32)previous_ + (lanes_u32)d);
      store(codes + t * lanes, previous_);
    } else {
      const lanes_i32 current = load(codes + t * lanes);
      d = current - previous_;
      previous_ = current;
      e = d - p_;
      if constexpr (kPass == MoPass::fold) {
        const lanes_i32 x = (e ^ flip_) - flip_;
        store(folded + (t - 1) * lanes, (lanes_u32)((x << 1) ^ (x >> 31)));
      } else {
        store((std::int32_t*)folded + (t - 1) * lanes, e);
      }
    }
    if (adapting_) {
      const std::int32_t* hp = pairs_ + (t + static_cast<std::size_t>(pad_ - paired_order_)) * lanes;
      const lanes_i32 e_positive = e > 0, e_negative = e < 0;
      const auto update = [&](int k, lanes_i32 x) {
        const lanes_i32 u = (step_[k] & e_positive) - (step_[k] & e_negative);
        weight_[k] = clamp(weight_[k] + (u & (x > 0)) - (u & (x < 0)), f::kMaxLpcWeight);
      };
      for (int j = 0; j < history_pairs_; ++j)
        weight_pair_[j] = update_weight_pair(weight_pair_[j], step_pair_[j], e_positive, e_negative, load(hp + 2 * j * kLanes));
      for (int k = 0; k < wavelet_taps_; ++k) update(order_ + k, features_[k]);
      for (int src = 0; src < sources_; ++src) {
        const std::int32_t* w = sources_at_ + (static_cast<std::size_t>(src) * source_rows_ + t) * lanes;
        for (int k = 0; k < window_; ++k) update(order_ + wavelet_taps_ + src * window_ + k, load(w + k * kLanes));
      }
    }
    const lanes_i32 c = clamp(d, f::kLpcHistoryClamp);
    store(history_ + (t + static_cast<std::size_t>(pad_)) * lanes, c);
    store(pairs_ + (t + static_cast<std::size_t>(pad_) - 1) * lanes, pack_lanes(last_c_, c));
    last_c_ = c;
    if (in_group_count_ != 0) {  // c of a source lane at its time tau into its dependants' windows
      alignas(32) std::int32_t decoded[kLanes];
      store(decoded, c);
      std::int32_t* row = sources_at_ + t * lanes;
      for (int i = 0; i < in_group_count_; ++i) row[in_group_[i].at] = decoded[in_group_[i].source_lane];
    }
    if (levels_ > 0) {  // wavelet_step for all lanes
      std::int32_t* wavelet = wavelet_;
      const lanes_i32 wavelet_half = lanes_i32{} + (std::int32_t{1} << (f::kDmeyShift - 1));
      const std::size_t at = f::kWaveletPad + t;
      store(wavelet + at * lanes, c);
      for (int level = 1; level <= levels_; ++level) {
        const std::int32_t* a = wavelet + static_cast<std::size_t>(level - 1) * wavelet_rows_ * lanes;
        const std::size_t dilation = std::size_t{1} << (level - 1);
        // The filters are mirror-symmetric (low-pass about tap 17, high-pass about tap 16; tested),
        // so mirrored inputs are added first: half the multiplies, the same integer sums.
        lanes_i32 x[f::kDmeyTaps];
#pragma GCC unroll 34
        for (int j = 0; j < f::kDmeyTaps; ++j) x[j] = load(a + (at - static_cast<std::size_t>(j) * dilation) * lanes);
        lanes_i32 low = f::dmey_low(17) * x[17];
        lanes_i32 high = f::dmey_high(16) * x[16];
#pragma GCC unroll 16
        for (int k = 1; k <= 16; ++k) {
          low += f::dmey_low(17 + k) * (x[17 - k] + x[17 + k]);
          high += f::dmey_high(16 + k) * (x[16 - k] + x[16 + k]);
        }
        features_[level - 1] = clamp((high + wavelet_half) >> f::kDmeyShift, f::kWaveletClamp);
        const lanes_i32 approximation = clamp((low + wavelet_half) >> f::kDmeyShift, f::kWaveletClamp);
        if (level < levels_) store(wavelet + (static_cast<std::size_t>(level) * wavelet_rows_ + at) * lanes, approximation);
        else features_[levels_] = approximation;
      }
    }
  }

  // The pass's output rows to the lanes' columns: the decoded codes (codes_out), the folded
  // residuals (folded_out) or the signed residuals (residuals_out).
  void finish(std::int32_t* const* codes_out, std::uint32_t* const* folded_out, std::int32_t* const* residuals_out) {
    const std::size_t n = g_.n;
    std::size_t offset[kLanes] = {};
    std::int32_t* out[kLanes] = {};
    for (int l = 0; l < g_.lanes; ++l) {
      if constexpr (kDecode) {
        offset[l] = g_.lag[l], out[l] = codes_out[l];
      } else if constexpr (kPass == MoPass::fold) {
        out[l] = reinterpret_cast<std::int32_t*>(folded_out[l]);  // the same bits
      } else {
        residuals_out[l][0] = 0;
        out[l] = residuals_out[l] + 1;
      }
    }
    if constexpr (kDecode) rows_to_columns(codes_, offset, g_.lanes, n, out);
    else if (n > 1) rows_to_columns(reinterpret_cast<const std::int32_t*>(folded_), offset, g_.lanes, n - 1, out);
  }

  alignas(32) std::int32_t base[kLanes] = {};  // reconstruct_from_source: the lanes' predicted codes at this step
  unsigned live_bits = 0;                      // the lanes at their times at this step

 private:
  static const GruTables& gru_tables() {
    static const GruTables tables;
    return tables;
  }
  struct InGroup {
    int lane, slot, source_lane;
    std::size_t at = 0;  // s.sources' entry for clock 0 (written at at + t * kLanes)
  };

  const MoLaneGroup& g_;
  // The scratch's rows (sized by the constructor): history, pairs, source windows, wavelet
  // levels, codes and folded residuals.
  std::int32_t *history_ = nullptr, *pairs_ = nullptr, *sources_at_ = nullptr, *wavelet_ = nullptr, *codes_ = nullptr;
  std::uint32_t* folded_ = nullptr;
  int order_ = 0, sources_ = 0, levels_ = 0, half_window_ = 0, wavelet_taps_ = 0, window_ = 0;
  int history_pairs_ = 0, paired_order_ = 0, pad_ = 0, shift_ = 0;
  std::uint32_t max_lag_ = 0;
  InGroup in_group_[kLanes * f::kMaxMoSources];
  int in_group_count_ = 0;
  std::size_t rows_ = 0, source_rows_ = 0, wavelet_rows_ = 0;
  const f::MoNetwork* network_ = nullptr;
  bool gru_ = false, adapting_ = false;
  PackedNetwork net_;
  GruLanes gru_lanes_;
  PackedGru packed_gru_;
  unsigned used_lanes_ = 0;
  lanes_i32 lag_ = {}, input_gain_ = {}, output_gain_ = {};
  lanes_i32 weight_[kMoGroupTaps] = {}, step_[kMoGroupTaps] = {};
  lanes_i32 weight_pair_[(kMoGroupTaps + 1) / 2] = {}, step_pair_[(kMoGroupTaps + 1) / 2] = {};
  lanes_i32 features_[f::kMaxWaveletLevels + 1] = {};
  lanes_i32 last_c_ = {};    // history row pad + t - 1 (row pad: 0)
  lanes_i32 previous_ = {};  // the codes at t - 1
  lanes_i32 live_ = {}, p_ = {}, flip_ = {};  // this step's
};

// A pass without a residual source: every step's two halves in a row.
template <MoPass kPass>
void run_mo(const MoLaneGroup& g, const std::int32_t* first_code, const std::uint32_t* const* folded_in, const std::int32_t* const* codes_in,
            std::int32_t* const* codes_out, std::uint32_t* const* folded_out, std::int32_t* const* residuals_out) {
  MoRun<kPass> run(g, first_code, folded_in, codes_in, mo_scratch(0));
  for (std::size_t t = 1; t < run.rows(); ++t) {
    run.predict(t);
    run.advance(t, nullptr);
  }
  run.finish(codes_out, folded_out, residuals_out);
}

// reconstruct_from_source for one or two groups, each on its own scratch, their steps
// interleaved half by half; a group whose source fails stops there (ok false), the other goes on.
void reconstruct_from_sources(std::span<MoGroupDecoding> jobs) {
  using Run = MoRun<MoPass::reconstruct_from_source>;
  std::optional<Run> runs[2];
  std::size_t rows = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    runs[i].emplace(*jobs[i].group, jobs[i].first_code, nullptr, nullptr, mo_scratch(static_cast<int>(i)));
    rows = std::max(rows, runs[i]->rows());
    jobs[i].ok = true;
  }
  alignas(32) std::int32_t z[2][kLanes];
  if (jobs.size() == 1) {
    Run& run = *runs[0];
    for (std::size_t t = 1; t < rows; ++t) {
      run.predict(t);
      if (!jobs[0].source->residuals(static_cast<std::uint32_t>(t), run.live_bits, run.base, z[0])) return void(jobs[0].ok = false);
      run.advance(t, z[0]);
    }
  } else {
    Run& a = *runs[0];
    Run& b = *runs[1];
    for (std::size_t t = 1; t < rows; ++t) {
      const bool in_a = jobs[0].ok && t < a.rows(), in_b = jobs[1].ok && t < b.rows();
      if (!in_a && !in_b) break;
      if (in_a) a.predict(t);
      if (in_b) b.predict(t);
      const auto step = static_cast<std::uint32_t>(t);
      bool step_a = false, step_b = false;
      if (in_a && in_b) {
        const unsigned live[2] = {a.live_bits, b.live_bits};
        const std::int32_t* base[2] = {a.base, b.base};
        std::int32_t* zs[2] = {z[0], z[1]};
        int which = 0;
        step_a = step_b = jobs[0].source->residuals_with(*jobs[1].source, step, live, base, zs, &which);
        if (!step_a && which == 0) {  // the first failed before the second stepped
          jobs[0].ok = false;
          step_b = jobs[1].ok = jobs[1].source->residuals(step, b.live_bits, b.base, z[1]);
        } else if (!step_a) {
          jobs[1].ok = false;
          step_a = true;
        }
      } else if (in_a) {
        step_a = jobs[0].ok = jobs[0].source->residuals(step, a.live_bits, a.base, z[0]);
      } else if (in_b) {
        step_b = jobs[1].ok = jobs[1].source->residuals(step, b.live_bits, b.base, z[1]);
      }
      if (step_a) a.advance(t, z[0]);
      if (step_b) b.advance(t, z[1]);
    }
  }
  for (std::size_t i = 0; i < jobs.size(); ++i)
    if (jobs[i].ok) runs[i]->finish(jobs[i].codes, nullptr, nullptr);
}

}  // namespace mo_detail

void mo_reconstruct(const MoLaneGroup& group, const std::int32_t* first_code, const std::uint32_t* const* folded, std::int32_t* const* codes) {
  mo_detail::run_mo<mo_detail::MoPass::reconstruct_folded>(group, first_code, folded, nullptr, codes, nullptr, nullptr);
}

void mo_fold(const MoLaneGroup& group, const std::int32_t* const* codes, std::uint32_t* const* folded) {
  mo_detail::run_mo<mo_detail::MoPass::fold>(group, nullptr, nullptr, codes, nullptr, folded, nullptr);
}

void mo_residuals(const MoLaneGroup& group, const std::int32_t* const* codes, std::int32_t* const* residuals) {
  mo_detail::run_mo<mo_detail::MoPass::residuals>(group, nullptr, nullptr, codes, nullptr, nullptr, residuals);
}

void mo_reconstruct_from(std::span<MoGroupDecoding> groups) {
  mo_detail::reconstruct_from_sources(groups);
}
