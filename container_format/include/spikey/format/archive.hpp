// The Spikey container (SPEC.md §3–§4): fixed-size records with named field widths and the
// JSON metadata model. Reading and writing whole archives lives in archive_reader.hpp and
// archive_writer.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "spikey/format/codecs/cm/cm_model.hpp"
#include "spikey/format/codec_table.hpp"
#include "spikey/format/codecs/mo/mo_network.hpp"
#include "spikey/format/value_map.hpp"

namespace spikey::format {

// Any malformed, corrupt or unsupported archive. The message names what failed and where
// (chunk index, byte offset) and is meant to be shown to the user as is.
class ArchiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown for a chunk that a salvage could not recover (SPEC.md §3.5, version 5).
class LostChunkError : public ArchiveError {
 public:
  using ArchiveError::ArchiveError;
};

// Version 2 added codec lpc1, version 3 codec mo1, version 4 codec cm1 and chunk frames,
// version 5 lost chunks (salvaged archives), version 6 acquisition folders (side files,
// SpikeGLX and Open Ephys sources, channel gains, run-coded sync channels), version 7 the
// codecs mo2 and cm2 (mo1 and cm1 with the network stage), version 8 the network stage's GRU
// projector (§6.8.2), version 9 the table-driven context coder (codecs mt1-mt3, §6.9.6),
// version 10 stream checks and lost streams (§6.3) and the metadata copy (§3.7), version 11
// samples in records (Neuralynx .ncs, Open Ephys .continuous: §4.2) and big-endian samples,
// version 12 planar records with gaps (Intan .rhd and .rhs files), version 13 records of
// unequal lengths (a paused Blackrock recording's data packets), version 14 snippets (spike
// waveforms), version 15 the metadata section in several zstd frames (§3.3), version 16 records
// of one channel each (Plexon .plx), version 17 their tails (Spike2 .smr), version 18 the
// alpha_omega and abf source kinds (AlphaOmega .mpx/.map, Axon .abf), version 19 the axona
// kind (Axona raw .bin); older archives still decode.
inline constexpr std::uint16_t kFormatVersion = 19;
inline constexpr std::uint16_t kFirstVersionWithStreamChecks = 10;
inline constexpr std::uint16_t kFirstVersionWithRecords = 11;
inline constexpr std::uint16_t kFirstVersionWithPlanarRecords = 12;
inline constexpr std::uint16_t kFirstVersionWithRecordLengths = 13;
inline constexpr std::uint16_t kFirstVersionWithSnippets = 14;
inline constexpr std::uint16_t kFirstVersionWithMetadataFrames = 15;
inline constexpr std::uint16_t kFirstVersionWithChannelRecords = 16;
inline constexpr std::uint16_t kFirstVersionWithRecordTails = 17;
inline constexpr std::uint16_t kFirstVersionWithAlphaOmega = 18;
inline constexpr std::uint16_t kFirstVersionWithAbf = 18;
inline constexpr std::uint16_t kFirstVersionWithAxona = 19;

// §3.2 File header.
inline constexpr std::array<std::uint8_t, 8> kFileMagic = {0x89, 'S', 'P', 'I', 'K', 'E', 'Y', '\n'};
inline constexpr std::size_t kFileHeaderSize = 40;
struct FileHeader {
  std::uint16_t format_version = kFormatVersion;
  std::uint64_t metadata_size = 0;      // bytes of the metadata section that follows the header
  std::uint64_t metadata_checksum = 0;  // XXH3-64 of the metadata section
};
std::vector<std::uint8_t> serialize(const FileHeader& header);
FileHeader parse_file_header(std::span<const std::uint8_t> bytes);  // throws ArchiveError
// The header's fields as they stand, unchecked (bytes must hold kFileHeaderSize): salvage reads
// a damaged header's metadata checksum and version this way.
FileHeader read_file_header_fields(std::span<const std::uint8_t> bytes);

// §3.4 Chunk record header, in front of every chunk payload: 40 bytes in format versions 1-3;
// from version 4 a 20-byte frame (magic, chunk index, payload size and checksum) that lets a
// salvage scan find and check chunks without the index.
inline constexpr std::uint32_t kChunkMagic = 0x434B5053;  // "SPKC" as little-endian bytes
inline constexpr std::size_t kChunkHeaderSize = 40;
inline constexpr std::size_t kChunkFrameSize = 20;
inline std::size_t chunk_header_size(std::uint16_t version) { return version < 4 ? kChunkHeaderSize : kChunkFrameSize; }
struct ChunkHeader {
  std::uint32_t chunk_index = 0;
  std::uint64_t first_sample = 0;  // versions 1-3 only
  std::uint32_t sample_count = 0;  // versions 1-3 only
  std::uint64_t payload_size = 0;
  std::uint64_t payload_checksum = 0;
};
std::vector<std::uint8_t> serialize(const ChunkHeader& header, std::uint16_t version = kFormatVersion);
ChunkHeader parse_chunk_header(std::span<const std::uint8_t> bytes, std::uint64_t file_offset, std::uint16_t version = kFormatVersion);
// Whether a chunk record (its magic) starts at the beginning of `bytes`.
bool starts_chunk_record(std::span<const std::uint8_t> bytes);

// §3.5 Index entry, one per chunk: 48 bytes in versions 1-3; 12 bytes from version 4 (payload
// size and decoded-samples checksum: first sample and count follow from chunk_samples, record
// offsets from the sizes, the payload checksum is in the chunk's frame).
inline constexpr std::size_t kIndexEntrySize = 48;
inline constexpr std::size_t kIndexEntrySizeV4 = 12;
inline std::size_t index_entry_size(std::uint16_t version) { return version < 4 ? kIndexEntrySize : kIndexEntrySizeV4; }
struct IndexEntry {
  std::uint64_t first_sample = 0;
  std::uint32_t sample_count = 0;
  std::uint64_t record_offset = 0;  // file offset of the chunk record (its header or frame)
  std::uint64_t payload_size = 0;
  std::uint64_t payload_checksum = 0;  // versions 1-3 (from version 4 in the frame)
  std::uint64_t samples_checksum = 0;  // XXH3-64 of the decoded samples (§4.4)
  // From version 5: a chunk a salvage could not recover has payload size 0 and no record.
  bool lost() const { return payload_size == 0; }
};
std::vector<std::uint8_t> serialize_index(std::span<const IndexEntry> entries, std::uint16_t version = kFormatVersion);
// Version 4 entries come back with payload size and samples checksum only; the reader derives
// the rest.
std::vector<IndexEntry> parse_index(std::span<const std::uint8_t> bytes, std::uint16_t version = kFormatVersion);

// §3.6 Footer, the last bytes of the file.
inline constexpr std::array<std::uint8_t, 8> kFooterMagic = {'S', 'P', 'I', 'K', 'E', 'N', 'D', 0x89};
inline constexpr std::size_t kFooterSize = 48;
struct Footer {
  std::uint64_t index_offset = 0;
  std::uint64_t chunk_count = 0;
  std::uint64_t index_checksum = 0;
  std::uint64_t reserved = 0;
};
std::vector<std::uint8_t> serialize(const Footer& footer);
Footer parse_footer(std::span<const std::uint8_t> bytes);

// §3.7 Metadata copy (version 10): the stored metadata section again, followed by a trailer
// that ends where the index starts.
inline constexpr std::array<std::uint8_t, 8> kMetadataCopyMagic = {'S', 'P', 'K', 'M', 'E', 'T', 'A', 0x89};
inline constexpr std::size_t kMetadataTrailerSize = 24;
inline constexpr std::uint16_t kFirstVersionWithMetadataCopy = 10;
struct MetadataTrailer {
  std::uint64_t metadata_size = 0;
  std::uint64_t metadata_checksum = 0;
};
std::vector<std::uint8_t> serialize(const MetadataTrailer& trailer);
// Throws ArchiveError when the magic is missing.
MetadataTrailer parse_metadata_trailer(std::span<const std::uint8_t> bytes);
// Bytes between the last chunk record and the index: the copy and its trailer (0 before version 10).
inline std::uint64_t metadata_copy_bytes(std::uint16_t version, std::uint64_t metadata_size) {
  return version >= kFirstVersionWithMetadataCopy ? metadata_size + kMetadataTrailerSize : 0;
}

// §4 Metadata.
// wav and raw hold samples; spikeglx (a .bin beside its .meta) and open_ephys (a
// continuous.dat named by a structure.oebin) are headerless int16 like raw, their layout read
// from the acquisition system's files (version 6); a side file (version 6) holds no channels
// and is kept whole in the verbatim area; neuralynx (.ncs) and open_ephys_legacy (.continuous)
// hold one channel's samples in records, blackrock (.ns1-.ns6) and intan (the .dat files of an
// RHD folder) and nwb (an NWB file's ElectricalSeries) their channels' (version 11).
// plexon (version 16): a Plexon .plx file, its data blocks records of one channel each.
// spike2 (version 17): a CED Spike2 .smr file, its blocks' items records of one channel each
// with tails.
// alpha_omega (version 18): an AlphaOmega .mpx or .map file, its analog data blocks records of
// one channel each with tails; abf (version 18): an Axon Binary Format file, its data section
// the frames; axona (version 19): an Axona raw .bin, its packets records of 3 frames.
enum class SourceKind { wav, raw, spikeglx, open_ephys, side_file, neuralynx, open_ephys_legacy, blackrock, intan, nwb, plexon, spike2, alpha_omega, abf, axona };

// The metadata's name of a source kind (§4.3).
const char* source_kind_name(SourceKind kind);

struct ByteRange {  // a range of the metadata section's verbatim area
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

// A field of a record's framing stored as its difference from the previous record's (version
// 11): `width` bytes (2, 4 or 8), little-endian, at byte `at` of the record's framing.
struct FramingField {
  std::uint32_t at = 0;
  std::uint32_t width = 0;
  bool operator==(const FramingField&) const = default;
};

// Version 11: a source whose samples lie in records, each `header` bytes, `frames` frames of
// samples, `trailer` bytes (§4.2). The headers and trailers (the framing) are stored together,
// record by record, with the declared fields as differences, so that timestamps and counters
// that advance by the same step every record cost almost nothing.
// Version 12: framing bytes among a planar record's samples, after its first `after` channels
// (an Intan .rhd block's auxiliary, supply and temperature samples between its amplifier and
// ADC channels).
struct RecordGap {
  std::uint32_t after = 0;
  std::uint32_t bytes = 0;
  bool operator==(const RecordGap&) const = default;
};

struct SourceRecords {
  std::uint64_t count = 0;   // records; 0: the samples are one block (every version before 11)
  std::uint32_t frames = 0;  // frames per record (0 when `ends` gives each record's)
  std::uint32_t header = 0;  // bytes before each record's samples
  std::uint32_t trailer = 0; // bytes after them
  ByteRange framing;         // count * framing_bytes() stored bytes in the verbatim area
  std::vector<FramingField> fields;
  // Version 12: the record's samples lie channel after channel (`frames` values each), not
  // interleaved by frame; `gaps` (ascending `after`, 0 < after < channels) only then.
  bool planar = false;
  std::vector<RecordGap> gaps;
  // Version 13: records of unequal lengths (interleaved only): record r's frames end before
  // frame ends[r] of the source (`count` entries, strictly ascending; stored as the lengths,
  // §4.2); empty when every record holds `frames`.
  std::vector<std::uint64_t> ends;
  // Version 16: records of one channel each (§4.2): record r holds the samples of one of the
  // source's channels, which and how many given by the record table at `table` in the verbatim
  // area (RecordTable); `frames` is then 0, and nothing is planar or has gaps.
  bool channel_records = false;
  ByteRange table;
  // Version 17: with records of one channel each, record r is followed by tails[r] bytes of its
  // own (the record table's third column); the stored framing is the records' fixed framing
  // (count * framing_bytes(), as above) followed by the tails in record order.
  bool tails = false;
  std::uint64_t first_frame(std::uint64_t r) const { return ends.empty() ? r * frames : r == 0 ? 0 : ends[r - 1]; }
  std::uint64_t frames_in(std::uint64_t r) const { return ends.empty() ? frames : ends[r] - first_frame(r); }
  // The record that holds frame t.
  std::uint64_t record_of(std::uint64_t t) const {
    if (ends.empty()) return t / frames;
    return static_cast<std::uint64_t>(std::upper_bound(ends.begin(), ends.end(), t) - ends.begin());
  }
  // Where record r starts, from the first record's start (every record's framing and frames
  // before it); record_start(count, ...) is the records' size.
  std::uint64_t record_start(std::uint64_t r, std::uint32_t channel_count) const {
    return r * framing_bytes() + first_frame(r) * channel_count * 2;
  }
  // A record's framing: its header, its gaps in order, its trailer.
  std::uint64_t framing_bytes() const {
    std::uint64_t n = std::uint64_t{header} + trailer;
    for (const RecordGap& g : gaps) n += g.bytes;
    return n;
  }
  std::uint64_t record_bytes(std::uint32_t channel_count) const { return std::uint64_t{frames} * channel_count * 2 + framing_bytes(); }  // equal records
  // Byte offset, within a record, of channel j's sample of frame f (SPEC §4.2).
  std::uint64_t sample_offset(std::uint32_t channel_count, std::uint32_t j, std::uint32_t f) const {
    if (!planar) return header + (std::uint64_t{f} * channel_count + j) * 2;
    std::uint64_t at = header + (std::uint64_t{j} * frames + f) * 2;
    for (const RecordGap& g : gaps)
      if (g.after <= j) at += g.bytes;
    return at;
  }
  // Where each piece of record r's framing lies in the file, from the first record's start, in
  // framing order.
  std::vector<ByteRange> framing_pieces(std::uint64_t r, std::uint32_t channel_count) const {
    const std::uint64_t start = record_start(r, channel_count);
    std::vector<ByteRange> pieces{{start, header}};
    for (const RecordGap& g : gaps) pieces.push_back({start + sample_offset(channel_count, g.after, 0) - g.bytes, g.bytes});
    pieces.push_back({record_start(r + 1, channel_count) - trailer, trailer});
    return pieces;
  }
};

struct SourceFile;
// Version 16: which channel of its source each record holds, and how many samples (§4.2).
// Stored in the verbatim area as `count` u32 channel indices, then `count` u32 lengths.
struct RecordTable {
  std::vector<std::uint32_t> channels;
  std::vector<std::uint32_t> lengths;
  std::vector<std::uint32_t> tails;  // version 17 (records.tails): bytes after each record; else empty
};
std::vector<std::uint8_t> record_table_bytes(const RecordTable& table);
// Reads a source's record table and checks it against the source's channels (every index
// below channel_count, each channel's lengths summing to its length, the tails summing to the
// framing's bytes after the fixed framing); throws ArchiveError naming the source.
RecordTable parse_record_table(std::span<const std::uint8_t> stored, const SourceFile& source, std::span<const std::uint64_t> channel_lengths);

struct SourceFile {
  std::string path;  // restore path relative to the output directory, '/'-separated
  SourceKind kind = SourceKind::wav;
  std::uint64_t size = 0;       // bytes of the original file
  std::uint64_t checksum = 0;   // XXH3-64 of the original file
  std::uint32_t channel_count = 0;
  std::uint32_t first_channel = 0;  // its channels are first_channel .. first_channel + channel_count - 1
  std::uint64_t frames = 0;         // samples per channel
  ByteRange prefix;  // verbatim bytes before the samples (WAV header and chunks)
  ByteRange suffix;  // verbatim bytes after the samples (pad byte, trailing chunks, partial frame)
  // Side files: `delta64_count` little-endian u64 words from byte `delta64_offset` of the file
  // are stored as differences from the previous word (§4.2), so that sample-number and
  // timestamp arrays (.npy) compress to almost nothing.
  std::uint64_t delta64_offset = 0;
  std::uint64_t delta64_count = 0;
  // Version 10, raw sources: the file's samples are unsigned 16-bit (offset binary, as Intan's
  // auxiliary and ADC channels and uint16 arrays are): the archive holds each as value - 32768,
  // its top bit flipped, and a restore flips it back (§4.2).
  bool unsigned_samples = false;
  // Version 11: the file's samples are big-endian (Open Ephys .continuous, --raw-format int16be).
  bool big_endian = false;
  // Version 12: the file's samples are IEEE floats of `float_bytes` bytes (4 or 8; 0: 16-bit
  // integers), each `sample_step` times the archive's int16 code (float_samples.hpp, §4.2).
  std::uint32_t float_bytes = 0;
  double sample_step = 0;
  std::uint32_t sample_bytes() const { return float_bytes != 0 ? float_bytes : 2; }
  SourceRecords records;
  // Version 14: the channels are spike waveforms, one per record (a Blackrock .nev), not a
  // time series: readers leave them out of time windows unless named (§4.2, §7).
  bool snippets = false;
  // Version 11, in the metadata copy only (§3.7): a side file whose bytes the copy leaves out
  // (they are in the metadata section alone); its prefix is empty.
  bool omitted = false;
  // Version 6: the source's own sample rate when it differs from the archive's (0: the
  // archive's), e.g. a SpikeGLX LF stream beside its AP stream (§4.1).
  double sample_rate = 0;
};

// The stored form of a source's framing (count records of framing_bytes() each, as in the
// file): every declared field replaced by its difference from the previous record's, modulo
// 2^(8 * width), then, for snippets (`by_position`, version 14), laid out byte position by byte
// position; and back. With tails (version 17) the framing is the records' fixed framing followed
// by the tails, which are stored as they are.
std::vector<std::uint8_t> framing_encode(std::span<const std::uint8_t> framing, const SourceRecords& records, bool by_position = false);
std::vector<std::uint8_t> framing_decode(std::span<const std::uint8_t> stored, const SourceRecords& records, bool by_position = false);

// Why an omitted side file (read from the metadata copy) cannot be restored.
inline std::string omitted_file_message(const std::string& path) {
  return path + ": not in this archive's metadata copy (it keeps no side files' bytes) and the metadata section that held it is damaged; "
                "spikey salvage writes an archive of everything else";
}

// The side file's original bytes from its stored form (undoes the delta64 coding); throws
// ArchiveError for an omitted one.
std::vector<std::uint8_t> side_file_bytes(const SourceFile& source, std::span<const std::uint8_t> verbatim);
// The stored form of a side file's bytes: words [offset, offset + 8 * count) replaced by
// their differences.
std::vector<std::uint8_t> delta64_encode(std::span<const std::uint8_t> file, std::uint64_t offset, std::uint64_t count);

// Another channel whose differences around the same time feed a channel's prediction.
struct PredictorSource {
  std::int32_t channel = -1;
  std::vector<std::int32_t> weights;  // 2W+1 taps over d_s[t-W .. t+W]
};

// A channel's predictor for codecs lpc1 (§6.6: at most one source, no wavelet features) and
// mo1 (§6.7). Weights are at codec.weight_shift fractional bits.
struct ChannelPredictor {
  std::vector<std::int32_t> history_weights;  // N taps over d[t-N .. t-1], oldest first
  std::vector<std::int32_t> wavelet_weights;  // mo1: weights of the L+1 wavelet features, or none
  std::vector<PredictorSource> sources;       // decoded before this channel
  std::int32_t lms_step = 0;                  // sign-sign LMS step; 0 keeps the weights fixed
  // Version 7, mo2/cm2: the gains g and r of the recording's network (mo_network.hpp); 0, 0
  // when the channel does not use it.
  std::int32_t network_input_gain = 0;
  std::int32_t network_output_gain = 0;

