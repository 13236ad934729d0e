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
  std::vector<std::int32_t> history;  // (paired order + n) rows: row r holds c[r - paired order] and the next as int16 pairs
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

#if defined(__AVX2__)
// v[i] (8 lanes each) becomes column i: v[i][j] = the old v[j][i].
[[gnu::always_inline]] inline void transpose8(__m256i* v) {
  const __m256i a0 = _mm256_unpacklo_epi32(v[0], v[1]), a1 = _mm256_unpackhi_epi32(v[0], v[1]);
  const __m256i a2 = _mm256_unpacklo_epi32(v[2], v[3]), a3 = _mm256_unpackhi_epi32(v[2], v[3]);
  const __m256i a4 = _mm256_unpacklo_epi32(v[4], v[5]), a5 = _mm256_unpackhi_epi32(v[4], v[5]);
  const __m256i a6 = _mm256_unpacklo_epi32(v[6], v[7]), a7 = _mm256_unpackhi_epi32(v[6], v[7]);
  // b_j: column j's entries 0-3 in its low half and column j + 4's in its high half (b_{j+4}: entries 4-7).
  const __m256i b0 = _mm256_unpacklo_epi64(a0, a2), b1 = _mm256_unpackhi_epi64(a0, a2);
  const __m256i b2 = _mm256_unpacklo_epi64(a1, a3), b3 = _mm256_unpackhi_epi64(a1, a3);
  const __m256i b4 = _mm256_unpacklo_epi64(a4, a6), b5 = _mm256_unpackhi_epi64(a4, a6);
  const __m256i b6 = _mm256_unpacklo_epi64(a5, a7), b7 = _mm256_unpackhi_epi64(a5, a7);
  v[0] = _mm256_permute2x128_si256(b0, b4, 0x20), v[4] = _mm256_permute2x128_si256(b0, b4, 0x31);
  v[1] = _mm256_permute2x128_si256(b1, b5, 0x20), v[5] = _mm256_permute2x128_si256(b1, b5, 0x31);
  v[2] = _mm256_permute2x128_si256(b2, b6, 0x20), v[6] = _mm256_permute2x128_si256(b2, b6, 0x31);
  v[3] = _mm256_permute2x128_si256(b3, b7, 0x20), v[7] = _mm256_permute2x128_si256(b3, b7, 0x31);
}
#endif

// rows[r * kLanes + l] = in[l][r - offset[l]] for r < row_count where 0 <= r - offset[l] <
// count and in[l] is not null; 0 everywhere else.
inline void columns_to_rows(const std::int32_t* const* in, const std::size_t* offset, std::size_t count, std::size_t row_count, std::int32_t* rows) {
  const auto fill = [&](std::size_t first, std::size_t end) {
    for (std::size_t r = first; r < end; ++r)
      for (int l = 0; l < kLanes; ++l) {
        const std::size_t i = r - offset[l];  // wraps past count where r < offset[l]
        rows[r * kLanes + static_cast<std::size_t>(l)] = in[l] != nullptr && i < count ? in[l][i] : 0;
      }
  };
  std::size_t r = 0;
#if defined(__AVX2__)
  // Where every lane with a column is inside it, blocks of 8 rows by 8 lanes are transposed in
  // registers: 8 loads, 24 shuffles, 8 row stores.
  static_assert(kLanes == 8, "8x8 blocks");
  std::size_t first = 0, end = row_count;
  for (int l = 0; l < kLanes; ++l)
    if (in[l] != nullptr) first = std::max(first, offset[l]), end = std::min(end, offset[l] + count);
  if (end < first + 8) end = first;
  fill(0, first);
  for (r = first; r + 8 <= end; r += 8) {
    __m256i v[8];
    for (int l = 0; l < 8; ++l)
      v[l] = in[l] != nullptr ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in[l] + (r - offset[l]))) : _mm256_setzero_si256();
    transpose8(v);
    for (int i = 0; i < 8; ++i) _mm256_storeu_si256(reinterpret_cast<__m256i*>(rows + (r + static_cast<std::size_t>(i)) * kLanes), v[i]);
  }
