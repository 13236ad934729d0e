#include "metadata_dictionary.hpp"
#include "spikey/format/archive.hpp"

#include <nlohmann/json.hpp>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include "spikey/format/checksum.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/codecs/mo/mo_predictor.hpp"
#include "spikey/format/wire.hpp"

namespace spikey::format {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& message) { throw ArchiveError(message); }

void require_size(std::span<const std::uint8_t> bytes, std::size_t size, const char* what) {
  if (bytes.size() < size) fail(std::string(what) + " is truncated");
}

// The codec table's row of an archive's codec; an unknown name is an archive this version cannot read.
const CodecRow& known_codec(const std::string& name) {
  if (const CodecRow* row = find_codec(name)) return *row;
  fail("archive uses codec \"" + name + "\", which this version of spikey cannot decode");
}

}  // namespace

std::string checksum_hex(std::uint64_t checksum) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(checksum));
  return text;
}

// ---- §3.2 file header -------------------------------------------------------------------

std::vector<std::uint8_t> serialize(const FileHeader& header) {
  std::vector<std::uint8_t> out;
  WireWriter w(out);
  w.bytes(kFileMagic);
  w.u16(header.format_version);
  w.u16(0);                               // reserved
  w.u32(kFileHeaderSize);                 // header size
  w.u64(header.metadata_size);
  w.u64(header.metadata_checksum);
  w.u64(checksum64(out));                 // header checksum over bytes 0..31
  return out;
}

FileHeader parse_file_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kFileMagic.size() || !std::equal(kFileMagic.begin(), kFileMagic.end(), bytes.begin()))
    fail("not a Spikey archive (bad magic at byte 0)");
  require_size(bytes, kFileHeaderSize, "file header");
  WireReader r(bytes);
  r.bytes(kFileMagic.size());
  FileHeader h;
  h.format_version = r.u16();
  const std::uint16_t reserved = r.u16();
  const std::uint32_t header_size = r.u32();
  h.metadata_size = r.u64();
  h.metadata_checksum = r.u64();
  const std::uint64_t stored = r.u64();
  if (stored != checksum64(bytes.first(32))) fail("file header checksum mismatch (bytes 0..39)");
  if (h.format_version == 0 || h.format_version > kFormatVersion)
    fail("archive format version " + std::to_string(h.format_version) + " is not supported (this reader knows 1.." +
         std::to_string(kFormatVersion) + ")");
  if (reserved != 0 || header_size != kFileHeaderSize) fail("file header has unknown fields (byte 10)");
  return h;
}

// ---- §3.4 chunk header --------------------------------------------------------------------

std::vector<std::uint8_t> serialize(const ChunkHeader& header, std::uint16_t version) {
  std::vector<std::uint8_t> out;
  WireWriter w(out);
  w.u32(kChunkMagic);
  w.u32(header.chunk_index);
  if (version >= 4) {
    if (header.payload_size > 0xffffffffu) throw std::length_error("chunk payload over 4 GiB");
    w.u32(static_cast<std::uint32_t>(header.payload_size));
    w.u64(header.payload_checksum);
    return out;
  }
  w.u64(header.first_sample);
  w.u32(header.sample_count);
  w.u32(0);  // reserved
  w.u64(header.payload_size);
  w.u64(header.payload_checksum);
  return out;
}

ChunkHeader parse_chunk_header(std::span<const std::uint8_t> bytes, std::uint64_t file_offset, std::uint16_t version) {
  require_size(bytes, chunk_header_size(version), "chunk header");
  WireReader r(bytes);
  if (r.u32() != kChunkMagic) fail("chunk header at byte " + std::to_string(file_offset) + " has a bad magic");
  ChunkHeader h;
  h.chunk_index = r.u32();
  if (version >= 4) {
    h.payload_size = r.u32();
    h.payload_checksum = r.u64();
    return h;
  }
  h.first_sample = r.u64();
  h.sample_count = r.u32();
  if (r.u32() != 0) fail("chunk header at byte " + std::to_string(file_offset) + " has a non-zero reserved field");
  h.payload_size = r.u64();
  h.payload_checksum = r.u64();
  return h;
}

// ---- §3.5 index ---------------------------------------------------------------------------

