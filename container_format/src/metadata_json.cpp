// The metadata section's JSON (SPEC.md §4.3): recording, channels, sources, and the codec's
// parameters and predictors (codecs/codec_json.cpp).
#include <algorithm>
#include <cmath>

#include "json_fields.hpp"
#include "metadata_internal.hpp"
#include "spikey/format/wire.hpp"

namespace spikey::format {

using detail::fail;
using detail::field;
using detail::json;
using detail::known_codec;

std::uint64_t Metadata::original_bytes() const {
  std::uint64_t total = 0;
  for (const auto& s : sources) total += s.size;
  return total;
}

const char* source_kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::wav: return "wav";
    case SourceKind::raw: return "raw";
    case SourceKind::spikeglx: return "spikeglx";
    case SourceKind::open_ephys: return "open_ephys";
    case SourceKind::side_file: return "side_file";
    case SourceKind::neuralynx: return "neuralynx";
    case SourceKind::open_ephys_legacy: return "open_ephys_legacy";
    case SourceKind::blackrock: return "blackrock";
    case SourceKind::intan: return "intan";
    case SourceKind::nwb: return "nwb";
    case SourceKind::plexon: return "plexon";
    case SourceKind::spike2: return "spike2";
    case SourceKind::alpha_omega: return "alpha_omega";
    case SourceKind::abf: return "abf";
    case SourceKind::axona: return "axona";
  }
  return "raw";
}


namespace {

json value_map_to_json(const ValueMap& m) {
  switch (m.kind) {
    case ValueMapKind::affine:
      return {{"kind", "affine"}, {"step", m.step}, {"offset", m.offset}};
    case ValueMapKind::n1_10bit:
      return {{"kind", "n1_10bit"}};
    case ValueMapKind::identity:
    default:
      return {{"kind", "identity"}};
  }
}

json range_to_json(const ByteRange& r) { return json::array({r.offset, r.size}); }

ValueMap value_map_from_json(const json& j, const std::string& where) {
  const auto kind = field<std::string>(j, "kind", where);
  ValueMap m;
  if (kind == "identity") {
    m.kind = ValueMapKind::identity;
  } else if (kind == "n1_10bit") {
    m.kind = ValueMapKind::n1_10bit;
  } else if (kind == "affine") {
    m.kind = ValueMapKind::affine;
    const auto step = field<std::uint32_t>(j, "step", where);
    const auto offset = field<std::uint32_t>(j, "offset", where);
    if (step < 1 || step > 65535 || offset >= step) fail("metadata: " + where + " has an invalid affine step/offset");
    m.step = static_cast<std::int32_t>(step);
    m.offset = static_cast<std::int32_t>(offset);
  } else {
    fail("metadata: " + where + " uses value map \"" + kind + "\", unknown to this version");
  }
  return m;
}

ByteRange range_from_json(const json& j, const std::string& where, std::uint64_t verbatim_size) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_number_unsigned() || !j[1].is_number_unsigned())
    fail("metadata: " + where + " is not an [offset, size] pair");
  ByteRange r{j[0].get<std::uint64_t>(), j[1].get<std::uint64_t>()};
  if (r.offset > verbatim_size || r.size > verbatim_size - r.offset)
    fail("metadata: " + where + " points outside the verbatim bytes");
  return r;
}

void require_size(std::span<const std::uint8_t> bytes, std::size_t size, const char* what) {
  if (bytes.size() < size) fail(std::string(what) + " is truncated");
}

}  // namespace

std::string default_channel_name(const Metadata& m, std::uint32_t channel) {
  const SourceFile& source = m.sources.at(m.channels.at(channel).source);
  if (source.channel_count == 1) return source.path;
  return source.path + ":" + std::to_string(channel - source.first_channel);
}