#endif
  fill(r, row_count);
}

// out[l][i] = rows[(i + offset[l]) * kLanes + l] for i < count, l < lanes.
inline void rows_to_columns(const std::int32_t* rows, const std::size_t* offset, int lanes, std::size_t count, std::int32_t* const* out) {
  std::size_t first = 0, end = 0;  // rows [first, end): whole blocks inside every lane's range
#if defined(__AVX2__)
  std::size_t last = static_cast<std::size_t>(-1);
  for (int l = 0; l < lanes; ++l) first = std::max(first, offset[l]), last = std::min(last, offset[l] + count);
  end = last >= first + 8 ? first + (last - first) / 8 * 8 : first;
  for (std::size_t r = first; r < end; r += 8) {
    __m256i v[8];
    for (int i = 0; i < 8; ++i) v[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + (r + static_cast<std::size_t>(i)) * kLanes));
    transpose8(v);
    for (int l = 0; l < lanes; ++l) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[l] + (r - offset[l])), v[l]);
  }
#endif
  for (int l = 0; l < lanes; ++l) {
    const auto column = [&](std::size_t from, std::size_t to) {
      for (std::size_t i = from; i < to; ++i) out[l][i] = rows[(i + offset[l]) * kLanes + static_cast<std::size_t>(l)];
    };
    if (end > first) {
      column(0, first - offset[l]);
      column(end - offset[l], count);
    } else {
      column(0, count);
    }
  }
}

void load_source_rows(const LpcLaneGroup& g, const Layout& layout, Scratch& s) {
  const int w = layout.half_window;
  if (w < 0) return;
  const std::size_t rows = g.n + 2 * static_cast<std::size_t>(w);
  s.source.resize(rows * kLanes);
  const std::int32_t* src[kLanes] = {};
  const std::size_t no_offset[kLanes] = {};
  for (int l = 0; l < g.lanes; ++l)
    if (g.model[l].source_half_window >= 0 && g.source_buffer[l] != nullptr) src[l] = g.source_buffer[l] + f::kMaxSourceHalfWindow - w;  // c_s[-w]
  columns_to_rows(src, no_offset, rows, rows, s.source.data());
}

// One value per lane. GCC vector extensions: element-wise operators, comparisons give -1/0.
typedef std::int32_t lanes_i32 __attribute__((vector_size(kLanes * 4)));
typedef std::uint32_t lanes_u32 __attribute__((vector_size(kLanes * 4)));
typedef std::int16_t lanes_i16 __attribute__((vector_size(kLanes * 4)));  // two per lane

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

[[gnu::always_inline]] inline lanes_i32 pack_lanes(lanes_i32 low, lanes_i32 high) { return (low & 0xffff) | (lanes_i32)((lanes_u32)high << 16); }

// Per lane: low·low + high·high of the int16 halves of a and b.
[[gnu::always_inline]] inline lanes_i32 multiply_add_pairs(lanes_i32 a, lanes_i32 b) {
#if defined(__AVX2__)
  return (lanes_i32)_mm256_madd_epi16((__m256i)a, (__m256i)b);
#else
  return ((a << 16) >> 16) * ((b << 16) >> 16) + (a >> 16) * (b >> 16);
#endif
}

// The history taps as int16 pairs (every weight and clamped difference fits 15 bits), so that a
// multiply-add of pairs does two taps: pair j holds taps 2j (the older, low half) and 2j + 1 of
// the paired order, 2 * ceil(order / 2); an odd order gets a tap of weight and step 0 at its
// oldest end. History row r of the pairs holds rows r and r + 1 of the history.
[[gnu::always_inline]] inline void pair_taps(const std::int32_t (*weight)[kLanes], const std::int32_t (*step)[kLanes], int order, lanes_i32* weight_pair,
                                             lanes_i32* step_pair) {
  const int odd = order & 1;
  for (int j = 0; 2 * j < order; ++j) {
    const int low = 2 * j - odd;  // -1: the zero tap
    weight_pair[j] = pack_lanes(low >= 0 ? load(weight[low]) : lanes_i32{}, load(weight[low + 1]));
    step_pair[j] = pack_lanes(low >= 0 ? load(step[low]) : lanes_i32{}, load(step[low + 1]));
  }
}

