#include "codecs/golomb/golomb_stream_encoder.hpp"

#include <cstring>
#include <numeric>

#include "spikey/format/codecs/common/golomb_stream.hpp"

namespace spikey::host::codecs {

namespace {

// Built for AVX2 as well and picked at run time: the partition index choice and the codewords
// are the encoder's hottest loops. Flattened under GCC, which otherwise calls the format's
// functions in their one baseline copy from the AVX2 clone (clang refuses flatten beside
// target_clones).
#if defined(__x86_64__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default"), flatten))
#elif defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
void encode_words(std::int32_t first_code, bool adapt, const std::uint32_t* folded, std::uint32_t n, std::uint32_t partition_size,
                  std::vector<std::uint8_t>& indices, std::vector<std::uint32_t>& words) {
  indices.resize(format::partition_count(n - 1, partition_size));
  format::golomb_partition_indices(folded, n - 1, partition_size, indices.data());
  words.resize(format::max_golomb_stream_words(n, partition_size));
  words.resize(format::encode_golomb_stream(first_code, adapt, folded, n - 1, partition_size, indices.data(), words.data()));
}

}  // namespace

bool adapting_folds_smaller(const std::uint32_t* fixed, const std::uint32_t* adapted, std::uint32_t n) {
  const auto sum = [n](const std::uint32_t* v) { return std::accumulate(v, v + (n - 1), std::uint64_t{0}); };
  return sum(adapted) < sum(fixed);
}

void encode_golomb_stream_choosing_weights(std::int32_t first_code, const std::uint32_t* fixed, const std::uint32_t* adapted, std::uint32_t n,
                                           std::uint32_t partition_size, std::vector<std::uint8_t>& stream) {
  const bool adapt = adapted != nullptr && adapting_folds_smaller(fixed, adapted, n);
  thread_local std::vector<std::uint8_t> indices;
  thread_local std::vector<std::uint32_t> words;
  encode_words(first_code, adapt, adapt ? adapted : fixed, n, partition_size, indices, words);
  stream.resize(words.size() * sizeof(std::uint32_t));
  if (!words.empty()) std::memcpy(stream.data(), words.data(), stream.size());  // the words are little-endian already
}

}  // namespace spikey::host::codecs