std::vector<std::uint8_t> serialize_index(std::span<const IndexEntry> entries, std::uint16_t version) {
  std::vector<std::uint8_t> out;
  out.reserve(entries.size() * index_entry_size(version));
  WireWriter w(out);
  for (const auto& e : entries) {
    if (version >= 4) {
      if (e.payload_size > 0xffffffffu) throw std::length_error("chunk payload over 4 GiB");
      w.u32(static_cast<std::uint32_t>(e.payload_size));
      w.u64(e.samples_checksum);
      continue;
    }
    w.u64(e.first_sample);
    w.u32(e.sample_count);
    w.u32(0);  // reserved
    w.u64(e.record_offset);
    w.u64(e.payload_size);
    w.u64(e.payload_checksum);
    w.u64(e.samples_checksum);
  }
  return out;
}

std::vector<IndexEntry> parse_index(std::span<const std::uint8_t> bytes, std::uint16_t version) {
  const std::size_t entry_size = index_entry_size(version);
  if (bytes.size() % entry_size != 0) fail("index size is not a multiple of the entry size");
  std::vector<IndexEntry> entries(bytes.size() / entry_size);
  WireReader r(bytes);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    if (version >= 4) {
      e.payload_size = r.u32();
      e.samples_checksum = r.u64();
      continue;
    }
    e.first_sample = r.u64();
    e.sample_count = r.u32();
    if (r.u32() != 0) fail("index entry " + std::to_string(i) + " has a non-zero reserved field");
    e.record_offset = r.u64();
    e.payload_size = r.u64();
    e.payload_checksum = r.u64();
    e.samples_checksum = r.u64();
  }
  return entries;
}

// ---- §3.6 footer --------------------------------------------------------------------------

std::vector<std::uint8_t> serialize(const Footer& footer) {
  std::vector<std::uint8_t> out;
  WireWriter w(out);
  w.u64(footer.index_offset);
  w.u64(footer.chunk_count);
  w.u64(footer.index_checksum);
  w.u64(footer.reserved);
  w.u64(checksum64(out));  // footer checksum over bytes 0..31
  w.bytes(kFooterMagic);
  return out;
}

Footer parse_footer(std::span<const std::uint8_t> bytes) {
  require_size(bytes, kFooterSize, "footer");
  if (!std::equal(kFooterMagic.begin(), kFooterMagic.end(), bytes.begin() + 40))
    fail("archive is truncated or damaged: no end marker in the last 8 bytes");
  WireReader r(bytes);
  Footer f;
  f.index_offset = r.u64();
  f.chunk_count = r.u64();
  f.index_checksum = r.u64();
  f.reserved = r.u64();
  if (r.u64() != checksum64(bytes.first(32))) fail("footer checksum mismatch");
  if (f.reserved != 0) fail("footer has a non-zero reserved field");
  return f;
}

// ---- §4 metadata --------------------------------------------------------------------------

std::vector<std::uint32_t> mo_decoding_order(const Metadata& m) {
  // Kahn's algorithm, lowest channel first among those ready: every channel after its sources.
  const std::size_t n = m.channels.size();
  std::vector<std::uint32_t> missing(n, 0);
  std::vector<std::vector<std::uint32_t>> dependents(n);
  for (std::size_t c = 0; c < n; ++c) {
    for (const auto& s : m.channels[c].predictor.sources) {
      if (s.channel < 0 || static_cast<std::size_t>(s.channel) >= n) return {};
      ++missing[c];
      dependents[static_cast<std::size_t>(s.channel)].push_back(static_cast<std::uint32_t>(c));
    }
  }
  std::vector<std::uint32_t> order;
  std::vector<std::uint32_t> ready;
  for (std::size_t c = 0; c < n; ++c)
    if (missing[c] == 0) ready.push_back(static_cast<std::uint32_t>(c));
  std::make_heap(ready.begin(), ready.end(), std::greater<>());
  while (!ready.empty()) {
    std::pop_heap(ready.begin(), ready.end(), std::greater<>());
    const std::uint32_t c = ready.back();
    ready.pop_back();
    order.push_back(c);
    for (const auto d : dependents[c]) {
      if (--missing[d] == 0) {
        ready.push_back(d);
        std::push_heap(ready.begin(), ready.end(), std::greater<>());
      }
    }
  }
  return order;  // shorter than n when there is a cycle
}

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

// Typed field access that turns every schema problem into one ArchiveError line.
template <typename T>
T field(const json& object, const char* key, const std::string& where) {
  if (!object.is_object() || !object.contains(key)) fail("metadata: " + where + " has no \"" + key + "\"");
  const json& v = object.at(key);
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) fail("metadata: " + where + "." + key + " is not a string");
    return v.get<std::string>();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!v.is_number()) fail("metadata: " + where + "." + key + " is not a number");
    return v.get<double>();
  } else if constexpr (std::is_same_v<T, json>) {
    return v;
  } else {
    if (!v.is_number_unsigned()) fail("metadata: " + where + "." + key + " is not a non-negative integer");
    const auto u = v.get<std::uint64_t>();
    if (u > std::numeric_limits<T>::max()) fail("metadata: " + where + "." + key + " is out of range");
    return static_cast<T>(u);
  }
}

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