namespace {

// The section's plain bytes (§4): u64 JSON size, the JSON text, the verbatim bytes.
// u64 json_size and the JSON: the plain bytes before the verbatim area (§3.3).
std::vector<std::uint8_t> head_bytes(const Metadata& m) {
  json j;
  j["format_version"] = kFormatVersion;
  j["encoder"] = m.encoder;
  j["sample_rate"] = m.sample_rate;
  j["total_samples"] = m.total_samples;
  j["chunk_samples"] = m.chunk_samples;
  j["level"] = m.level;
  j["codec"] = codec_to_json(m.codec);
  const bool has_predictors = known_codec(m.codec.name).has_predictors();
  json channels = json::array();
  for (const auto& c : m.channels) {
    json cj = {{"source", c.source}, {"length", c.length}, {"value_map", value_map_to_json(c.value_map)}};
    if (c.source >= m.sources.size() || c.name != default_channel_name(m, static_cast<std::uint32_t>(&c - m.channels.data()))) cj["name"] = c.name;
    if (has_predictors) cj["predictor"] = predictor_to_json(c.predictor, m.codec);
    if (c.bit_volts) cj["bit_volts"] = *c.bit_volts;
    if (!c.units.empty()) cj["units"] = c.units;
    if (c.sync) cj["sync"] = true;
    if (c.snippets) cj["snippets"] = true;
    if (c.sample_rate > 0) cj["sample_rate"] = c.sample_rate;
    channels.push_back(std::move(cj));
  }
  j["channels"] = std::move(channels);
  json sources = json::array();
  for (const auto& s : m.sources) {
    json sj = {{"path", s.path},
               {"kind", source_kind_name(s.kind)},
               {"size", s.size},
               {"checksum", checksum_hex(s.checksum)},
               {"channel_count", s.channel_count},
               {"first_channel", s.first_channel},
               {"frames", s.frames},
               {"prefix", range_to_json(s.prefix)},
               {"suffix", range_to_json(s.suffix)}};
    if (s.delta64_count != 0) sj["delta64"] = json::array({s.delta64_offset, s.delta64_count});
    if (s.omitted) sj["omitted"] = true;
    if (s.sample_rate > 0) sj["sample_rate"] = s.sample_rate;
    if (s.float_bytes != 0) {
      sj["sample_format"] = std::string(s.float_bytes == 4 ? "float32" : "float64") + (s.big_endian ? "be" : "");
      sj["sample_step"] = s.sample_step;
    } else if (s.unsigned_samples || s.big_endian) {
      sj["sample_format"] = std::string(s.unsigned_samples ? "uint16" : "int16") + (s.big_endian ? "be" : "");
    }
    if (s.records.count != 0) {
      json fields = json::array();
      for (const auto& f : s.records.fields) fields.push_back(json::array({f.at, f.width}));
      sj["records"] = {{"count", s.records.count},   {"frames", s.records.frames},
                       {"header", s.records.header}, {"trailer", s.records.trailer},
                       {"framing", range_to_json(s.records.framing)}, {"fields", std::move(fields)}};
      if (s.records.planar) sj["records"]["planar"] = true;
      if (!s.records.ends.empty()) {  // version 13: each record's frames
        json lengths = json::array();
        for (std::uint64_t r = 0; r < s.records.count; ++r) lengths.push_back(s.records.frames_in(r));
        sj["records"]["lengths"] = std::move(lengths);
      }
      if (s.records.channel_records) sj["records"]["table"] = range_to_json(s.records.table);  // version 16
      if (s.records.tails) sj["records"]["tails"] = true;  // version 17
      if (!s.records.gaps.empty()) {
        json gaps = json::array();
        for (const auto& g : s.records.gaps) gaps.push_back(json::array({g.after, g.bytes}));
        sj["records"]["gaps"] = std::move(gaps);
      }
    }
    if (s.snippets) sj["snippets"] = true;
    sources.push_back(std::move(sj));
  }
  j["sources"] = std::move(sources);
  if (m.section_size != 0) j["section_size"] = m.section_size;
  const std::string text = j.dump();
  std::vector<std::uint8_t> plain;
  WireWriter w(plain);
  w.u64(text.size());
  w.bytes({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  return plain;
}

}  // namespace

std::vector<std::uint8_t> serialize(const MetadataSection& section, const MetadataFrameOptions& sizes) {
  const std::span<const std::uint8_t> verbatim[] = {section.verbatim};
  return detail::compress_metadata(head_bytes(section.metadata), verbatim, sizes);
}

std::vector<std::uint8_t> serialize(const MetadataCopy& copy, const MetadataFrameOptions& sizes) {
  return detail::compress_metadata(head_bytes(copy.metadata), copy.verbatim, sizes);
}

std::string lost_chunk_message(const Metadata& metadata, std::uint64_t chunk) {
  const std::uint64_t first = metadata.chunk_first_sample(chunk);
  const std::uint64_t last = first + std::max<std::uint32_t>(metadata.chunk_sample_count(chunk), 1) - 1;
  return "chunk " + std::to_string(chunk) + " (samples " + std::to_string(first) + ".." + std::to_string(last) +
         ") was lost before this archive was salvaged";
}

std::string lost_stream_message(const Metadata& metadata, std::uint64_t chunk, std::uint32_t channel) {
  const std::uint64_t first = metadata.chunk_first_sample(chunk);
  const std::uint64_t length = channel < metadata.channels.size() ? metadata.channels[channel].length : first + 1;
  const std::uint64_t last = std::min<std::uint64_t>(first + std::max<std::uint32_t>(metadata.chunk_sample_count(chunk), 1), std::max(length, first + 1)) - 1;
  return "channel " + std::to_string(channel) + " in chunk " + std::to_string(chunk) + " (samples " + std::to_string(first) + ".." +
         std::to_string(last) + ") was lost before this archive was salvaged";
}

namespace {

// `bytes`: the first frame's content (all of the section's up to version 14), of a section
// whose content is `content_size` bytes in all; section.verbatim gets what `bytes` holds of it.
MetadataHead parse_plain_bytes(std::span<const std::uint8_t> bytes, std::uint64_t content_size, std::uint16_t expected_version) {
  require_size(bytes, 8, "metadata section");
  WireReader r(bytes);
  const std::uint64_t json_size = r.u64();
  if (json_size > bytes.size() - 8)
    fail(expected_version >= kFirstVersionWithMetadataFrames ? "metadata: JSON size exceeds the section's first frame"
                                                             : "metadata: JSON size exceeds the metadata section");
  const auto text = r.bytes(json_size);
  MetadataHead head;
  MetadataSection& section = head.section;
  section.verbatim.assign(bytes.begin() + 8 + static_cast<std::ptrdiff_t>(json_size), bytes.end());
  const std::uint64_t verbatim_size = content_size - 8 - json_size;
  head.verbatim_size = verbatim_size;

  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) fail("metadata: not valid JSON");
  Metadata& m = section.metadata;
  const auto version = field<std::uint32_t>(j, "format_version", "metadata");
  if (version != expected_version) fail("metadata: format_version does not match the file header");
  m.encoder = field<std::string>(j, "encoder", "metadata");
  m.sample_rate = field<double>(j, "sample_rate", "metadata");
  m.total_samples = field<std::uint64_t>(j, "total_samples", "metadata");
  m.chunk_samples = field<std::uint64_t>(j, "chunk_samples", "metadata");
  m.level = field<std::string>(j, "level", "metadata");
  const json codec = field<json>(j, "codec", "metadata");
  m.codec = codec_from_json(codec);
  const CodecRow& row = known_codec(m.codec.name);
  const json channels = field<json>(j, "channels", "metadata");
  const json sources = field<json>(j, "sources", "metadata");
  if (!channels.is_array() || !sources.is_array()) fail("metadata: channels and sources must be arrays");
  std::vector<bool> named;  // channels without a stored name take their default (§4.3)
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const std::string where = "channel " + std::to_string(i);
    ChannelInfo c;
    if (channels[i].contains("name")) c.name = field<std::string>(channels[i], "name", where);
    named.push_back(channels[i].contains("name"));
    c.source = field<std::uint32_t>(channels[i], "source", where);
    c.length = field<std::uint64_t>(channels[i], "length", where);
    c.value_map = value_map_from_json(field<json>(channels[i], "value_map", where), where);
    if (row.has_predictors()) c.predictor = predictor_from_json(field<json>(channels[i], "predictor", where), m.codec, where);
    if (expected_version >= 6) {
      if (channels[i].contains("bit_volts")) c.bit_volts = field<double>(channels[i], "bit_volts", where);
      if (channels[i].contains("units")) c.units = field<std::string>(channels[i], "units", where);
      if (channels[i].contains("sync")) {
        if (!channels[i]["sync"].is_boolean()) fail("metadata: " + where + ".sync is not true or false");
        c.sync = channels[i]["sync"].get<bool>();
      }
    }
    if (expected_version >= kFirstVersionWithChannelRecords && channels[i].contains("snippets")) {
      if (!channels[i]["snippets"].is_boolean()) fail("metadata: " + where + ".snippets is not true or false");
      c.snippets = channels[i]["snippets"].get<bool>();
    }
    if (expected_version >= kFirstVersionWithChannelRecords && channels[i].contains("sample_rate")) {
      c.sample_rate = field<double>(channels[i], "sample_rate", where);
      if (!(c.sample_rate > 0) || !std::isfinite(c.sample_rate)) fail("metadata: " + where + ".sample_rate must be positive");
    }
    m.channels.push_back(std::move(c));
  }
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const std::string where = "source " + std::to_string(i);
    const json& sj = sources[i];
    SourceFile s;
    s.path = field<std::string>(sj, "path", where);
    const auto kind = field<std::string>(sj, "kind", where);
    bool known = false;
    for (const SourceKind k : {SourceKind::wav, SourceKind::raw, SourceKind::spikeglx, SourceKind::open_ephys, SourceKind::side_file,
                               SourceKind::neuralynx, SourceKind::open_ephys_legacy, SourceKind::blackrock, SourceKind::intan, SourceKind::nwb, SourceKind::plexon, SourceKind::spike2,
                               SourceKind::alpha_omega, SourceKind::abf, SourceKind::axona})
      if (kind == source_kind_name(k) && (k != SourceKind::plexon || expected_version >= kFirstVersionWithChannelRecords) &&
          (k != SourceKind::spike2 || expected_version >= kFirstVersionWithRecordTails) &&
          (k != SourceKind::alpha_omega || expected_version >= kFirstVersionWithAlphaOmega) &&
          (k != SourceKind::abf || expected_version >= kFirstVersionWithAbf) &&
          (k != SourceKind::axona || expected_version >= kFirstVersionWithAxona))
        s.kind = k, known = true;
    if (!known) fail("metadata: " + where + " has unknown kind \"" + kind + "\"");
    s.size = field<std::uint64_t>(sj, "size", where);
    const auto hex = field<std::string>(sj, "checksum", where);
    if (hex.size() != 16 || hex.find_first_not_of("0123456789abcdef") != std::string::npos)
      fail("metadata: " + where + " checksum is not 16 hex digits");
    s.checksum = std::stoull(hex, nullptr, 16);
    s.channel_count = field<std::uint32_t>(sj, "channel_count", where);
    s.first_channel = field<std::uint32_t>(sj, "first_channel", where);
    s.frames = field<std::uint64_t>(sj, "frames", where);
    s.prefix = range_from_json(field<json>(sj, "prefix", where), where + ".prefix", verbatim_size);
    s.suffix = range_from_json(field<json>(sj, "suffix", where), where + ".suffix", verbatim_size);
    if (expected_version >= 6 && sj.contains("delta64")) {
      const json& d = sj["delta64"];
      if (!d.is_array() || d.size() != 2 || !d[0].is_number_unsigned() || !d[1].is_number_unsigned())
        fail("metadata: " + where + ".delta64 is not [offset, count]");
      s.delta64_offset = d[0].get<std::uint64_t>();
      s.delta64_count = d[1].get<std::uint64_t>();
    }
    if (expected_version >= 6 && sj.contains("sample_rate")) {
      s.sample_rate = field<double>(sj, "sample_rate", where);
      if (!(s.sample_rate > 0) || !std::isfinite(s.sample_rate)) fail("metadata: " + where + ".sample_rate must be positive");
    }
    if (expected_version >= 10 && sj.contains("sample_format")) {
      const auto sample_format = field<std::string>(sj, "sample_format", where);
      const bool big = expected_version >= kFirstVersionWithRecords && sample_format.size() > 2 && sample_format.ends_with("be");
      const std::string base = big ? sample_format.substr(0, sample_format.size() - 2) : sample_format;
      const bool floats = expected_version >= kFirstVersionWithPlanarRecords && (base == "float32" || base == "float64");
      if (floats) {
        s.float_bytes = base == "float32" ? 4 : 8;
        s.sample_step = field<double>(sj, "sample_step", where);
        if (!(s.sample_step > 0) || !std::isfinite(s.sample_step)) fail("metadata: " + where + ".sample_step must be a positive number");
      } else if (base != "uint16" && base != "int16")
        fail("metadata: " + where + ".sample_format \"" + sample_format + "\" is not int16 or uint16" +
             (expected_version >= kFirstVersionWithRecords ? " (or their big-endian int16be, uint16be)" : "") +
             (expected_version >= kFirstVersionWithPlanarRecords ? " or float32, float64 (little- or big-endian)" : ""));
      s.unsigned_samples = base == "uint16";
      s.big_endian = big;
      if (s.unsigned_samples && s.kind != SourceKind::raw && expected_version < kFirstVersionWithRecords)
        fail("metadata: " + where + ": only raw sources hold uint16 samples");
    }
    if (expected_version >= kFirstVersionWithRecords && sj.contains("omitted")) {
      if (!sj["omitted"].is_boolean()) fail("metadata: " + where + ".omitted is not true or false");
      s.omitted = sj["omitted"].get<bool>();
    }
    if (expected_version >= kFirstVersionWithRecords && sj.contains("records")) {
      const json& rj = sj["records"];
      if (!rj.is_object()) fail("metadata: " + where + ".records is not an object");
      const std::string at = where + ".records";
      s.records.count = field<std::uint64_t>(rj, "count", at);
      s.records.frames = field<std::uint32_t>(rj, "frames", at);
      s.records.header = field<std::uint32_t>(rj, "header", at);
      s.records.trailer = field<std::uint32_t>(rj, "trailer", at);
      s.records.framing = range_from_json(field<json>(rj, "framing", at), at + ".framing", verbatim_size);
      const json fields = field<json>(rj, "fields", at);
      if (!fields.is_array()) fail("metadata: " + at + ".fields is not an array");
      for (const json& f : fields) {
        if (!f.is_array() || f.size() != 2 || !f[0].is_number_unsigned() || !f[1].is_number_unsigned())
          fail("metadata: " + at + ".fields holds an entry that is not [at, width]");
        s.records.fields.push_back({f[0].get<std::uint32_t>(), f[1].get<std::uint32_t>()});
      }
      if (expected_version >= kFirstVersionWithPlanarRecords && rj.contains("planar")) {
        if (!rj["planar"].is_boolean()) fail("metadata: " + at + ".planar is not true or false");
        s.records.planar = rj["planar"].get<bool>();
      }
      if (expected_version >= kFirstVersionWithPlanarRecords && rj.contains("gaps")) {
        const json& gaps = rj["gaps"];
        if (!gaps.is_array()) fail("metadata: " + at + ".gaps is not an array");
        for (const json& g : gaps) {
          if (!g.is_array() || g.size() != 2 || !g[0].is_number_unsigned() || !g[1].is_number_unsigned() ||
              g[0].get<std::uint64_t>() > 0xffffffffu || g[1].get<std::uint64_t>() > 0xffffffffu)
            fail("metadata: " + at + ".gaps holds an entry that is not [after, bytes]");
          s.records.gaps.push_back({g[0].get<std::uint32_t>(), g[1].get<std::uint32_t>()});
        }
      }
      if (expected_version >= kFirstVersionWithRecordLengths && rj.contains("lengths")) {
        const json& lengths = rj["lengths"];
        if (!lengths.is_array() || lengths.empty()) fail("metadata: " + at + ".lengths is not a list of frame counts");
        std::uint64_t end = 0;
        for (const json& n : lengths) {
          if (!n.is_number_unsigned() || n.get<std::uint64_t>() == 0 || n.get<std::uint64_t>() > 0xffffffffu)
            fail("metadata: " + at + ".lengths holds an entry that is not 1 to 2^32 - 1 frames");
          end += n.get<std::uint64_t>();
          s.records.ends.push_back(end);
        }
      }
      if (expected_version >= kFirstVersionWithChannelRecords && rj.contains("table")) {
        s.records.channel_records = true;
        s.records.table = range_from_json(rj["table"], at + ".table", verbatim_size);
      }
      if (expected_version >= kFirstVersionWithRecordTails && rj.contains("tails")) {
        if (!rj["tails"].is_boolean()) fail("metadata: " + at + ".tails is not true or false");
        s.records.tails = rj["tails"].get<bool>();
      }
    }
    if (expected_version >= kFirstVersionWithSnippets && sj.contains("snippets")) {
      if (!sj["snippets"].is_boolean()) fail("metadata: " + where + ".snippets is not true or false");
      s.snippets = sj["snippets"].get<bool>();
    }
    m.sources.push_back(std::move(s));
  }
  if (expected_version >= kFirstVersionWithRecords && j.contains("section_size")) m.section_size = field<std::uint64_t>(j, "section_size", "metadata");
  detail::validate(m, verbatim_size, expected_version);
  for (std::size_t i = 0; i < m.channels.size(); ++i)
    if (!named[i]) m.channels[i].name = default_channel_name(m, static_cast<std::uint32_t>(i));
  if (expected_version < row.first_version)
    fail("metadata: codec " + m.codec.name + " needs format version " + std::to_string(row.first_version));
  return head;
}

}  // namespace

