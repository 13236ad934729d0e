// Body of the lockstep lpc1 kernel, compiled once per instruction set (codecs/lanes/lanes_*.cpp
// include it inside their own namespace). Plain loops over a fixed lane count, laid out so
// that the compiler turns each into vector instructions.
#include <algorithm>
#include <cstring>
#include <vector>

#include "codecs/lpc/lpc_lanes.hpp"

namespace {

using spikey::host::lanes::kLanes;
using spikey::host::lanes::LpcLaneGroup;
namespace f = spikey::format;

constexpr int kGroupTaps = f::kMaxLpcTaps;

struct Layout {
  int order = 0;        // history taps of the group (max over lanes)
  int half_window = -1; // source half window of the group (max over lanes), -1 without sources
  int source_taps() const { return half_window < 0 ? 0 : 2 * half_window + 1; }
};

// Scratch owned per thread: rows of kLanes values, time-major.
struct Scratch {
  std::vector<std::int32_t> history;  // (order + n) rows: row r holds c[r - order]
  std::vector<std::int32_t> source;   // (n + 2W) rows: row r holds c_s[r - W]
  std::vector<std::int32_t> codes;    // n rows
  std::vector<std::uint32_t> folded;  // n rows (row t-1 for time t)
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Weights and per-tap steps of the group, zero where a lane has fewer taps.
struct alignas(32) Taps {
  std::int32_t weight[kGroupTaps][kLanes];
  std::int32_t step[kGroupTaps][kLanes];
};

Layout layout_of(const LpcLaneGroup& g) {
  Layout layout;
  for (int l = 0; l < g.lanes; ++l) {
    layout.order = std::max(layout.order, g.model[l].order);
    layout.half_window = std::max(layout.half_window, g.model[l].source_half_window);
  }
  return layout;
}

void load_taps(const LpcLaneGroup& g, const Layout& layout, Taps& taps) {
  std::memset(&taps, 0, sizeof taps);
  for (int l = 0; l < g.lanes; ++l) {
    const f::LpcModel& m = g.model[l];
    const int history_offset = layout.order - m.order;
    for (int i = 0; i < m.order; ++i) {
      taps.weight[history_offset + i][l] = g.weights[l][i];
      taps.step[history_offset + i][l] = m.lms_step;
    }
    if (m.source_half_window >= 0) {
      const int source_offset = layout.order + layout.half_window - m.source_half_window;
      for (int j = 0; j < m.source_taps(); ++j) {
        taps.weight[source_offset + j][l] = g.weights[l][m.order + j];
        taps.step[source_offset + j][l] = m.lms_step;
      }
    }
  }
}

void load_source_rows(const LpcLaneGroup& g, const Layout& layout, Scratch& s) {
  const int w = layout.half_window;
  if (w < 0) return;
  const std::size_t rows = g.n + 2 * static_cast<std::size_t>(w);
  s.source.assign(rows * kLanes, 0);
  for (int l = 0; l < g.lanes; ++l) {
    if (g.model[l].source_half_window < 0 || g.source_buffer[l] == nullptr) continue;
    const std::int32_t* src = g.source_buffer[l] + f::kMaxSourceHalfWindow - w;  // c_s[-w]
    for (std::size_t r = 0; r < rows; ++r) s.source[r * kLanes + static_cast<std::size_t>(l)] = src[r];
  }
}

// One value per lane. GCC vector extensions: element-wise operators, comparisons give -1/0.
typedef std::int32_t lanes_i32 __attribute__((vector_size(kLanes * 4)));
typedef std::uint32_t lanes_u32 __attribute__((vector_size(kLanes * 4)));

[[gnu::always_inline]] inline lanes_i32 load(const std::int32_t* p) {
  lanes_i32 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
[[gnu::always_inline]] inline lanes_u32 load(const std::uint32_t* p) {
  lanes_u32 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V, typename T>
[[gnu::always_inline]] inline void store(T* p, V v) {
  std::memcpy(p, &v, sizeof v);
}
[[gnu::always_inline]] inline lanes_i32 clamp(lanes_i32 x, std::int32_t bound) {
  const lanes_i32 lo = lanes_i32{} - bound, hi = lanes_i32{} + bound;
  x = x < lo ? lo : x;
  return x > hi ? hi : x;
}

template <bool kDecode>
void run(const LpcLaneGroup& g, const std::int32_t* first_code, const std::uint32_t* const* folded_in, const std::int32_t* const* codes_in,
         std::int32_t* const* codes_out, std::uint32_t* const* folded_out) {
  const Layout layout = layout_of(g);
  Taps taps;
  load_taps(g, layout, taps);
  Scratch& s = scratch();
  load_source_rows(g, layout, s);
  const std::size_t n = g.n;
  const int order = layout.order;
  const int source_taps = layout.source_taps();
  const int total_taps = order + source_taps;
  // Only what is read before it is written needs zeros: the history up to c[0] (rows
  // 0..order) and the columns of inactive lanes.
  s.history.resize((static_cast<std::size_t>(order) + n) * kLanes);
  s.codes.resize(n * kLanes);
  s.folded.resize(n * kLanes);
  std::fill(s.history.begin(), s.history.begin() + static_cast<std::ptrdiff_t>(order + 1) * kLanes, 0);
  for (int l = g.lanes; l < kLanes; ++l) {
    for (std::size_t t = 0; t < n; ++t) {
      s.codes[t * kLanes + static_cast<std::size_t>(l)] = 0;
      s.folded[t * kLanes + static_cast<std::size_t>(l)] = 0;
    }
  }
  for (int l = 0; l < g.lanes; ++l) {
    if (kDecode) {
      s.codes[static_cast<std::size_t>(l)] = first_code[l];
      for (std::size_t t = 1; t < n; ++t) s.folded[(t - 1) * kLanes + static_cast<std::size_t>(l)] = folded_in[l][t - 1];
    } else {
      for (std::size_t t = 0; t < n; ++t) s.codes[t * kLanes + static_cast<std::size_t>(l)] = codes_in[l][t];
    }
  }
  bool adapting = false;
  for (int l = 0; l < g.lanes; ++l) adapting |= g.model[l].lms_step != 0;

  lanes_i32 weight[kGroupTaps], step[kGroupTaps];
  for (int k = 0; k < total_taps; ++k) weight[k] = load(taps.weight[k]), step[k] = load(taps.step[k]);
  const int shift = g.weight_shift;
  const lanes_i32 half = lanes_i32{} + (std::int32_t{1} << (shift - 1));
  const lanes_i32 unit = lanes_i32{} + (std::int32_t{1} << shift);
  std::int32_t* history = s.history.data();
  const std::int32_t* source = s.source.data();
  std::int32_t* codes = s.codes.data();
  std::uint32_t* folded = s.folded.data();
  lanes_i32 previous = load(codes);

  for (std::size_t t = 1; t < n; ++t) {
    const std::int32_t* h = history + t * kLanes;  // rows t.. hold c[t - order ..]
    const std::int32_t* sw = source_taps > 0 ? source + t * kLanes : nullptr;  // rows t.. hold c_s[t - W ..]
    lanes_i32 acc = {};
    for (int k = 0; k < order; ++k) acc += weight[k] * load(h + k * kLanes);
    for (int j = 0; j < source_taps; ++j) acc += weight[order + j] * load(sw + j * kLanes);
    const lanes_i32 p = (acc + half) >> shift;
    const lanes_i32 flip = acc > p * unit;  // -1 where the residual's sign is flipped
    lanes_i32 e, d;
    if constexpr (kDecode) {
      const lanes_u32 u = load(folded + (t - 1) * kLanes);
      const lanes_u32 unfolded = (u >> 1) ^ (lanes_u32{} - (u & 1u));
      e = (lanes_i32)(((lanes_u32)flip ^ unfolded) - (lanes_u32)flip);  // wrapping negate where flipped
      d = (lanes_i32)((lanes_u32)e + (lanes_u32)p);
      previous = (lanes_i32)((lanes_u32)previous + (lanes_u32)d);
      store(codes + t * kLanes, previous);
    } else {
      const lanes_i32 current = load(codes + t * kLanes);
      d = current - previous;
      previous = current;
      e = d - p;
      const lanes_i32 x = (e ^ flip) - flip;
      store(folded + (t - 1) * kLanes, (lanes_u32)((x << 1) ^ (x >> 31)));
    }
    store(history + (t + static_cast<std::size_t>(order)) * kLanes, clamp(d, f::kLpcHistoryClamp));
    if (!adapting) continue;
    // w += step * sign(e) * sign(x), with masks instead of multiplies (comparisons give -1/0).
    const lanes_i32 e_positive = e > 0, e_negative = e < 0;
    const auto update = [&](int k, lanes_i32 x) {
      const lanes_i32 u = (step[k] & e_positive) - (step[k] & e_negative);
      weight[k] = clamp(weight[k] + (u & (x > 0)) - (u & (x < 0)), f::kMaxLpcWeight);
    };
    for (int k = 0; k < order; ++k) update(k, load(h + k * kLanes));
    for (int j = 0; j < source_taps; ++j) update(order + j, load(sw + j * kLanes));
  }

  for (int l = 0; l < g.lanes; ++l) {
    if (kDecode) {
      for (std::size_t t = 0; t < n; ++t) codes_out[l][t] = codes[t * kLanes + static_cast<std::size_t>(l)];
    } else {
      for (std::size_t t = 1; t < n; ++t) folded_out[l][t - 1] = folded[(t - 1) * kLanes + static_cast<std::size_t>(l)];
    }
  }
}

}  // namespace

void lpc_reconstruct(const LpcLaneGroup& group, const std::int32_t* first_code, const std::uint32_t* const* folded, std::int32_t* const* codes) {
  run<true>(group, first_code, folded, nullptr, codes, nullptr);
}

void lpc_fold(const LpcLaneGroup& group, const std::int32_t* const* codes, std::uint32_t* const* folded) {
  run<false>(group, nullptr, nullptr, codes, nullptr, folded);
}