std::vector<std::int32_t> weights_from_json(const json& j, const std::string& where) {
  if (!j.is_array()) fail("metadata: " + where + " weights are not an array");
  std::vector<std::int32_t> weights;
  for (const auto& v : j) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < -kMaxLpcWeight || v.get<std::int64_t>() > kMaxLpcWeight)
      fail("metadata: " + where + " has a weight that is not an integer in range");
    weights.push_back(static_cast<std::int32_t>(v.get<std::int64_t>()));
  }
  return weights;
}

ChannelPredictor lpc_predictor_from_json(const json& j, const std::string& where) {
  ChannelPredictor p;
  p.history_weights = weights_from_json(field<json>(j, "history_weights", where), where);
  p.lms_step = static_cast<std::int32_t>(field<std::uint32_t>(j, "lms_step", where));
  if (j.contains("source_channel")) {
    PredictorSource source;
    source.channel = static_cast<std::int32_t>(field<std::uint32_t>(j, "source_channel", where));
    source.weights = weights_from_json(field<json>(j, "source_weights", where), where);
    p.sources.push_back(std::move(source));
  }
  return p;
}

ChannelPredictor mo_predictor_from_json(const json& j, const std::string& where) {
  ChannelPredictor p;
  p.history_weights = weights_from_json(field<json>(j, "history_weights", where), where);
  p.wavelet_weights = weights_from_json(field<json>(j, "wavelet_weights", where), where);
  p.lms_step = static_cast<std::int32_t>(field<std::uint32_t>(j, "lms_step", where));
  const json sources = field<json>(j, "sources", where);
  if (!sources.is_array()) fail("metadata: " + where + " sources is not an array");
  for (const auto& s : sources) {
    PredictorSource source;
    source.channel = static_cast<std::int32_t>(field<std::uint32_t>(s, "channel", where + " source"));
    source.weights = weights_from_json(field<json>(s, "weights", where + " source"), where);
    p.sources.push_back(std::move(source));
  }
  if (j.contains("network_gains")) {
    const json& g = j["network_gains"];
    if (!g.is_array() || g.size() != 2 || !g[0].is_number_integer() || !g[1].is_number_integer() || g[0].get<std::int64_t>() < 1 ||
        g[0].get<std::int64_t>() > kMaxNetInputGain || g[1].get<std::int64_t>() < 1 || g[1].get<std::int64_t>() > kMaxNetOutputGain)
      fail("metadata: " + where + " network_gains is not [input gain 1.." + std::to_string(kMaxNetInputGain) + ", output gain 1.." +
           std::to_string(kMaxNetOutputGain) + "]");
    p.network_input_gain = static_cast<std::int32_t>(g[0].get<std::int64_t>());
    p.network_output_gain = static_cast<std::int32_t>(g[1].get<std::int64_t>());
  }
  return p;
}

// The network stage (§6.10.1): weights as flat integer arrays, W1 row by row. The GRU projector
// of mo3/cm3 (§6.10.2) has gate arrays instead of W1 and b1, gates in the order z, r, n.
json network_to_json(const MoNetwork& net) {
  // Rows beyond the arrays are never read: a network larger than its projector allows is
  // written with fewer values than `hidden` says, which parsing rejects.
  const bool gru = net.projector == NetProjector::kGru;
  const int rows = std::clamp(net.hidden, 0, gru ? kMaxGruHidden : kMaxNetHidden);
  json w2 = json::array();
  for (int j = 0; j < rows; ++j) w2.push_back(net.w2[j]);
  if (gru) {
    json gx = json::array(), gh = json::array(), gb = json::array();
    for (int g = 0; g < kGruGates; ++g)
      for (int k = 0; k < rows; ++k) {
        for (int i = 0; i < kNetInputs; ++i) gx.push_back(net.gx[g][k][i]);
        for (int i = 0; i < rows; ++i) gh.push_back(net.gh[g][k][i]);
        gb.push_back(net.gb[g][k]);
      }
    return {{"hidden", static_cast<std::uint32_t>(std::max(net.hidden, 0))}, {"gx", gx}, {"gh", gh}, {"gb", gb}, {"w2", w2}, {"b2", net.b2}};
  }
  json w1 = json::array(), b1 = json::array();
  for (int j = 0; j < rows; ++j) {
    for (int i = 0; i < kNetInputs; ++i) w1.push_back(net.w1[j][i]);
    b1.push_back(net.b1[j]);
  }
  return {{"hidden", static_cast<std::uint32_t>(std::max(net.hidden, 0))}, {"w1", w1}, {"b1", b1}, {"w2", w2}, {"b2", net.b2}};
}

