// The rules a parsed metadata section must follow (SPEC.md §4.3) before anything is decoded with
// it: sample rate and chunking, the codec's predictors, sources that tile their files and
// restore inside the output directory, sync channels outside prediction.
#include <algorithm>
#include <cmath>

#include "codecs/codec_params.hpp"
#include "metadata_internal.hpp"

namespace spikey::format::detail {

namespace {

// Restore paths must stay inside the output directory.
bool is_safe_relative_path(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.find('\0') != std::string::npos || path.find('\\') != std::string::npos)
    return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool is_empty_predictor(const ChannelPredictor& p) {
  return p.history_weights.empty() && p.wavelet_weights.empty() && p.sources.empty() && p.lms_step == 0 && !p.uses_network();
}

}  // namespace

void validate(const Metadata& m, std::uint64_t verbatim_size, std::uint16_t version) {
  if (!(m.sample_rate > 0) || !std::isfinite(m.sample_rate)) fail("metadata: sample_rate must be positive");
  if (m.chunk_samples == 0 || m.chunk_samples > 0xffffffffu) fail("metadata: chunk_samples out of range");
  if (std::min(m.chunk_samples, m.total_samples) * std::max<std::uint64_t>(m.channels.size(), 1) > kMaxChunkChannelSamples)
    fail("metadata: the longest chunk's samples over all channels pass 2^28");
  const CodecRow& codec = known_codec(m.codec.name);
  if (m.codec.partition_size == 0 || m.codec.partition_size > kMaxPartitionSize)
    fail("metadata: codec.partition_size out of range");
  if (codec.predictor == PredictorKind::lpc) validate_lpc_predictors(m);
  if (codec.predictor == PredictorKind::middle_out) validate_mo_predictors(m);
  std::uint64_t longest = 0;
  for (const auto& c : m.channels) {
    if (c.source >= m.sources.size()) fail("metadata: channel \"" + c.name + "\" names a missing source");
    longest = std::max(longest, c.length);
  }
  if (longest != m.total_samples) fail("metadata: total_samples does not match the longest channel");
  for (std::size_t c = 0; c < m.channels.size(); ++c) {
    const ChannelInfo& channel = m.channels[c];
    for (const auto& s : channel.predictor.sources)
      if (s.channel >= 0 && static_cast<std::size_t>(s.channel) < m.channels.size() && m.channels[static_cast<std::size_t>(s.channel)].sync)
        fail("metadata: channel " + std::to_string(c) + " is predicted from sync channel " + std::to_string(s.channel));
    if (channel.sync && (channel.value_map.kind != ValueMapKind::identity || !is_empty_predictor(channel.predictor)))
      fail("metadata: sync channel " + std::to_string(c) + " must have the identity value map and no predictor");
  }
  std::uint32_t next_channel = 0;
  for (std::size_t i = 0; i < m.sources.size(); ++i) {
    const auto& s = m.sources[i];
    const std::string where = "source " + std::to_string(i);
    if (!is_safe_relative_path(s.path)) fail("metadata: " + where + " has an unsafe restore path \"" + s.path + "\"");
    if (s.first_channel != next_channel || s.channel_count > m.channels.size() - next_channel)
      fail("metadata: " + where + " channels are not contiguous");
    // Records of one channel each (version 16) give each channel its own length, the longest
    // the source's frames; every other source's channels have its frames.
    std::uint64_t longest_here = 0, samples_here = 0;
    for (std::uint32_t c = s.first_channel; c < s.first_channel + s.channel_count; ++c) {
      const ChannelInfo& channel = m.channels[c];
      if (channel.source != i || (s.records.channel_records ? channel.length > s.frames : channel.length != s.frames))
        fail("metadata: channel " + std::to_string(c) + " does not match " + where);
      if (channel.snippets && !s.records.channel_records) fail("metadata: channel " + std::to_string(c) + " holds snippets but its source has no record table");
      longest_here = std::max(longest_here, channel.length);
      if (__builtin_add_overflow(samples_here, channel.length, &samples_here)) fail("metadata: " + where + " channel lengths overflow");
    }
    if (s.records.channel_records && s.channel_count != 0 && longest_here != s.frames)
      fail("metadata: " + where + " frames are not its longest channel's length");
    next_channel += s.channel_count;
    if (version < 6 && s.kind != SourceKind::wav && s.kind != SourceKind::raw)
      fail("metadata: " + where + " of kind " + source_kind_name(s.kind) + " needs format version 6");
    if (version < kFirstVersionWithRecords && (s.kind == SourceKind::neuralynx || s.kind == SourceKind::open_ephys_legacy || s.kind == SourceKind::blackrock || s.kind == SourceKind::intan ||
                                                s.kind == SourceKind::nwb))
      fail("metadata: " + where + " of kind " + source_kind_name(s.kind) + " needs format version 11");
    if (s.snippets && (s.records.count == 0 || s.records.planar)) fail("metadata: " + where + " holds snippets but not in interleaved records");
    if (s.kind == SourceKind::side_file) {
      if (s.channel_count != 0 || s.frames != 0 || s.suffix.size != 0 || s.prefix.size != (s.omitted ? 0 : s.size) || s.sample_rate != 0)
        fail("metadata: side file " + where + " must hold no channels and all its bytes as prefix");
      if (s.delta64_count > s.size / 8 || s.delta64_offset > s.size - 8 * s.delta64_count)
        fail("metadata: " + where + " delta64 words lie outside the file");
      if (s.prefix.offset + s.prefix.size > verbatim_size) fail("metadata: " + where + " verbatim bytes out of range");
      if (s.records.count != 0 || s.big_endian || s.unsigned_samples || s.float_bytes != 0) fail("metadata: side file " + where + " has a sample layout");
      continue;
    }
    if (s.delta64_count != 0) fail("metadata: " + where + " has delta64 words but is not a side file");
    if (s.omitted) fail("metadata: " + where + " is omitted but is not a side file");
    if (s.channel_count == 0) fail("metadata: " + where + " has no channels");
    // prefix + frames * channels * 2 + suffix == size (with records: prefix + count * (header +
    // frames_per_record * channels * 2 + trailer) + suffix), checked without overflow.
    if (s.float_bytes != 0 && s.records.count != 0) fail("metadata: " + where + " has float samples in records");
    if (s.records.count == 0 && !s.records.ends.empty()) fail("metadata: " + where + " has record lengths but no records");
    if (s.records.count == 0 && s.records.channel_records) fail("metadata: " + where + " has a record table beside another record layout");
    const std::uint64_t frame_bytes = std::uint64_t{s.channel_count} * s.sample_bytes();
    if (s.prefix.size > s.size || s.suffix.size > s.size - s.prefix.size) fail("metadata: " + where + " size does not match its parts");
    const std::uint64_t body = s.size - s.prefix.size - s.suffix.size;
    if (s.records.count == 0) {
      if (s.frames > body / frame_bytes || s.frames * frame_bytes != body) fail("metadata: " + where + " size does not match its parts");
    } else {
      const SourceRecords& r = s.records;
      if (r.channel_records) {  // records of one channel each (version 16): sizes from the channels' lengths
        if (r.frames != 0 || r.planar || !r.gaps.empty() || !r.ends.empty() || s.float_bytes != 0)
          fail("metadata: " + where + " has a record table beside another record layout");
        const std::uint64_t entry = r.tails ? 12 : 8;  // channel and length, and from version 17 the tail's size
        if (r.table.size != entry * r.count || r.table.size / entry != r.count || r.table.offset + r.table.size > verbatim_size)
          fail("metadata: " + where + " record table is not " + std::to_string(entry) + " bytes a record inside the verbatim area");
        const std::uint64_t fb = r.framing_bytes();
        if (fb != 0 && r.count > body / fb) fail("metadata: " + where + " size does not match its parts");
        // With tails the framing holds the records' fixed framing and the tails: all of the records' bytes but their samples.
        const std::uint64_t framing = r.tails ? r.framing.size : r.count * fb;
        if (framing < r.count * fb || framing > body || samples_here > (body - framing) / 2 || framing + 2 * samples_here != body)
          fail("metadata: " + where + " size does not match its parts");
      } else if (!r.ends.empty()) {  // records of unequal lengths (version 13): interleaved, summing to the source's frames
        if (r.planar || r.frames != 0 || r.ends.size() != r.count) fail("metadata: " + where + " has record lengths that do not match its records");
        if (r.ends.back() != s.frames) fail("metadata: " + where + " frames are not the sum of its records' lengths");
        const std::uint64_t fb = r.framing_bytes();
        if (fb != 0 && r.count > body / fb) fail("metadata: " + where + " size does not match its parts");
        const std::uint64_t framing = r.count * fb;
        if (s.frames > (body - framing) / frame_bytes || framing + s.frames * frame_bytes != body) fail("metadata: " + where + " size does not match its parts");
      } else if (r.frames == 0) {
        fail("metadata: " + where + " has records of no frames");
      } else if (r.count > s.frames / r.frames || r.count * r.frames != s.frames) {
        fail("metadata: " + where + " frames are not records x frames per record");
      }
      if (!r.gaps.empty()) {  // inside the samples, after channels in ascending order (version 12)
        if (!r.planar) fail("metadata: " + where + " has gaps in records that are not planar");
        std::uint32_t after = 0;
        for (const RecordGap& g : r.gaps) {
          if (g.after <= after || g.after >= s.channel_count || g.bytes == 0)
            fail("metadata: " + where + " has a gap that is not after 1 .. channels - 1, ascending, of at least one byte");
          after = g.after;
        }
      }
      if (r.ends.empty() && !r.channel_records) {
        if (r.framing_bytes() > body || r.frames > (body - r.framing_bytes()) / frame_bytes) fail("metadata: " + where + " size does not match its parts");
        const std::uint64_t record_bytes = r.frames * frame_bytes + r.framing_bytes();
        if (r.count > body / record_bytes || r.count * record_bytes != body) fail("metadata: " + where + " size does not match its parts");
      }
      if (r.tails && !r.channel_records) fail("metadata: " + where + " has record tails but no record table");
      if ((r.tails ? r.framing.size < r.count * r.framing_bytes() : r.framing.size != r.count * r.framing_bytes()) || r.framing.offset + r.framing.size > verbatim_size)
        fail("metadata: " + where + " framing bytes out of range");
      for (const FramingField& f : r.fields)
        if ((f.width != 2 && f.width != 4 && f.width != 8) || f.at > r.framing_bytes() || f.width > r.framing_bytes() - f.at)
          fail("metadata: " + where + " has a framing field outside its records' framing");
    }
    if (s.prefix.offset + s.prefix.size > verbatim_size || s.suffix.offset + s.suffix.size > verbatim_size)
      fail("metadata: " + where + " verbatim bytes out of range");
  }
  if (next_channel != m.channels.size()) fail("metadata: some channels belong to no source");
  // Two sources restoring to one path would overwrite each other.
  std::vector<std::string> paths;
  for (const auto& s : m.sources) paths.push_back(s.path);
  std::sort(paths.begin(), paths.end());
  if (std::adjacent_find(paths.begin(), paths.end()) != paths.end()) fail("metadata: two sources share a restore path");
}

}  // namespace spikey::format::detail
