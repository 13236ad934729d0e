// The metadata section's stored form (SPEC.md §3.3): zstd frames of known content sizes (one up
// to version 14), with the version 4 dictionary of field names and common values.
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <memory>
#include <stdexcept>

#include "json_fields.hpp"
#include "metadata_dictionary.hpp"
#include "metadata_internal.hpp"

namespace spikey::format {

namespace detail {

void require_storable(std::uint64_t content_size) {
  if (content_size > kMaxMetadataContentSize)
    throw std::length_error("metadata too large (headers, record framing, names and side files of the inputs exceed 16 GiB)");
}

namespace {

struct CompressionContextDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

// One zstd frame of `size` content bytes taken from `pieces` (in order) from `skip` on,
// appended to `out`.
void compress_frame(ZSTD_CCtx* context, std::span<const std::span<const std::uint8_t>> pieces, std::uint64_t skip, std::uint64_t size,
                    int level, std::vector<std::uint8_t>& out) {
  static const std::vector<std::uint8_t> dictionary = metadata_dictionary_v4();
  ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)) ||
      ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(context, size)) || ZSTD_isError(ZSTD_CCtx_refPrefix(context, dictionary.data(), dictionary.size())))
    throw std::runtime_error("metadata compression: cannot set up zstd");
  const std::size_t start = out.size();
  out.resize(start + ZSTD_compressBound(size));
  ZSTD_outBuffer output{out.data() + start, out.size() - start, 0};
  std::uint64_t left = size;
  for (const auto piece : pieces) {
    if (skip >= piece.size()) {
      skip -= piece.size();
      continue;
    }
    const std::uint64_t take = std::min<std::uint64_t>(left, piece.size() - skip);
    ZSTD_inBuffer input{piece.data() + skip, take, 0};
    skip = 0;
    left -= take;
    const ZSTD_EndDirective mode = left == 0 ? ZSTD_e_end : ZSTD_e_continue;
    for (;;) {
      const std::size_t status = ZSTD_compressStream2(context, &output, &input, mode);
      if (ZSTD_isError(status)) throw std::runtime_error(std::string("metadata compression failed: ") + ZSTD_getErrorName(status));
      if (mode == ZSTD_e_end ? status == 0 : input.pos == input.size) break;
    }
    if (left == 0) break;
  }
  if (left != 0) throw std::logic_error("metadata compression: a frame runs past the section's bytes");
  out.resize(start + output.pos);
}

}  // namespace

std::vector<std::uint8_t> compress_metadata(std::span<const std::uint8_t> head, std::span<const std::span<const std::uint8_t>> verbatim,
                                            const MetadataFrameOptions& sizes) {
  std::vector<std::span<const std::uint8_t>> pieces{head};
  pieces.insert(pieces.end(), verbatim.begin(), verbatim.end());
  std::uint64_t verbatim_size = 0;
  for (const auto piece : verbatim) verbatim_size += piece.size();
  const std::uint64_t total = head.size() + verbatim_size;
  require_storable(total);
  if (sizes.frame == 0 || sizes.frame > kMaxMetadataFrameContent || head.size() > kMaxMetadataFrameContent ||
      sizes.first_verbatim > kMaxMetadataFrameContent - head.size())
    throw std::invalid_argument("metadata frame sizes out of range");
  struct Frame {
    std::uint64_t at, size;
    int level;
  };
  // Per-file archives carry their own metadata; zstd keeps names, checksums and WAV headers
  // small, and from version 4 its dictionary the field names and common values. Level 19 up to
  // 16 MiB (a folder's side files: a Blackrock .nev compresses 4.6% smaller than at level 9),
  // then 9, so that hundreds of MiB of side files take seconds, not minutes; the frames after
  // the first (a long recording's framing, §3.3) at 3: gigabytes of framing and auxiliary
  // samples at 9 took minutes (1.2 GB of N1 samples as a header: 200 s at 9), and on binary
  // side files 3 costs about 1% (a Neuralynx .nse: 119,801 bytes at 3, 118,734 at 9).
  const std::uint64_t first = head.size() + std::min<std::uint64_t>(verbatim_size, sizes.first_verbatim);
  std::vector<Frame> frames{{0, first, first < (16u << 20) ? 19 : 9}};
  for (std::uint64_t at = first; at < total; at += sizes.frame) frames.push_back({at, std::min(sizes.frame, total - at), 3});
  // Frames are independent: several threads compress them, each into its own buffer.
  std::vector<std::vector<std::uint8_t>> stored(frames.size());
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  const auto work = [&] {
    try {
      std::unique_ptr<ZSTD_CCtx, CompressionContextDeleter> context(ZSTD_createCCtx());
      if (!context) throw std::bad_alloc();
      for (std::size_t i; (i = next++) < frames.size();) compress_frame(context.get(), pieces, frames[i].at, frames[i].size, frames[i].level, stored[i]);
    } catch (...) {
      const std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = frames.size();
    }
  };
  std::vector<std::thread> helpers;
  for (unsigned t = 1; t < std::min<std::size_t>(std::max(1u, sizes.threads), frames.size()); ++t) helpers.emplace_back(work);
  work();
  for (auto& helper : helpers) helper.join();
  if (failure) std::rethrow_exception(failure);
  if (stored.size() == 1) return std::move(stored[0]);
  std::uint64_t stored_size = 0;
  for (const auto& frame : stored) stored_size += frame.size();
  std::vector<std::uint8_t> out;
  out.reserve(stored_size);
  for (auto& frame : stored) {
    out.insert(out.end(), frame.begin(), frame.end());
    std::vector<std::uint8_t>().swap(frame);
  }
  return out;
}