MoNetwork network_from_json(const json& j, bool gru) {
  const std::string where = "codec.network";
  if (!j.is_object()) fail("metadata: " + where + " is not an object");
  MoNetwork net;
  net.projector = gru ? NetProjector::kGru : NetProjector::kRelu;
  const int max_hidden = gru ? kMaxGruHidden : kMaxNetHidden;
  const auto hidden = field<std::uint32_t>(j, "hidden", where);
  if (hidden < 1 || hidden > static_cast<std::uint32_t>(max_hidden)) fail("metadata: " + where + ".hidden must be 1.." + std::to_string(max_hidden));
  net.hidden = static_cast<int>(hidden);
  const auto integers = [&](const char* key, std::size_t count, std::int64_t limit) {
    const json a = field<json>(j, key, where);
    if (!a.is_array() || a.size() != count) fail("metadata: " + where + "." + key + " must hold " + std::to_string(count) + " integers");
    std::vector<std::int32_t> out;
    for (const auto& v : a) {
      if (!v.is_number_integer() || v.get<std::int64_t>() < -limit || v.get<std::int64_t>() > limit)
        fail("metadata: " + where + "." + key + " has a value that is not an integer in -" + std::to_string(limit) + ".." + std::to_string(limit));
      out.push_back(static_cast<std::int32_t>(v.get<std::int64_t>()));
    }
    return out;
  };
  const auto w2 = integers("w2", hidden, kMaxNetWeight);
  const json b2 = field<json>(j, "b2", where);
  if (!b2.is_number_integer() || b2.get<std::int64_t>() < -kMaxNetOutputBias || b2.get<std::int64_t>() > kMaxNetOutputBias)
    fail("metadata: " + where + ".b2 is not an integer in range");
  net.b2 = static_cast<std::int32_t>(b2.get<std::int64_t>());
  for (int h = 0; h < net.hidden; ++h) net.w2[h] = w2[static_cast<std::size_t>(h)];
  if (gru) {
    const std::size_t rows = kGruGates * std::size_t{hidden};
    const auto gx = integers("gx", rows * kNetInputs, kMaxNetWeight);
    const auto gh = integers("gh", rows * hidden, kMaxNetWeight);
    const auto gb = integers("gb", rows, kMaxGruBias);
    for (std::size_t row = 0; row < rows; ++row) {
      const std::size_t g = row / hidden, k = row % hidden;
      for (std::size_t i = 0; i < kNetInputs; ++i) net.gx[g][k][i] = gx[row * kNetInputs + i];
      for (std::size_t i = 0; i < hidden; ++i) net.gh[g][k][i] = gh[row * hidden + i];
      net.gb[g][k] = gb[row];
    }
    return net;
  }
  const auto w1 = integers("w1", hidden * static_cast<std::size_t>(kNetInputs), kMaxNetWeight);
  const auto b1 = integers("b1", hidden, kMaxNetHiddenBias);
  for (int h = 0; h < net.hidden; ++h) {
    for (int i = 0; i < kNetInputs; ++i) net.w1[h][i] = w1[static_cast<std::size_t>(h * kNetInputs + i)];
    net.b1[h] = b1[static_cast<std::size_t>(h)];
  }
  return net;
}

ByteRange range_from_json(const json& j, const std::string& where, std::uint64_t verbatim_size) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_number_unsigned() || !j[1].is_number_unsigned())
    fail("metadata: " + where + " is not an [offset, size] pair");
  ByteRange r{j[0].get<std::uint64_t>(), j[1].get<std::uint64_t>()};
  if (r.offset > verbatim_size || r.size > verbatim_size - r.offset)
    fail("metadata: " + where + " points outside the verbatim bytes");
  return r;
}

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

bool weights_in_range(const std::vector<std::int32_t>& weights) {
  return std::all_of(weights.begin(), weights.end(), [](std::int32_t w) { return w >= -kMaxLpcWeight && w <= kMaxLpcWeight; });
}

