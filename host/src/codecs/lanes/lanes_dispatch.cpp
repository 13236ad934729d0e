// Run-time choice of the lockstep kernels' instruction set.
#include "codecs/lanes/lanes.hpp"

#include <cstdlib>

#include "codecs/lpc/lpc_lanes.hpp"
#include "codecs/mo/mo_lanes.hpp"
#include "codecs/mt/mt_lanes.hpp"

namespace spikey::host::lanes {

namespace generic {
void lpc_reconstruct(const LpcLaneGroup&, const std::int32_t*, const std::uint32_t* const*, std::int32_t* const*);
void lpc_fold(const LpcLaneGroup&, const std::int32_t* const*, std::uint32_t* const*);
void mo_reconstruct(const MoLaneGroup&, const std::int32_t*, const std::uint32_t* const*, std::int32_t* const*);
void mo_fold(const MoLaneGroup&, const std::int32_t* const*, std::uint32_t* const*);
void mo_residuals(const MoLaneGroup&, const std::int32_t* const*, std::int32_t* const*);
void mo_reconstruct_from(std::span<MoGroupDecoding>);
bool mt_decode_step(MtLaneBatch&, unsigned, const std::int32_t*, std::int32_t*, int*);
bool mt_decode_steps(MtLaneBatch&, MtLaneBatch&, const unsigned*, const std::int32_t* const*, std::int32_t* const*, int*, int*);
}  // namespace generic

#if defined(SPIKEY_HAVE_AVX2_KERNEL)
namespace avx2 {
void lpc_reconstruct(const LpcLaneGroup&, const std::int32_t*, const std::uint32_t* const*, std::int32_t* const*);
void lpc_fold(const LpcLaneGroup&, const std::int32_t* const*, std::uint32_t* const*);
void mo_reconstruct(const MoLaneGroup&, const std::int32_t*, const std::uint32_t* const*, std::int32_t* const*);
void mo_fold(const MoLaneGroup&, const std::int32_t* const*, std::uint32_t* const*);
void mo_residuals(const MoLaneGroup&, const std::int32_t* const*, std::int32_t* const*);
void mo_reconstruct_from(std::span<MoGroupDecoding>);
bool mt_decode_step(MtLaneBatch&, unsigned, const std::int32_t*, std::int32_t*, int*);
bool mt_decode_steps(MtLaneBatch&, MtLaneBatch&, const unsigned*, const std::int32_t* const*, std::int32_t* const*, int*, int*);
}  // namespace avx2

namespace {
// SPIKEY_LANES=generic forces the generic kernel, so that it is tested on AVX2 machines too.
bool use_avx2() {
  static const bool available = __builtin_cpu_supports("avx2") && std::getenv("SPIKEY_LANES") == nullptr;
  return available;
}
}  // namespace
#endif

void lpc_reconstruct(const LpcLaneGroup& group, const std::int32_t* first_code, const std::uint32_t* const* folded, std::int32_t* const* codes) {
#if defined(SPIKEY_HAVE_AVX2_KERNEL)
  if (use_avx2()) return avx2::lpc_reconstruct(group, first_code, folded, codes);
#endif
  generic::lpc_reconstruct(group, first_code, folded, codes);
}

void lpc_fold(const LpcLaneGroup& group, const std::int32_t* const* codes, std::uint32_t* const* folded) {
#if defined(SPIKEY_HAVE_AVX2_KERNEL)
  if (use_avx2()) return avx2::lpc_fold(group, codes, folded);
#endif
  generic::lpc_fold(group, codes, folded);
}

void mo_reconstruct(const MoLaneGroup& group, const std::int32_t* first_code, const std::uint32_t* const* folded, std::int32_t* const* codes) {
#if defined(SPIKEY_HAVE_AVX2_KERNEL)
  if (use_avx2()) return avx2::mo_reconstruct(group, first_code, folded, codes);
#endif
  generic::mo_reconstruct(group, first_code, folded, codes);
}

void mo_fold(const MoLaneGroup& group, const std::int32_t* const* codes, std::uint32_t* const* folded) {
#if defined(SPIKEY_HAVE_AVX2_KERNEL)
  if (use_avx2()) return avx2::mo_fold(group, codes, folded);
#endif
  generic::mo_fold(group, codes, folded);
}

void mo_residuals(const MoLaneGroup& group, const std::int32_t* const* codes, std::int32_t* const* residuals) {
#if defined(SPIKEY_HAVE_AVX2_KERNEL)
  if (use_avx2()) return avx2::mo_residuals(group, codes, residuals);
#endif
  generic::mo_residuals(group, codes, residuals);
}

void mo_reconstruct_from(std::span<MoGroupDecoding> groups) {
#if defined(SPIKEY_HAVE_AVX2_KERNEL)
  if (use_avx2()) return avx2::mo_reconstruct_from(groups);
#endif
  generic::mo_reconstruct_from(groups);
}

bool mt_decode_step(MtLaneBatch& batch, unsigned live, const std::int32_t* base, std::int32_t* z, int* failed_lane) {
#if defined(SPIKEY_HAVE_AVX2_KERNEL)
  if (use_avx2()) return avx2::mt_decode_step(batch, live, base, z, failed_lane);
#endif
  return generic::mt_decode_step(batch, live, base, z, failed_lane);
}

const char* instruction_set() {
#if defined(SPIKEY_HAVE_AVX2_KERNEL)
  if (use_avx2()) return "avx2";
#endif
  return "generic";
}

bool mt_decode_steps(MtLaneBatch& a, MtLaneBatch& b, const unsigned* live, const std::int32_t* const* base, std::int32_t* const* z, int* failed_batch,
                     int* failed_lane) {
#if defined(SPIKEY_HAVE_AVX2_KERNEL)
  if (use_avx2()) return avx2::mt_decode_steps(a, b, live, base, z, failed_batch, failed_lane);
#endif
  return generic::mt_decode_steps(a, b, live, base, z, failed_batch, failed_lane);
}

}  // namespace spikey::host::lanes
