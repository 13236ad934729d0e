// Body of the mt codecs' lockstep residual decoder, compiled once per instruction set (included
// by codecs/lanes/lanes_*.cpp inside their namespace). With AVX2 the lanes' classes, table slots,
// coarse-index and cum lookups and rANS steps are vector operations; without it, a plain loop.
namespace mt_detail {

using spikey::host::lanes::MtLaneBatch;

// The reference path for lane l (escapes, positions past the central table or the probes, and
// refills past the bytes read ahead).
inline bool decode_lane(MtLaneBatch& b, int l, std::int32_t base, std::int32_t* z) {
  f::RansDecoder d = b.decoder(l);
  const bool ok = f::mt_decode_residual(b.tables->table(f::cm_class_of(b.scale[l]), base), d, z) && !d.overran;
  b.take(l, d);
  return ok;
}

// One step of H batches at once (H = 1 or 2). With two, every operation is done for both batches
// side by side, so that their chains of table lookups (each step's tables depend on the last
// step's residual) wait on memory together instead of one after the other. Returns false on a
// malformed stream, naming the batch and its lane.
template <int H>
bool decode_steps(MtLaneBatch* const* batches, const unsigned* live, const std::int32_t* const* base, std::int32_t* const* z, int* failed_batch,
                  int* failed_lane) {
#if defined(__AVX2__)
  using codecs::MtTables;
#define SPIKEY_EACH _Pragma("GCC unroll 2") for (int h = 0; h < H; ++h)
  __m256i scale[H], k[H], plain[H], live_mask[H], shift[H], table[H], state[H], slot[H], index_word[H], index_bit[H], u0[H];
  unsigned live_lanes[H];
  bool any_shift[H];
  const MtTables* tables[H];
  // Each lane's bit k of a 64-bit mask over the classes, all ones where it is set (no gather):
  // srlv gives 0 for counts of 32 and more, so each half answers only for its own classes.
  static_assert(f::kCmClasses <= 64, "the class masks have 64 bits");
  const auto has_class = [](std::uint64_t classes, __m256i class_of_lane) {
    const __m256i bit = _mm256_and_si256(
        _mm256_or_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(classes & 0xffffffffu)), class_of_lane),
                        _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(classes >> 32)), _mm256_sub_epi32(class_of_lane, _mm256_set1_epi32(32)))),
        _mm256_set1_epi32(1));
    return _mm256_cmpeq_epi32(bit, _mm256_set1_epi32(1));
  };
  SPIKEY_EACH {
    MtLaneBatch& b = *batches[h];
    tables[h] = b.tables;
    scale[h] = _mm256_load_si256(reinterpret_cast<const __m256i*>(b.scale));
    // Class of the scale (cm_class_of): v = scale + 16 < 2^17 converts to float exactly, whose
    // exponent is floor(log2 v).
    const __m256i v = _mm256_add_epi32(scale[h], _mm256_set1_epi32(16));
    const __m256i width = _mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(v)), 23), _mm256_set1_epi32(126));
    k[h] = _mm256_add_epi32(_mm256_slli_epi32(_mm256_sub_epi32(width, _mm256_set1_epi32(5)), 2),
                            _mm256_and_si256(_mm256_srlv_epi32(v, _mm256_sub_epi32(width, _mm256_set1_epi32(3))), _mm256_set1_epi32(3)));
    plain[h] = has_class(tables[h]->plain_classes(), k[h]);  // the class has no bucket shift
    // The live lanes (the others keep their state; their tables are not read: the gathers below
    // are masked, since another thread may be building the table such a lane's stale class names).
    live_lanes[h] = live[h] & ((1u << b.lanes) - 1u);
    live_mask[h] = _mm256_cmpgt_epi32(
        _mm256_and_si256(_mm256_set1_epi32(static_cast<int>(live_lanes[h])), _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128)), _mm256_setzero_si256());
  }
  SPIKEY_EACH {
    // A lane whose class has no tables yet has them built first.
    const unsigned unbuilt = ~static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(has_class(tables[h]->built_classes(), k[h])))) & live_lanes[h];
    if (unbuilt != 0) {
      alignas(32) std::int32_t classes[kLanes];
      _mm256_store_si256(reinterpret_cast<__m256i*>(classes), k[h]);
      std::uint64_t wanted = 0;
      for (int l = 0; l < kLanes; ++l)
        if ((unbuilt >> l) & 1) wanted |= std::uint64_t{1} << classes[l];
      tables[h]->build_classes(wanted);
    }
    // Class k's bucket shift, read only when a live lane's class has one.
    any_shift[h] = (~static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(plain[h]))) & live_lanes[h]) != 0;
    shift[h] = any_shift[h] ? _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), tables[h]->shifts(), k[h], live_mask[h], 4) : _mm256_setzero_si256();
  }
  static_assert((f::kMtIndexEntries & (f::kMtIndexEntries - 1)) == 0, "the index offset is a shift");
  SPIKEY_EACH {
    const MtLaneBatch& b = *batches[h];
    const __m256i phase = _mm256_and_si256(_mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(base[h])), plain[h]),
                                           _mm256_set1_epi32(static_cast<int>(tables[h]->prior_mask())));
    table[h] = _mm256_add_epi32(_mm256_mullo_epi32(k[h], _mm256_set1_epi32(static_cast<int>(MtTables::kPhases))), phase);
    state[h] = _mm256_load_si256(reinterpret_cast<const __m256i*>(b.state));
    slot[h] = _mm256_and_si256(state[h], _mm256_set1_epi32(0xffff));
  }
  // The index byte from the aligned 4-byte word holding it (a table's 64 bytes are whole words,
  // so the read stays in the table, and little-endian byte b of the word is bits 8b .. 8b + 7).
  SPIKEY_EACH {
    const __m256i index_at =
        _mm256_add_epi32(_mm256_slli_epi32(table[h], std::countr_zero(static_cast<unsigned>(f::kMtIndexEntries))), _mm256_srli_epi32(slot[h], f::kMtIndexShift));
    index_word[h] = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), reinterpret_cast<const int*>(tables[h]->index()), _mm256_srli_epi32(index_at, 2),
                                                live_mask[h], 4);
    index_bit[h] = _mm256_slli_epi32(_mm256_and_si256(index_at, _mm256_set1_epi32(3)), 3);  // the byte's first bit in the word
  }
  // cum(u0) .. cum(u0 + kProbes), gathered at once as three pairs of 16-bit entries: the
  // interval holding the slot is the last one whose start is at or below it, its end the first
  // above it. Ends past the table are 2^16 - 1, so a slot past the table's last position shows
  // as an end of 2^16 - 1 (or, for the slot 2^16 - 1, as no end above it), and a slot kProbes or
  // more positions on as no end above it: all go to the reference path.
  constexpr int kProbes = static_cast<int>(f::kMtProbePad);
  static_assert(kProbes == 4, "cum(u0) .. cum(u0 + 4) are the pairs at u0, u0 + 2 and u0 + 4");
  const __m256i low_half = _mm256_set1_epi32(0xffff);
  __m256i pair0[H], pair2[H], pair4[H];
  SPIKEY_EACH {
    u0[h] = _mm256_and_si256(_mm256_srlv_epi32(index_word[h], index_bit[h]), _mm256_set1_epi32(0xff));
    const __m256i cum_base = _mm256_mullo_epi32(table[h], _mm256_set1_epi32(static_cast<int>(MtTables::kCompactStride)));
    const __m256i at = _mm256_add_epi32(cum_base, u0[h]);
    const int* cum = reinterpret_cast<const int*>(tables[h]->compact_cum());  // 16-bit entries: read in pairs
    pair0[h] = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), cum, at, live_mask[h], 2);
    pair2[h] = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), cum, _mm256_add_epi32(at, _mm256_set1_epi32(2)), live_mask[h], 2);
    pair4[h] = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), cum, _mm256_add_epi32(at, _mm256_set1_epi32(4)), live_mask[h], 2);
  }
  __m256i general[H], freq_of[H], cum_of[H], bucket[H];
  SPIKEY_EACH {
    __m256i cum_u = _mm256_and_si256(pair0[h], low_half);
    __m256i u = u0[h];
    const __m256i ends[kProbes] = {_mm256_srli_epi32(pair0[h], 16), _mm256_and_si256(pair2[h], low_half), _mm256_srli_epi32(pair2[h], 16),
                                   _mm256_and_si256(pair4[h], low_half)};
    __m256i cum_next = ends[kProbes - 1];
    for (int probe = kProbes - 1; probe >= 1; --probe) {
      const __m256i above = _mm256_cmpgt_epi32(ends[probe - 1], slot[h]);
      cum_next = _mm256_blendv_epi8(cum_next, ends[probe - 1], above);
    }
    for (int probe = 1; probe < kProbes; ++probe) {
      // Selected by the end above the slot, not by its complement: GCC 12 with AVX-512VL drops
      // the complement of a blend's mask (blendv(a, b, ~m) became blendv(a, b, m)).
      const __m256i above = _mm256_cmpgt_epi32(ends[probe - 1], slot[h]);
      cum_u = _mm256_blendv_epi8(ends[probe - 1], cum_u, above);
      u = _mm256_add_epi32(u, _mm256_add_epi32(above, _mm256_set1_epi32(1)));  // + 1 where at or below
    }
    // A class with a bucket shift codes the bucket from its one table (phase 0), then the shift's
    // low bits as a uniform symbol (mt_decode_residual's get_bits): a second step below.
    general[h] = _mm256_or_si256(_mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(f::kCmEscapeFrequency)), slot[h]),
                                                 _mm256_cmpeq_epi32(cum_next, _mm256_set1_epi32(MtTables::kCompactPad))),
                                 _mm256_xor_si256(_mm256_cmpgt_epi32(cum_next, slot[h]), _mm256_set1_epi32(-1)));
    freq_of[h] = _mm256_sub_epi32(cum_next, cum_u);
    cum_of[h] = cum_u;
    bucket[h] = _mm256_xor_si256(_mm256_srli_epi32(u, 1), _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_and_si256(u, _mm256_set1_epi32(1))));
  }
  // The refills (RansDecoder::advance): a state below 2^24 takes a byte, one below 2^16 two.
  // Each lane's next 4 bytes (enough for both steps) are read before the step's state is known
  // (their address is), so the read stays off the chain from one step to the next; a lane with
  // fewer than 4 bytes left that needs one takes the reference path.
  __m256i next[H], room[H], word[H], taken[H], short_of_bytes[H];
  SPIKEY_EACH {
    const MtLaneBatch& b = *batches[h];
    next[h] = _mm256_load_si256(reinterpret_cast<const __m256i*>(b.next));
    const __m256i left = _mm256_sub_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(b.count)), next[h]);
    room[h] = _mm256_cmpeq_epi32(_mm256_min_epu32(left, _mm256_set1_epi32(4)), _mm256_set1_epi32(4));
    const __m256i readable = _mm256_and_si256(room[h], live_mask[h]);
    // Eight scalar loads, not two gathers of 64-bit addresses (microcoded on some cores; the loads
    // are independent either way), put together in registers (a vector load of the eight stored
    // values would wait for the stores).
    const unsigned can_read = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(readable)));
    std::int32_t words[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      std::int32_t w = 0;
      if ((can_read >> l) & 1) std::memcpy(&w, b.bytes[l] + b.next[l], 4);  // little-endian, as the stream
      words[l] = w;
    }
    word[h] = _mm256_setr_epi32(words[0], words[1], words[2], words[3], words[4], words[5], words[6], words[7]);
    taken[h] = _mm256_setzero_si256();  // bytes consumed, as a negative count
    short_of_bytes[h] = _mm256_setzero_si256();
  }
  const auto refill_from_word = [&](int h, __m256i x) {
    const __m256i one_byte = _mm256_cmpeq_epi32(_mm256_srli_epi32(x, 24), _mm256_setzero_si256());
    const __m256i two_bytes = _mm256_cmpeq_epi32(_mm256_srli_epi32(x, 16), _mm256_setzero_si256());
    const __m256i with_one = _mm256_or_si256(_mm256_slli_epi32(x, 8), _mm256_and_si256(word[h], _mm256_set1_epi32(0xff)));
    const __m256i with_two = _mm256_or_si256(_mm256_slli_epi32(with_one, 8), _mm256_and_si256(_mm256_srli_epi32(word[h], 8), _mm256_set1_epi32(0xff)));
    const __m256i used = _mm256_add_epi32(one_byte, two_bytes);
    word[h] = _mm256_srlv_epi32(word[h], _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), used), 3));
    taken[h] = _mm256_add_epi32(taken[h], used);
    short_of_bytes[h] = _mm256_or_si256(short_of_bytes[h], _mm256_andnot_si256(room[h], one_byte));
    return _mm256_blendv_epi8(_mm256_blendv_epi8(x, with_one, one_byte), with_two, two_bytes);
  };
  __m256i refilled[H], residual[H];
  SPIKEY_EACH {
    const __m256i stepped = _mm256_sub_epi32(_mm256_add_epi32(_mm256_mullo_epi32(freq_of[h], _mm256_srli_epi32(state[h], 16)), slot[h]), cum_of[h]);
    refilled[h] = refill_from_word(h, stepped);
    residual[h] = bucket[h];
  }
  // The low bits: value = slot >> (16 - shift), then a step of frequency 2^(16 - shift); with
  // shift 0 the state is unchanged and the value 0 (skipped when no lane has a shift).
  SPIKEY_EACH {
    if (!any_shift[h]) continue;
    const __m256i after_bucket = refilled[h];
    const __m256i shifted = _mm256_cmpgt_epi32(shift[h], _mm256_setzero_si256());
    const __m256i low_width = _mm256_sub_epi32(_mm256_set1_epi32(f::kRansProbabilityBits), shift[h]);
    const __m256i low_slot = _mm256_and_si256(after_bucket, _mm256_set1_epi32(0xffff));
    const __m256i low = _mm256_srlv_epi32(low_slot, low_width);
    const __m256i low_mask = _mm256_sub_epi32(_mm256_sllv_epi32(_mm256_set1_epi32(1), low_width), _mm256_set1_epi32(1));
    refilled[h] = refill_from_word(h, _mm256_add_epi32(_mm256_sllv_epi32(_mm256_srli_epi32(after_bucket, 16), low_width), _mm256_and_si256(low_slot, low_mask)));
    residual[h] = _mm256_blendv_epi8(bucket[h],
                                     _mm256_sub_epi32(_mm256_add_epi32(_mm256_sllv_epi32(bucket[h], shift[h]), low),
                                                      _mm256_sllv_epi32(_mm256_set1_epi32(1), _mm256_sub_epi32(shift[h], _mm256_set1_epi32(1)))),
                                     shifted);
  }
  // Lanes on the reference path keep their state here and decode the residual again: a
  // general symbol, or a refill past the 4 bytes read.
  for (int h = 0; h < H; ++h) {
    MtLaneBatch& b = *batches[h];
    const __m256i exceptional = _mm256_and_si256(live_mask[h], _mm256_or_si256(general[h], short_of_bytes[h]));
    const __m256i stepping = _mm256_andnot_si256(exceptional, live_mask[h]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(b.state), _mm256_blendv_epi8(state[h], refilled[h], stepping));
    _mm256_store_si256(reinterpret_cast<__m256i*>(b.next), _mm256_blendv_epi8(next[h], _mm256_sub_epi32(next[h], taken[h]), stepping));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(z[h]), _mm256_and_si256(residual[h], live_mask[h]));
    for (unsigned lanes = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(exceptional))); lanes != 0; lanes &= lanes - 1) {
      const int l = __builtin_ctz(lanes);
      if (!decode_lane(b, l, base[h][l], &z[h][l])) return *failed_batch = h, *failed_lane = l, false;
    }
    // Scales move on (cm_next_scale) for every lane at once; the batch's step is then done, so a
    // failure of a later batch leaves it complete.
    const __m256i zv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(z[h]));
    const __m256i m = _mm256_slli_epi32(_mm256_min_epu32(_mm256_abs_epi32(zv), _mm256_set1_epi32(static_cast<int>(f::kCmMagnitudeClamp))), 4);
    const __m256i moved = _mm256_add_epi32(scale[h], _mm256_sra_epi32(_mm256_sub_epi32(m, scale[h]), _mm_cvtsi32_si128(tables[h]->scale_rate())));
    _mm256_store_si256(reinterpret_cast<__m256i*>(b.scale), _mm256_blendv_epi8(scale[h], moved, live_mask[h]));
  }