// The bounds that make lpc1's int32 arithmetic safe (lpc_stream.hpp) and keep source
// dependencies one level deep.
void validate_predictors(const Metadata& m) {
  if (m.codec.weight_shift < 1 || m.codec.weight_shift > static_cast<std::uint32_t>(kMaxLpcWeightShift))
    fail("metadata: codec.weight_shift out of range");
  for (std::size_t c = 0; c < m.channels.size(); ++c) {
    const ChannelPredictor& p = m.channels[c].predictor;
    const std::string where = "metadata: channel " + std::to_string(c) + " predictor";
    if (p.history_weights.size() > static_cast<std::size_t>(kMaxLpcOrder)) fail(where + " has too many history taps");
    if (!weights_in_range(p.history_weights)) fail(where + " has a weight out of range");
    if (p.lms_step < 0 || p.lms_step > kMaxLmsStep) fail(where + " has an LMS step out of range");
    if (p.sources.empty()) continue;
    const PredictorSource& source = p.sources.front();
    if (!weights_in_range(source.weights)) fail(where + " has a weight out of range");
    if (static_cast<std::size_t>(source.channel) >= m.channels.size() || static_cast<std::size_t>(source.channel) == c)
      fail(where + " names an invalid source channel");
    if (m.channels[static_cast<std::size_t>(source.channel)].predictor.source_channel() >= 0)
      fail(where + "'s source channel has a source itself");
    if (source.weights.size() % 2 != 1 || source.weights.size() > static_cast<std::size_t>(2 * kMaxSourceHalfWindow + 1))
      fail(where + " has a source window of invalid size");
  }
}

// mo1: the bounds of mo_stream.hpp, and sources that form no cycle, so that a decoding order exists.
void validate_mo_predictors(const Metadata& m) {
  if (m.codec.weight_shift < 1 || m.codec.weight_shift > static_cast<std::uint32_t>(kMaxLpcWeightShift))
    fail("metadata: codec.weight_shift out of range");
  if (m.codec.source_half_window > static_cast<std::uint32_t>(kMaxMoHalfWindow)) fail("metadata: codec.source_half_window out of range");
  if (m.codec.wavelet_levels < 1 || m.codec.wavelet_levels > static_cast<std::uint32_t>(kMaxWaveletLevels))
    fail("metadata: codec.wavelet_levels out of range");
  for (std::size_t c = 0; c < m.channels.size(); ++c) {
    const ChannelPredictor& p = m.channels[c].predictor;
    const std::string where = "metadata: channel " + std::to_string(c) + " predictor";
    if (p.history_weights.size() > static_cast<std::size_t>(kMaxMoOrder)) fail(where + " has too many history taps");
    if (!p.wavelet_weights.empty() && p.wavelet_weights.size() != m.codec.wavelet_levels + 1) fail(where + " has the wrong number of wavelet weights");
    if (p.sources.size() > static_cast<std::size_t>(kMaxMoSources)) fail(where + " has too many sources");
    if (!weights_in_range(p.history_weights) || !weights_in_range(p.wavelet_weights)) fail(where + " has a weight out of range");
    if (p.lms_step < 0 || p.lms_step > kMaxLmsStep) fail(where + " has an LMS step out of range");
    if (p.uses_network() && !m.codec.network) fail(where + " has network gains but the codec has no network");
    for (std::size_t i = 0; i < p.sources.size(); ++i) {
      const PredictorSource& s = p.sources[i];
      if (s.channel < 0 || static_cast<std::size_t>(s.channel) >= m.channels.size() || static_cast<std::size_t>(s.channel) == c)
        fail(where + " names an invalid source channel");
      for (std::size_t j = 0; j < i; ++j)
        if (p.sources[j].channel == s.channel) fail(where + " names a source twice");
      if (s.weights.size() != 2 * m.codec.source_half_window + 1 || !weights_in_range(s.weights))
        fail(where + " has source weights of the wrong size or range");
    }
  }
  if (mo_decoding_order(m).size() != m.channels.size()) fail("metadata: the channels' sources form a cycle");
}

bool is_empty_predictor(const ChannelPredictor& p) {
  return p.history_weights.empty() && p.wavelet_weights.empty() && p.sources.empty() && p.lms_step == 0 && !p.uses_network();
}