std::vector<StoredFrame> find_metadata_frames(std::span<const std::uint8_t> stored, std::uint16_t version) {
  std::vector<StoredFrame> frames;
  std::uint64_t total = 0;
  for (std::uint64_t at = 0; at < stored.size();) {
    const auto rest = stored.subspan(at);
    const unsigned long long content_size = ZSTD_getFrameContentSize(rest.data(), rest.size());
    const std::size_t frame_size = ZSTD_findFrameCompressedSize(rest.data(), rest.size());
    if (content_size == ZSTD_CONTENTSIZE_ERROR || content_size == ZSTD_CONTENTSIZE_UNKNOWN || content_size > kMaxMetadataFrameContent ||
        ZSTD_isError(frame_size) || (version < kFirstVersionWithMetadataFrames && frame_size != stored.size()))
      fail(version < kFirstVersionWithMetadataFrames ? "metadata: not a single zstd frame of known size"
                                                     : "metadata: zstd frame " + std::to_string(frames.size()) +
                                                           " is damaged or of unknown size (at byte " + std::to_string(at) + " of the section)");
    if (content_size == 0 && version >= kFirstVersionWithMetadataFrames) fail("metadata: zstd frame " + std::to_string(frames.size()) + " is empty");
    total += content_size;
    if (total > kMaxMetadataContentSize) fail("metadata: the frames' contents exceed 2^34 bytes");
    frames.push_back({at, frame_size, content_size});
    at += frame_size;
  }
  if (frames.empty()) fail("metadata: not a single zstd frame of known size");
  return frames;
}

namespace {

// The output grows as zstd produces it, so a damaged frame that declares a huge content size
// fails before that much memory is taken.
void decompress_frame(std::span<const std::uint8_t> stored, std::uint64_t content_size, std::uint16_t version,
                      std::vector<std::uint8_t>& out) {
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
  const std::size_t start = out.size();
  out.resize(start + std::min<std::uint64_t>(content_size, 64 * std::uint64_t{stored.size()} + 4096));
  ZSTD_inBuffer in{stored.data(), stored.size(), 0};
  ZSTD_outBuffer output{out.data() + start, out.size() - start, 0};
  for (;;) {
    const std::size_t in_before = in.pos, out_before = output.pos;
    const std::size_t status = ZSTD_decompressStream(context.get(), &output, &in);
    if (ZSTD_isError(status)) fail("metadata: zstd frame does not decompress");
    if (status == 0) break;  // frame complete
    if (output.pos == output.size && output.size < content_size) {
      out.resize(start + std::min<std::uint64_t>(content_size, 2 * output.size));
      output.dst = out.data() + start;
      output.size = out.size() - start;
    } else if (in.pos == in_before && output.pos == out_before) {
      fail("metadata: zstd frame is incomplete or larger than its declared size");
    }
  }
  if (output.pos != content_size || in.pos != in.size) fail("metadata: zstd frame does not match its declared size");
  out.resize(start + output.pos);
}

}  // namespace

void append_metadata_frame(std::span<const std::uint8_t> stored, const StoredFrame& frame, std::uint16_t version, std::vector<std::uint8_t>& out) {
  decompress_frame(stored.subspan(frame.offset, frame.size), frame.content_size, version, out);
}

}  // namespace detail

std::uint64_t find_metadata_section_size(std::span<const std::uint8_t> bytes) {
  std::uint64_t at = 0;
  while (at < bytes.size()) {
    const std::size_t size = ZSTD_findFrameCompressedSize(bytes.data() + at, bytes.size() - at);
    if (ZSTD_isError(size)) break;
    at += size;
  }
  return at;
}

}  // namespace spikey::format