#undef SPIKEY_EACH
  return true;
#else
  for (int h = 0; h < H; ++h) {
    MtLaneBatch& b = *batches[h];
    const int rate = b.tables->scale_rate();
    for (int l = 0; l < kLanes; ++l) {
      if (l >= b.lanes || !((live[h] >> l) & 1)) {
        z[h][l] = 0;
        continue;
      }
      f::RansDecoder d = b.decoder(l);
      const bool ok = f::mt_decode_residual_probed(b.tables->table(f::cm_class_of(b.scale[l]), base[h][l]), d, &z[h][l]) && !d.overran;
      b.take(l, d);
      if (!ok) return *failed_batch = h, *failed_lane = l, false;
      b.scale[l] = f::cm_next_scale(b.scale[l], z[h][l], rate);
    }
  }
  return true;
#endif
}

}  // namespace mt_detail

bool mt_decode_step(MtLaneBatch& batch, unsigned live, const std::int32_t* base, std::int32_t* z, int* failed_lane) {
  MtLaneBatch* batches[1] = {&batch};
  int failed_batch = 0;
  return mt_detail::decode_steps<1>(batches, &live, &base, &z, &failed_batch, failed_lane);
}

bool mt_decode_steps(MtLaneBatch& a, MtLaneBatch& b, const unsigned* live, const std::int32_t* const* base, std::int32_t* const* z, int* failed_batch,
                     int* failed_lane) {
  MtLaneBatch* batches[2] = {&a, &b};
  return mt_detail::decode_steps<2>(batches, live, base, z, failed_batch, failed_lane);
}