void validate(const Metadata& m, std::uint64_t verbatim_size, std::uint16_t version) {
  if (!(m.sample_rate > 0) || !std::isfinite(m.sample_rate)) fail("metadata: sample_rate must be positive");
  if (m.chunk_samples == 0 || m.chunk_samples > 0xffffffffu) fail("metadata: chunk_samples out of range");
  const CodecRow& codec = known_codec(m.codec.name);
  if (m.codec.partition_size == 0 || m.codec.partition_size > kMaxPartitionSize)
    fail("metadata: codec.partition_size out of range");
  if (codec.predictor == PredictorKind::lpc) validate_predictors(m);
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
    for (std::uint32_t c = s.first_channel; c < s.first_channel + s.channel_count; ++c) {
      if (m.channels[c].source != i || m.channels[c].length != s.frames)
        fail("metadata: channel " + std::to_string(c) + " does not match " + where);
    }
    next_channel += s.channel_count;
    if (version < 6 && s.kind != SourceKind::wav && s.kind != SourceKind::raw)
      fail("metadata: " + where + " of kind " + source_kind_name(s.kind) + " needs format version 6");
    if (s.kind == SourceKind::side_file) {
      if (s.channel_count != 0 || s.frames != 0 || s.suffix.size != 0 || s.prefix.size != s.size || s.sample_rate != 0)
        fail("metadata: side file " + where + " must hold no channels and all its bytes as prefix");
      if (s.delta64_count > s.size / 8 || s.delta64_offset > s.size - 8 * s.delta64_count)
        fail("metadata: " + where + " delta64 words lie outside the file");
      if (s.prefix.offset + s.prefix.size > verbatim_size) fail("metadata: " + where + " verbatim bytes out of range");
      continue;
    }
    if (s.delta64_count != 0) fail("metadata: " + where + " has delta64 words but is not a side file");
    if (s.channel_count == 0) fail("metadata: " + where + " has no channels");
    // prefix + frames * channels * 2 + suffix == size, checked without overflow.
    const std::uint64_t frame_bytes = std::uint64_t{s.channel_count} * 2;
    const bool parts_fit = s.prefix.size <= s.size && s.suffix.size <= s.size - s.prefix.size &&
                           s.frames <= (s.size - s.prefix.size - s.suffix.size) / frame_bytes;
    if (!parts_fit || s.prefix.size + s.frames * frame_bytes + s.suffix.size != s.size)
      fail("metadata: " + where + " size does not match its parts");
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

}  // namespace