MetadataHead parse_metadata_head(std::span<const std::uint8_t> stored, std::uint16_t expected_version) {
  const std::vector<detail::StoredFrame> frames = detail::find_metadata_frames(stored, expected_version);
  std::uint64_t content_size = 0;
  for (const auto& f : frames) content_size += f.content_size;
  std::vector<std::uint8_t> first;
  detail::append_metadata_frame(stored, frames[0], expected_version, first);
  return parse_plain_bytes(first, content_size, expected_version);
}

void load_metadata_frames(std::vector<std::uint8_t>& verbatim, std::uint64_t verbatim_size, std::span<const std::uint8_t> stored,
                          std::uint16_t version) {
  const std::vector<detail::StoredFrame> frames = detail::find_metadata_frames(stored, version);
  for (std::size_t i = 1; i < frames.size(); ++i) {
    try {
      detail::append_metadata_frame(stored, frames[i], version, verbatim);
    } catch (const ArchiveError& e) {  // which frame: bytes of the section, which starts at file byte 40
      detail::fail(std::string(e.what()) + " (frame " + std::to_string(i) + ", bytes " + std::to_string(frames[i].offset) + ".." +
                   std::to_string(frames[i].offset + frames[i].size - 1) + " of the metadata section)");
    }
  }
  if (verbatim.size() != verbatim_size) detail::fail("metadata: the frames do not hold the verbatim bytes the first one announced");
}

MetadataSection parse_metadata_section(std::span<const std::uint8_t> stored, std::uint16_t expected_version) {
  MetadataHead head = parse_metadata_head(stored, expected_version);
  load_metadata_frames(head.section.verbatim, head.verbatim_size, stored, expected_version);
  return std::move(head.section);
}

void check_metadata_section(const MetadataSection& section) {
  const std::vector<std::uint8_t> head = head_bytes(section.metadata);
  detail::require_storable(head.size() + section.verbatim.size());
  parse_plain_bytes(head, head.size() + section.verbatim.size(), kFormatVersion);
}

}  // namespace spikey::format