  bool uses_network() const { return network_output_gain != 0; }
  std::int32_t source_channel() const { return sources.empty() ? -1 : sources.front().channel; }
};

struct ChannelInfo {
  std::string name;
  std::uint32_t source = 0;
  std::uint64_t length = 0;  // samples
  ValueMap value_map;
  ChannelPredictor predictor;  // lpc1 only
  // Version 6, from the acquisition system's files: the size of one step of the int16 value
  // in `units` (Open Ephys bit_volts, SpikeGLX gain), and whether the channel is a sync or
  // digital word (a bitfield, run-coded in every chunk, §6.10).
  std::optional<double> bit_volts;
  std::string units;
  bool sync = false;
  // Version 16: the channel holds spike waveforms (a Plexon file's, beside its continuous
  // channels), as every channel of a `snippets` source does (§4.2).
  bool snippets = false;
  // Version 16: the channel's own rate where it differs from its source's (a Plexon file's
  // continuous channels beside its waveforms); 0: the source's.
  double sample_rate = 0;
};

// cm1: every class's shape from the stored run starting at `first` (§6.9.2).
inline std::vector<CmShape> cm_complete_shapes(const std::vector<CmShape>& stored, std::uint32_t first) {
  std::vector<CmShape> all(kCmClasses);
  for (std::size_t i = 0; i < stored.size(); ++i) all[first + i] = stored[i];
  for (std::uint32_t k = first; k-- > 0;) all[k] = cm_narrower_shape(all[k + 1]);
  for (std::size_t k = first + stored.size(); k < all.size(); ++k) all[k] = cm_wider_shape(all[k - 1]);
  return all;
}

struct CodecParams {
  std::string name{codec_at(PredictorKind::lpc, NetworkKind::none, ResidualCoder::golomb).name};  // a row of the codec table
  std::uint32_t partition_size = 256;
  std::uint32_t weight_shift = 12;       // lpc1, mo1
  std::uint32_t source_half_window = 2;  // mo1: W of every source window
  std::uint32_t wavelet_levels = 3;      // mo1: L of the channels that use wavelet features
  std::optional<MoNetwork> network;      // mo2, cm2 (version 7), mo3, cm3 (8): the recording's network stage (§6.8.1-2)
  std::vector<CmShape> cm_shapes;        // cm1: kCmClasses shapes (§6.9.2), complete
  std::uint32_t cm_first_class = 0;      // cm1: shapes stored from this class on (the rest follow, §6.9.2)
  std::uint32_t cm_stored_classes = 0;   // cm1: how many are stored
  std::vector<std::uint8_t> cm_prior;    // cm1: the code-density pattern, period a power of two (§6.9.3)
  std::uint32_t cm_scale_rate = 5;       // cm1: the running mean of |z| moves by 2^-rate (§6.9.1)
};

struct Metadata {
  std::string encoder;
  double sample_rate = 0;
  std::uint64_t total_samples = 0;  // longest channel
  std::uint64_t chunk_samples = 0;
  std::string level = "default";
  CodecParams codec;
  std::vector<ChannelInfo> channels;
  std::vector<SourceFile> sources;
  // Version 11, in the metadata copy only (§3.7): the size of the stored metadata section it
  // copies, where the chunk records start (0 elsewhere).
  std::uint64_t section_size = 0;

