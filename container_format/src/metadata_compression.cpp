// The metadata section's stored form (SPEC.md §3.3): one zstd frame of known content size,
// with the version 4 dictionary of field names and common values.
#include <zstd.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "json_fields.hpp"
#include "metadata_dictionary.hpp"
#include "metadata_internal.hpp"

namespace spikey::format {

namespace detail {

void require_storable(const std::vector<std::uint8_t>& plain) {
  if (plain.size() > kMaxMetadataContentSize) throw std::length_error("metadata too large (headers, names and side files of the inputs exceed 1 GiB)");
}

std::vector<std::uint8_t> compress_metadata(const std::vector<std::uint8_t>& plain) {
  require_storable(plain);
  // Per-file archives carry their own metadata; zstd keeps names, checksums and WAV headers small,
  // and from version 4 its dictionary the field names and common values.
  std::vector<std::uint8_t> out(ZSTD_compressBound(plain.size()));
  // Level 19 up to 16 MiB (a folder's side files: a Blackrock .nev compresses 4.6% smaller than at
  // level 9), then 9, so that hundreds of MiB of side files take seconds, not minutes.
  const int level = plain.size() < (16u << 20) ? 19 : 9;
  static const std::vector<std::uint8_t> dictionary = metadata_dictionary_v4();
  ZSTD_CCtx* context = ZSTD_createCCtx();
  if (context == nullptr) throw std::bad_alloc();
  const std::size_t size =
      ZSTD_compress_usingDict(context, out.data(), out.size(), plain.data(), plain.size(), dictionary.data(), dictionary.size(), level);
  ZSTD_freeCCtx(context);
  if (ZSTD_isError(size)) throw std::runtime_error(std::string("metadata compression failed: ") + ZSTD_getErrorName(size));
  out.resize(size);
  return out;
}

namespace {

// The output grows as zstd produces it, so a damaged frame that declares a huge content size
// fails before that much memory is taken.
std::vector<std::uint8_t> decompress_metadata(std::span<const std::uint8_t> stored, std::uint64_t content_size, std::uint16_t version) {
  struct ContextDeleter {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
  };
  thread_local std::unique_ptr<ZSTD_DCtx, ContextDeleter> context(ZSTD_createDCtx());
  if (!context) throw std::bad_alloc();
  ZSTD_DCtx_reset(context.get(), ZSTD_reset_session_and_parameters);
  if (version >= 4) {
    static const std::vector<std::uint8_t> dictionary = metadata_dictionary_v4();
    if (ZSTD_isError(ZSTD_DCtx_refPrefix(context.get(), dictionary.data(), dictionary.size())))
      throw std::runtime_error("metadata: cannot load the zstd dictionary");
  }
  std::vector<std::uint8_t> plain(std::min<std::uint64_t>(content_size, 64 * std::uint64_t{stored.size()} + 4096));
  ZSTD_inBuffer in{stored.data(), stored.size(), 0};
  ZSTD_outBuffer out{plain.data(), plain.size(), 0};
  for (;;) {
    const std::size_t in_before = in.pos, out_before = out.pos;
    const std::size_t status = ZSTD_decompressStream(context.get(), &out, &in);
    if (ZSTD_isError(status)) fail("metadata: zstd frame does not decompress");
    if (status == 0) break;  // frame complete
    if (out.pos == out.size && plain.size() < content_size) {
      plain.resize(std::min<std::uint64_t>(content_size, 2 * plain.size()));
      out.dst = plain.data();
      out.size = plain.size();
    } else if (in.pos == in_before && out.pos == out_before) {
      fail("metadata: zstd frame is incomplete or larger than its declared size");
    }
  }
  if (out.pos != content_size || in.pos != in.size) fail("metadata: zstd frame does not match its declared size");
  plain.resize(out.pos);
  return plain;
}

}  // namespace

std::vector<std::uint8_t> unpack_metadata(std::span<const std::uint8_t> stored, std::uint16_t version) {
  const unsigned long long content_size = ZSTD_getFrameContentSize(stored.data(), stored.size());
  if (content_size == ZSTD_CONTENTSIZE_ERROR || content_size == ZSTD_CONTENTSIZE_UNKNOWN || content_size > kMaxMetadataContentSize ||
      ZSTD_findFrameCompressedSize(stored.data(), stored.size()) != stored.size())
    fail("metadata: not a single zstd frame of known size");
  return decompress_metadata(stored, content_size, version);
}

}  // namespace detail

std::uint64_t find_metadata_section_size(std::span<const std::uint8_t> bytes) {
  const std::size_t size = ZSTD_findFrameCompressedSize(bytes.data(), bytes.size());
  return ZSTD_isError(size) ? 0 : size;
}

}  // namespace spikey::format