namespace {

std::string hex_of(const std::vector<std::uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (const std::uint8_t b : bytes) text += digits[b >> 4], text += digits[b & 15];
  return text;
}

std::vector<std::uint8_t> bytes_of_hex(const std::string& text, const std::string& what) {
  if (text.size() % 2 != 0 || text.find_first_not_of("0123456789abcdef") != std::string::npos)
    fail("metadata: " + what + " is not lowercase hex");
  std::vector<std::uint8_t> bytes(text.size() / 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(std::stoul(text.substr(2 * i, 2), nullptr, 16));
  return bytes;
}

// cm1's model (§6.11.2, §6.11.3): shapes of four bytes for a run of classes; a prior whose
// period is a power of two up to kCmMaxPriorPeriod.
void validate_cm_model(const CodecParams& codec) {
  if (codec.cm_shapes.size() != static_cast<std::size_t>(kCmClasses)) fail("metadata: codec.shapes must hold one shape per scale class");
  for (const auto& shape : codec.cm_shapes)
    if (shape.shift > kCmMaxShift) fail("metadata: codec.shapes has a bucket shift out of range");
  const std::size_t period = codec.cm_prior.size();
  if (period == 0 || period > kCmMaxPriorPeriod || (period & (period - 1)) != 0)
    fail("metadata: codec.prior's period must be a power of two up to " + std::to_string(kCmMaxPriorPeriod));
  if (codec.cm_scale_rate < static_cast<std::uint32_t>(kCmMinScaleRate) || codec.cm_scale_rate > static_cast<std::uint32_t>(kCmMaxScaleRate))
    fail("metadata: codec.scale_rate out of range");
}

}  // namespace

std::string default_channel_name(const Metadata& m, std::uint32_t channel) {
  const SourceFile& source = m.sources.at(m.channels.at(channel).source);
  if (source.channel_count == 1) return source.path;
  return source.path + ":" + std::to_string(channel - source.first_channel);
}

json codec_to_json(const CodecParams& codec) {
  const CodecRow& row = known_codec(codec.name);
  json j = {{"name", codec.name}, {"partition_size", codec.partition_size}};
  if (row.has_predictors()) j["weight_shift"] = codec.weight_shift;
  if (row.predictor == PredictorKind::middle_out) {
    j["source_half_window"] = codec.source_half_window;
    j["wavelet_levels"] = codec.wavelet_levels;
    if (row.has_network() && codec.network) j["network"] = network_to_json(*codec.network);
  }
  if (row.coder == ResidualCoder::context_rans) {
    std::vector<std::uint8_t> shapes;
    for (std::uint32_t k = codec.cm_first_class; k < codec.cm_first_class + codec.cm_stored_classes; ++k) {
      const CmShape& s = codec.cm_shapes.at(k);
      shapes.insert(shapes.end(), {s.gauss, s.laplace, s.weight, s.shift});
    }
    j["first_class"] = codec.cm_first_class;
    j["shapes"] = hex_of(shapes);
    j["prior"] = hex_of(codec.cm_prior);
    j["scale_rate"] = codec.cm_scale_rate;
  }
  return j;
}

CodecParams codec_from_json(const json& j) {
  CodecParams codec;
  codec.name = field<std::string>(j, "name", "codec");
  const CodecRow& row = known_codec(codec.name);
  codec.partition_size = field<std::uint32_t>(j, "partition_size", "codec");
  if (row.has_predictors()) codec.weight_shift = field<std::uint32_t>(j, "weight_shift", "codec");
  if (row.predictor == PredictorKind::middle_out) {
    codec.source_half_window = field<std::uint32_t>(j, "source_half_window", "codec");
    codec.wavelet_levels = field<std::uint32_t>(j, "wavelet_levels", "codec");
    if (row.has_network()) codec.network = network_from_json(field<json>(j, "network", "codec"), row.network == NetworkKind::gru);
  }
  if (row.coder == ResidualCoder::context_rans) {
    const auto shapes = bytes_of_hex(field<std::string>(j, "shapes", "codec"), "codec.shapes");
    codec.cm_first_class = field<std::uint32_t>(j, "first_class", "codec");
    codec.cm_stored_classes = static_cast<std::uint32_t>(shapes.size() / 4);
    if (shapes.size() % 4 != 0 || shapes.empty() || codec.cm_first_class >= static_cast<std::uint32_t>(kCmClasses) ||
        codec.cm_stored_classes > static_cast<std::uint32_t>(kCmClasses) - codec.cm_first_class)
      fail("metadata: codec.shapes must be 1 to 49 whole shapes from codec.first_class on");
    std::vector<CmShape> stored;
    for (std::size_t i = 0; i < shapes.size(); i += 4) stored.push_back({shapes[i], shapes[i + 1], shapes[i + 2], shapes[i + 3]});
    for (const auto& s : stored)
      if (s.shift > kCmMaxShift) fail("metadata: codec.shapes has a bucket shift out of range");
    codec.cm_shapes = cm_complete_shapes(stored, codec.cm_first_class);
    codec.cm_prior = bytes_of_hex(field<std::string>(j, "prior", "codec"), "codec.prior");
    codec.cm_scale_rate = field<std::uint32_t>(j, "scale_rate", "codec");
    validate_cm_model(codec);
  }
  return codec;
}

json predictor_to_json(const ChannelPredictor& p, const CodecParams& codec) {
  if (known_codec(codec.name).predictor == PredictorKind::middle_out) {
    json sources = json::array();
    for (const auto& s : p.sources) sources.push_back({{"channel", s.channel}, {"weights", s.weights}});
    json j = {{"history_weights", p.history_weights}, {"wavelet_weights", p.wavelet_weights}, {"sources", sources}, {"lms_step", p.lms_step}};
    if (p.uses_network()) j["network_gains"] = {p.network_input_gain, p.network_output_gain};
    return j;
  }
  json j = {{"history_weights", p.history_weights}, {"lms_step", p.lms_step}};
  if (!p.sources.empty()) {
    j["source_channel"] = p.sources.front().channel;
    j["source_weights"] = p.sources.front().weights;
  }
  return j;
}

ChannelPredictor predictor_from_json(const json& j, const CodecParams& codec, const std::string& where) {
  return known_codec(codec.name).predictor == PredictorKind::middle_out ? mo_predictor_from_json(j, where) : lpc_predictor_from_json(j, where);
}

std::vector<std::uint8_t> serialize(const MetadataSection& section) {
  const Metadata& m = section.metadata;
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
    if (s.sample_rate > 0) sj["sample_rate"] = s.sample_rate;
    sources.push_back(std::move(sj));
  }
  j["sources"] = std::move(sources);
  const std::string text = j.dump();
  std::vector<std::uint8_t> plain;
  WireWriter w(plain);
  w.u64(text.size());
  w.bytes({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  w.bytes(section.verbatim);
  if (plain.size() > kMaxMetadataContentSize) throw std::length_error("metadata too large (headers, names and side files of the inputs exceed 1 GiB)");
  // Per-file archives carry their own metadata; zstd keeps names, checksums and WAV headers small,
  // and from version 4 its dictionary the field names and common values.
  std::vector<std::uint8_t> out(ZSTD_compressBound(plain.size()));
  const int level = plain.size() < (1u << 20) ? 19 : 9;
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

// Decompresses the metadata frame. The output grows as zstd produces it, so a damaged frame that
// declares a huge content size fails before that much memory is taken.
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

std::uint64_t find_metadata_section_size(std::span<const std::uint8_t> bytes) {
  const std::size_t size = ZSTD_findFrameCompressedSize(bytes.data(), bytes.size());
  return ZSTD_isError(size) ? 0 : size;
}

std::vector<std::uint8_t> delta64_encode(std::span<const std::uint8_t> file, std::uint64_t offset, std::uint64_t count) {
  std::vector<std::uint8_t> out(file.begin(), file.end());
  std::uint64_t previous = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t word = load_u64_le(file.data() + offset + 8 * i);
    store_u64_le(out.data() + offset + 8 * i, word - previous);
    previous = word;
  }
  return out;
}

std::vector<std::uint8_t> side_file_bytes(const SourceFile& source, std::span<const std::uint8_t> verbatim) {
  const auto stored = verbatim.subspan(source.prefix.offset, source.prefix.size);
  std::vector<std::uint8_t> out(stored.begin(), stored.end());
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < source.delta64_count; ++i) {
    sum += load_u64_le(out.data() + source.delta64_offset + 8 * i);
    store_u64_le(out.data() + source.delta64_offset + 8 * i, sum);
  }
  return out;
}

std::string lost_chunk_message(const Metadata& metadata, std::uint64_t chunk) {
  const std::uint64_t first = metadata.chunk_first_sample(chunk);
  const std::uint64_t last = first + std::max<std::uint32_t>(metadata.chunk_sample_count(chunk), 1) - 1;
  return "chunk " + std::to_string(chunk) + " (samples " + std::to_string(first) + ".." + std::to_string(last) +
         ") was lost before this archive was salvaged";
}

MetadataSection parse_metadata_section(std::span<const std::uint8_t> stored, std::uint16_t expected_version) {
  const unsigned long long content_size = ZSTD_getFrameContentSize(stored.data(), stored.size());
  if (content_size == ZSTD_CONTENTSIZE_ERROR || content_size == ZSTD_CONTENTSIZE_UNKNOWN || content_size > kMaxMetadataContentSize ||
      ZSTD_findFrameCompressedSize(stored.data(), stored.size()) != stored.size())
    fail("metadata: not a single zstd frame of known size");
  const std::vector<std::uint8_t> plain = decompress_metadata(stored, content_size, expected_version);
  const std::span<const std::uint8_t> bytes(plain);
  require_size(bytes, 8, "metadata section");
  WireReader r(bytes);
  const std::uint64_t json_size = r.u64();
  if (json_size > bytes.size() - 8) fail("metadata: JSON size exceeds the metadata section");
  const auto text = r.bytes(json_size);
  MetadataSection section;
  section.verbatim.assign(bytes.begin() + 8 + static_cast<std::ptrdiff_t>(json_size), bytes.end());
  const std::uint64_t verbatim_size = section.verbatim.size();

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
    m.channels.push_back(std::move(c));
  }
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const std::string where = "source " + std::to_string(i);
    const json& sj = sources[i];
    SourceFile s;
    s.path = field<std::string>(sj, "path", where);
    const auto kind = field<std::string>(sj, "kind", where);
    bool known = false;
    for (const SourceKind k : {SourceKind::wav, SourceKind::raw, SourceKind::spikeglx, SourceKind::open_ephys, SourceKind::side_file})
      if (kind == source_kind_name(k)) s.kind = k, known = true;
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
    m.sources.push_back(std::move(s));
  }
  validate(m, verbatim_size, expected_version);
  for (std::size_t i = 0; i < m.channels.size(); ++i)
    if (!named[i]) m.channels[i].name = default_channel_name(m, static_cast<std::uint32_t>(i));
  if (expected_version < row.first_version)
    fail("metadata: codec " + m.codec.name + " needs format version " + std::to_string(row.first_version));
  return section;
}

}  // namespace spikey::format