  std::uint64_t chunk_count() const {
    return chunk_samples == 0 ? 0 : (total_samples + chunk_samples - 1) / chunk_samples;
  }
  std::uint64_t chunk_first_sample(std::uint64_t chunk) const { return chunk * chunk_samples; }
  std::uint32_t chunk_sample_count(std::uint64_t chunk) const {
    const std::uint64_t first = chunk_first_sample(chunk);
    return static_cast<std::uint32_t>(first >= total_samples ? 0 : std::min(chunk_samples, total_samples - first));
  }
  // The longest channel's duration at its own rate (snippets have no time axis: §4.2).
  double duration_seconds() const {
    double longest = 0;
    for (std::size_t c = 0; c < channels.size(); ++c)
      if (channel_rate(c) > 0 && !snippet_channel(c)) longest = std::max(longest, static_cast<double>(channels[c].length) / channel_rate(c));
    return longest;
  }
  // Whether a channel holds spike waveforms one after another (version 14), not a time series.
  bool snippet_channel(std::size_t channel) const { return channels.at(channel).snippets || sources.at(channels.at(channel).source).snippets; }
  // Samples per second of a channel: its own (version 16), else its source's, else the archive's.
  double channel_rate(std::size_t channel) const {
    if (channels.at(channel).sample_rate > 0) return channels[channel].sample_rate;
    const double own = sources.at(channels.at(channel).source).sample_rate;
    return own > 0 ? own : sample_rate;
  }
  std::uint64_t original_bytes() const;
};

// The message for a lost chunk (version 5): which chunk, which samples.
std::string lost_chunk_message(const Metadata& metadata, std::uint64_t chunk);
// The same for one channel's lost stream in a kept chunk (version 10, SPEC.md §6.3).
std::string lost_stream_message(const Metadata& metadata, std::uint64_t chunk, std::uint32_t channel);

// The size of the stored metadata section that a metadata copy of `copy_size` bytes stands
// for (§3.7): the copy's own up to version 10, the `section_size` it records from version 11.
inline std::uint64_t copied_section_size(std::uint16_t version, std::uint64_t copy_size, const Metadata& copy) {
  return version < kFirstVersionWithRecords ? copy_size : copy.section_size;
}

struct MetadataSection {
  Metadata metadata;
  std::vector<std::uint8_t> verbatim;
};

// The stored metadata section holds u64 json_size, the JSON text and the verbatim bytes (§4)
// in zstd frames with their content sizes (§3.3): one up to version 14 (at most 2^30 bytes),
// from version 15 one or more of at most 2^30 bytes each, 2^34 in all, the JSON in the first.
inline constexpr std::uint64_t kMaxMetadataFrameContent = 1ull << 30;
inline constexpr std::uint64_t kMaxMetadataContentSize = 1ull << 34;
// How the reference encoder splits the section into frames (§3.3): the JSON and up to
// `first_verbatim` verbatim bytes in the first frame, the rest in frames of `frame` bytes
// (tests split small sections to exercise the frames), compressed on up to `threads` threads.
struct MetadataFrameOptions {
  std::uint64_t first_verbatim = 64ull << 20;
  std::uint64_t frame = 256ull << 20;
  unsigned threads = 1;
};

// The metadata copy of a version 11 archive (§3.7): the same metadata with every side file's
// bytes left out (`omitted`), the other sources' verbatim bytes laid out again: its verbatim
// area is `verbatim`'s pieces of the section's, one after another (not copied: a long
// recording's framing can be gigabytes).
struct MetadataCopy {
  Metadata metadata;
  std::vector<std::span<const std::uint8_t>> verbatim;
};
MetadataCopy metadata_copy_of(const MetadataSection& section);
std::vector<std::uint8_t> serialize(const MetadataCopy& copy, const MetadataFrameOptions& sizes = {});
std::vector<std::uint8_t> serialize(const MetadataSection& section, const MetadataFrameOptions& sizes = {});
// Validates (§4.3); `expected_version` is the file header's format version.
MetadataSection parse_metadata_section(std::span<const std::uint8_t> bytes, std::uint16_t expected_version = kFormatVersion);
// The JSON and what the first frame holds of the verbatim bytes (a reader's `info` and time
// windows need no more): `section.verbatim` is complete only when `verbatim_size` equals its
// size; load_metadata_frames adds the rest from the same stored bytes. Validates as above.
struct MetadataHead {
  MetadataSection section;
  std::uint64_t verbatim_size = 0;  // of the whole verbatim area
};
MetadataHead parse_metadata_head(std::span<const std::uint8_t> bytes, std::uint16_t expected_version = kFormatVersion);
// Appends the verbatim bytes of the frames after the first to `verbatim` (the first frame's,
// as parse_metadata_head gave them); throws ArchiveError unless they decompress to the sizes
// their frames declare and make `verbatim_size` bytes in all.
void load_metadata_frames(std::vector<std::uint8_t>& verbatim, std::uint64_t verbatim_size, std::span<const std::uint8_t> bytes,
                          std::uint16_t version);
// What `parse_metadata_section(serialize(section))` checks, without compressing: throws
// ArchiveError where the section would not read back, std::length_error past 2^34 bytes. An
// encoder checks its section before coding; compressing a folder's side files twice doubled
// that cost.
void check_metadata_section(const MetadataSection& section);
// Size of the stored metadata section at the start of `bytes` (its zstd frames, one after the
// other), or 0 when no complete frame starts there: salvage finds the metadata with a damaged
// file header.
std::uint64_t find_metadata_section_size(std::span<const std::uint8_t> bytes);

// The JSON of codec parameters and of a channel's predictor exactly as the metadata stores
// them (§4.3, §6.6, §6.7); model files (`spikey train`) reuse it. Parsing throws ArchiveError.
nlohmann::json codec_to_json(const CodecParams& codec);
CodecParams codec_from_json(const nlohmann::json& j);
nlohmann::json predictor_to_json(const ChannelPredictor& predictor, const CodecParams& codec);
ChannelPredictor predictor_from_json(const nlohmann::json& j, const CodecParams& codec, const std::string& where);

// A channel's name when the metadata stores none: its source's path, with ":i" (its index
// within the source) for multichannel sources.
std::string default_channel_name(const Metadata& metadata, std::uint32_t channel);

// mo1: channels in an order where every channel comes after its sources (lowest channel first
// among the ready ones); fewer than all channels when the sources form a cycle.
std::vector<std::uint32_t> mo_decoding_order(const Metadata& metadata);

// Hex form of checksums in the metadata and in reports.
std::string checksum_hex(std::uint64_t checksum);

// Allowed value range of a codec parameter (§6.4).
inline constexpr std::uint32_t kMaxPartitionSize = 1u << 20;

// A chunk holds at most this many samples over all its channels (its length times the channel
// count, §4.3): what a reader allocates for one chunk is bounded (1 GiB of int32 codes) however
// an archive is made. A second of 1024 channels at 30 kHz is 2^25.
inline constexpr std::uint64_t kMaxChunkChannelSamples = std::uint64_t{1} << 28;

}  // namespace spikey::format