// The sign-sign step of both taps of a pair in int16 lanes, as clamp(w + step * sign(e) *
// sign(x)) tap by tap (|w| + step stays within int16).
[[gnu::always_inline]] inline lanes_i32 update_weight_pair(lanes_i32 weight_pair, lanes_i32 step_pair, lanes_i32 e_positive, lanes_i32 e_negative,
                                                           lanes_i32 x_pair) {
  static_assert(f::kMaxLpcWeight + f::kMaxLmsStep <= 32767, "weights step within int16");
  const lanes_i16 u = (lanes_i16)(step_pair & e_positive) - (lanes_i16)(step_pair & e_negative);
  const lanes_i16 x = (lanes_i16)x_pair;
  const lanes_i16 w = (lanes_i16)weight_pair + (u & (x > 0)) - (u & (x < 0));
  const lanes_i16 bound = lanes_i16{} + static_cast<std::int16_t>(f::kMaxLpcWeight);
  return (lanes_i32)(w > bound ? bound : (w < -bound ? -bound : w));
}

template <bool kDecode>
void run(const LpcLaneGroup& g, const std::int32_t* first_code, const std::uint32_t* const* folded_in, const std::int32_t* const* codes_in,
         std::int32_t* const* codes_out, std::uint32_t* const* folded_out) {
  const Layout layout = layout_of(g);
  Taps taps;
  load_taps(g, layout, taps);
  Scratch& s = scratch();
  load_source_rows(g, layout, s);
  // The source window's taps in int16 pairs too (pair_taps: a zero tap before the window's first,
  // at row t - 1): row r of the pairs holds source rows r and r + 1.
  const int window_taps = layout.source_taps();
  const int source_pairs = (window_taps + 1) / 2;
  if (window_taps > 0) {
    const std::size_t rows = g.n + 2 * static_cast<std::size_t>(layout.half_window);
    std::int32_t* r = s.source.data();
    for (std::size_t i = 0; i + 1 < rows; ++i) store(r + i * kLanes, pack_lanes(load(r + i * kLanes), load(r + (i + 1) * kLanes)));
    store(r + (rows - 1) * kLanes, pack_lanes(load(r + (rows - 1) * kLanes), lanes_i32{}));
  }
  const std::size_t n = g.n;
  const int order = layout.order;
  const int history_pairs = (order + 1) / 2, paired_order = 2 * history_pairs;
  // Only what is read before it is written needs zeros: the history pairs before c[1] (rows
  // 0..paired order - 1; c[0] counts as 0).
  s.history.resize((static_cast<std::size_t>(paired_order) + n) * kLanes);
  s.codes.resize(n * kLanes);
  s.folded.resize(n * kLanes);
  std::fill(s.history.begin(), s.history.begin() + static_cast<std::ptrdiff_t>(paired_order) * kLanes, 0);
  // The lanes' inputs as rows, zeros in unused lanes. Decoding reads only row 0 of the codes:
  // the kernel writes every later row first.
  const std::size_t no_offset[kLanes] = {};
  const std::int32_t* in[kLanes] = {};
  if (kDecode) {
    for (int l = 0; l < kLanes; ++l) s.codes[static_cast<std::size_t>(l)] = l < g.lanes ? first_code[l] : 0;
    for (int l = 0; l < g.lanes; ++l) in[l] = reinterpret_cast<const std::int32_t*>(folded_in[l]);  // the same bits
    if (n > 1) columns_to_rows(in, no_offset, n - 1, n - 1, reinterpret_cast<std::int32_t*>(s.folded.data()));
  } else {
    std::copy(codes_in, codes_in + g.lanes, in);
    columns_to_rows(in, no_offset, n, n, s.codes.data());
  }
  bool adapting = false;
  for (int l = 0; l < g.lanes; ++l) adapting |= g.model[l].lms_step != 0;

  lanes_i32 weight_pair[(kGroupTaps + 1) / 2], step_pair[(kGroupTaps + 1) / 2];
  pair_taps(taps.weight, taps.step, order, weight_pair, step_pair);
  lanes_i32 source_weight_pair[(kGroupTaps + 1) / 2], source_step_pair[(kGroupTaps + 1) / 2];
  pair_taps(taps.weight + order, taps.step + order, window_taps, source_weight_pair, source_step_pair);
  const int shift = g.weight_shift;
  const lanes_i32 half = lanes_i32{} + (std::int32_t{1} << (shift - 1));
  const lanes_i32 unit = lanes_i32{} + (std::int32_t{1} << shift);
  std::int32_t* history = s.history.data();
  const std::int32_t* source = s.source.data();
  std::int32_t* codes = s.codes.data();
  std::uint32_t* folded = s.folded.data();
  lanes_i32 previous = load(codes);
  lanes_i32 last_c = {};  // c[t - 1] (c[0]: 0)

  for (std::size_t t = 1; t < n; ++t) {
    const std::int32_t* hp = history + t * kLanes;  // pair j at row 2j: c[t - paired order + 2j] and the next
    const std::int32_t* sp = window_taps > 0 ? source + (t - 1) * kLanes : nullptr;  // pair j at row 2j: c_s[t - W - 1 + 2j] and the next
    lanes_i32 acc = {};
    for (int j = 0; j < history_pairs; ++j) acc += multiply_add_pairs(weight_pair[j], load(hp + 2 * j * kLanes));
    for (int j = 0; j < source_pairs; ++j) acc += multiply_add_pairs(source_weight_pair[j], load(sp + 2 * j * kLanes));
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
    const lanes_i32 c = clamp(d, f::kLpcHistoryClamp);
    store(history + (t + static_cast<std::size_t>(paired_order) - 1) * kLanes, pack_lanes(last_c, c));
    last_c = c;
    if (!adapting) continue;
    // w += step * sign(e) * sign(x), with masks instead of multiplies (comparisons give -1/0),
    // both taps of a pair at once.
    const lanes_i32 e_positive = e > 0, e_negative = e < 0;
    for (int j = 0; j < history_pairs; ++j) weight_pair[j] = update_weight_pair(weight_pair[j], step_pair[j], e_positive, e_negative, load(hp + 2 * j * kLanes));
    for (int j = 0; j < source_pairs; ++j)
      source_weight_pair[j] = update_weight_pair(source_weight_pair[j], source_step_pair[j], e_positive, e_negative, load(sp + 2 * j * kLanes));
  }

  if (kDecode) {
    rows_to_columns(codes, no_offset, g.lanes, n, codes_out);
  } else if (n > 1) {
    std::int32_t* out[kLanes] = {};
    for (int l = 0; l < g.lanes; ++l) out[l] = reinterpret_cast<std::int32_t*>(folded_out[l]);  // the same bits
    rows_to_columns(reinterpret_cast<const std::int32_t*>(folded), no_offset, g.lanes, n - 1, out);
  }
}

}  // namespace

void lpc_reconstruct(const LpcLaneGroup& group, const std::int32_t* first_code, const std::uint32_t* const* folded, std::int32_t* const* codes) {
  run<true>(group, first_code, folded, nullptr, codes, nullptr);
}

void lpc_fold(const LpcLaneGroup& group, const std::int32_t* const* codes, std::uint32_t* const* folded) {
  run<false>(group, nullptr, nullptr, codes, nullptr, folded);
}
