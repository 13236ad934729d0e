#include "spikey/host/acquisition.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

namespace spikey::host {

namespace fs = std::filesystem;

bool has_extension(const fs::path& file, const char* wanted) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == wanted;
}

InputSource open_interleaved_int16(const fs::path& file, std::string restore_path, format::SourceKind kind, std::uint32_t channels,
                                   double sample_rate, std::uint64_t offset) {
  InputSource src{file, std::move(restore_path), kind, MappedFile(file)};
  if (offset > src.map.size())
    throw InputError(file.string() + ": --raw-offset " + std::to_string(offset) + " is past the end of the file (" + std::to_string(src.map.size()) +
                     " bytes)");
  src.channel_count = channels;
  src.data_offset = offset;
  src.frames = (src.map.size() - offset) / (std::uint64_t{channels} * 2);  // a partial last frame stays verbatim
  src.sample_rate = sample_rate;
  return src;
}

namespace {

// The element data of an .npy file (format versions 1-3) when its elements are 8 bytes in
// C order: {offset, count}; {0, 0} otherwise.
std::pair<std::uint64_t, std::uint64_t> npy_words(std::span<const std::uint8_t> file) {
  static const std::uint8_t magic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (file.size() < 12 || std::memcmp(file.data(), magic, 6) != 0) return {0, 0};
  const std::uint8_t major = file[6];
  std::uint64_t header_end = 0;
  if (major == 1) header_end = 10 + std::uint64_t{file[8]} + (std::uint64_t{file[9]} << 8);
  else if (major == 2 || major == 3) header_end = 12 + (std::uint64_t{file[8]} | std::uint64_t{file[9]} << 8 | std::uint64_t{file[10]} << 16 | std::uint64_t{file[11]} << 24);
  else return {0, 0};
  if (header_end > file.size()) return {0, 0};
  const std::string header(reinterpret_cast<const char*>(file.data()), header_end);
  const bool eight_byte = header.find("'descr': '<i8'") != std::string::npos || header.find("'descr': '<u8'") != std::string::npos ||
                          header.find("'descr': '<f8'") != std::string::npos;
  if (!eight_byte || header.find("'fortran_order': False") == std::string::npos) return {0, 0};
  return {header_end, (file.size() - header_end) / 8};
}

using MetaFields = std::map<std::string, std::string>;

MetaFields read_meta(const fs::path& meta) {
  std::ifstream in(meta, std::ios::binary);
  if (!in) throw InputError(meta.string() + ": cannot read the SpikeGLX .meta");
  MetaFields fields;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string key = line.substr(0, eq);
    if (key.front() == '~') key.erase(0, 1);
    fields[key] = line.substr(eq + 1);
  }
  return fields;
}

double meta_number(const MetaFields& meta, const std::string& key, const fs::path& where) {
  const auto it = meta.find(key);
  if (it == meta.end()) throw InputError(where.string() + ": the .meta has no " + key);
  try {
    std::size_t used = 0;
    const double v = std::stod(it->second, &used);
    if (used != it->second.size() || !std::isfinite(v)) throw std::invalid_argument(key);
    return v;
  } catch (const std::exception&) {
    throw InputError(where.string() + ": the .meta's " + key + " is not a number: \"" + it->second + "\"");
  }
}

std::vector<double> meta_numbers(const MetaFields& meta, const std::string& key, char separator) {
  std::vector<double> values;
  const auto it = meta.find(key);
  if (it == meta.end()) return values;
  std::stringstream in(it->second);
  std::string item;
  while (std::getline(in, item, separator)) {
    try {
      values.push_back(std::stod(item));
    } catch (const std::exception&) {
      return {};
    }
  }
  return values;
}

// "(a,b,c)(NAME;i:j)..." -> the text inside each pair of parentheses.
std::vector<std::string> meta_groups(const MetaFields& meta, const std::string& key) {
  std::vector<std::string> groups;
  const auto it = meta.find(key);
  if (it == meta.end()) return groups;
  const std::string& text = it->second;
  for (std::size_t open = text.find('('); open != std::string::npos; open = text.find('(', open + 1)) {
    const auto close = text.find(')', open);
    if (close == std::string::npos) break;
    groups.push_back(text.substr(open + 1, close - open - 1));
  }
  return groups;
}

// A gain the .meta's numbers make sensible (finite and positive), else none.
void set_gain(ChannelLabel& label, double bit_volts, const char* units) {
  if (!std::isfinite(bit_volts) || !(bit_volts > 0)) return;
  label.bit_volts = bit_volts;
  label.units = units;
}

// Channel names, gains and sync flags of a SpikeGLX stream (imec probe, NI-DAQ or OneBox).
std::vector<ChannelLabel> spikeglx_labels(const MetaFields& meta, std::uint32_t channels) {
  std::vector<ChannelLabel> labels(channels);
  auto map = meta_groups(meta, "snsChanMap");
  if (!map.empty()) map.erase(map.begin());  // the counts
  const bool named = map.size() == channels;

  // imec: µV per bit from the range, the ADC's full scale and each channel's gain.
  std::vector<std::vector<double>> imro;
  auto imro_groups = meta_groups(meta, "imroTbl");
  if (!imro_groups.empty()) imro_groups.erase(imro_groups.begin());
  for (const auto& g : imro_groups) {
    std::vector<double> entry;
    std::stringstream in(g);
    for (double v; in >> v;) entry.push_back(v);
    imro.push_back(entry);
  }
  const auto value = [&](const std::string& key, double fallback) {
    const auto v = meta_numbers(meta, key, ',');
    return v.size() == 1 ? v[0] : fallback;
  };
  const double im_range = value("imAiRangeMax", 0), im_max_int = value("imMaxInt", 512);
  const double ni_range = value("niAiRangeMax", 0), ni_max_int = value("niMaxInt", 32768);

  for (std::uint32_t c = 0; c < channels; ++c) {
    ChannelLabel& label = labels[c];
    if (!named) continue;
    label.name = map[c].substr(0, map[c].find(';'));
    // "AP12" -> type AP, acquisition channel 12 (its row in ~imroTbl, also with channel subsets).
    std::size_t letters = 0;
    while (letters < label.name.size() && std::isalpha(static_cast<unsigned char>(label.name[letters]))) ++letters;
    const std::string prefix = label.name.substr(0, letters);
    std::size_t index = 0;
    try {
      index = std::stoul(label.name.substr(letters));
    } catch (const std::exception&) {
      continue;
    }
    label.sync = prefix == "SY" || prefix == "XD";
    double gain = 0;
    if ((prefix == "AP" || prefix == "LF") && im_range > 0) {
      const std::size_t field = prefix == "AP" ? 3 : 4;  // NP1.0 entries: chan bank refid apgain lfgain apfilt
      if (index < imro.size() && imro[index].size() == 6) gain = imro[index][field];
      else gain = value(prefix == "AP" ? "imChan0apGain" : "imChan0lfGain", 0);
      if (gain > 0) set_gain(label, im_range / im_max_int / gain * 1e6, "uV");
    } else if ((prefix == "MN" || prefix == "MA" || prefix == "XA") && ni_range > 0) {
      gain = prefix == "MN" ? value("niMNGain", 0) : prefix == "MA" ? value("niMAGain", 0) : 1;
      if (gain > 0) set_gain(label, ni_range / ni_max_int / gain, "V");
    }
  }
  if (!named) {
    // No channel map: the stream's trailing sync / digital-word channels from the counts.
    std::vector<double> counts = meta_numbers(meta, "snsApLfSy", ',');
    std::size_t sync = counts.size() == 3 ? static_cast<std::size_t>(counts[2]) : 0;
    if (counts.empty()) counts = meta_numbers(meta, "snsMnMaXaDw", ',');
    if (counts.size() == 4) sync = static_cast<std::size_t>(counts[3]);
    for (std::size_t c = channels - std::min<std::size_t>(sync, channels); c < channels; ++c) labels[c].sync = true;
  }
  return labels;
}

}  // namespace

std::string sha1_hex(std::span<const std::uint8_t> bytes) {
  struct Deleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Deleter> context(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha1(), nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), bytes.data(), bytes.size()) != 1 || EVP_DigestFinal_ex(context.get(), digest, &size) != 1)
    throw std::runtime_error("SHA-1 is not available");
  static const char* digits = "0123456789ABCDEF";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) hex += digits[digest[i] >> 4], hex += digits[digest[i] & 15];
  return hex;
}

bool set_records_with_tails(InputSource& src, std::span<const ChannelRun> runs, std::uint64_t& far) {
  format::RecordTable table;
  const std::uint64_t framing = src.records.framing_bytes();
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const std::uint64_t end = runs[r].record + framing + 2ull * runs[r].samples, next = r + 1 < runs.size() ? runs[r + 1].record : end;
    if (next - end > std::numeric_limits<std::uint32_t>::max()) {
      far = end;
      return false;
    }
    table.channels.push_back(runs[r].channel);
    table.lengths.push_back(runs[r].samples);
    table.tails.push_back(static_cast<std::uint32_t>(next - end));
  }
  src.table = std::move(table);
  src.data_offset = runs.empty() ? 0 : runs.front().record;
  src.index_channel_records();
  // A channel at a rate other than the source's carries its own (SPEC §4.3, version 16).
  const auto series = std::find(src.snippet_channels.begin(), src.snippet_channels.end(), false);
  src.sample_rate = src.channel_rates[series != src.snippet_channels.end() ? static_cast<std::size_t>(series - src.snippet_channels.begin()) : 0];
  return true;
}

InputSource open_side_file(const fs::path& file, std::string restore_path) {
  InputSource src{file, std::move(restore_path), format::SourceKind::side_file, MappedFile(file)};
  src.data_offset = src.map.size();
  if (has_extension(file, ".npy")) std::tie(src.delta64_offset, src.delta64_count) = npy_words(src.map.bytes());
  return src;
}

fs::path spikeglx_meta_of(const fs::path& bin) {
  fs::path meta = bin;
  return meta.replace_extension(".meta");
}

bool is_spikeglx_bin(const fs::path& file) {
  std::error_code ec;
  return has_extension(file, ".bin") && fs::is_regular_file(spikeglx_meta_of(file), ec);
}

bool is_spikeglx_meta(const fs::path& file) {
  std::error_code ec;
  fs::path bin = file;
  return has_extension(file, ".meta") && fs::is_regular_file(bin.replace_extension(".bin"), ec);
}

InputSource open_spikeglx_bin(const fs::path& bin, std::string restore_path, const std::function<void(const std::string&)>& note) {
  const fs::path meta_path = spikeglx_meta_of(bin);
  const MetaFields meta = read_meta(meta_path);
  const double channels = meta_number(meta, "nSavedChans", meta_path);
  if (channels < 1 || channels > 65535 || channels != std::floor(channels))
    throw InputError(meta_path.string() + ": nSavedChans must be a whole number from 1 to 65535");
  double rate = 0;
  for (const char* key : {"imSampRate", "niSampRate", "obSampRate"})
    if (meta.count(key)) rate = meta_number(meta, key, meta_path);
  if (!(rate > 0)) throw InputError(meta_path.string() + ": the .meta gives no sample rate (imSampRate, niSampRate or obSampRate)");
  InputSource src = open_interleaved_int16(bin, std::move(restore_path), format::SourceKind::spikeglx, static_cast<std::uint32_t>(channels), rate);

  // The .meta's record of the file. A .bin of another size is a run cut short or a copy that
  // was (test sets truncate on purpose): it is archived as it is, byte for byte, with a warning,
  // and its SHA-1 is not checked. The right size with another SHA-1 is altered data: refused.
  const std::string redo = "; archive it as it is with --raw-channels " + std::to_string(src.channel_count) + " --raw-rate <Hz>";
  bool size_matches = true;
  if (meta.count("fileSizeBytes")) {
    const double expected = meta_number(meta, "fileSizeBytes", meta_path);
    size_matches = expected == static_cast<double>(src.map.size());
    if (!size_matches)
      note("warning: " + bin.string() + ": " + std::to_string(src.map.size()) + " bytes, but its .meta says fileSizeBytes=" +
           meta.at("fileSizeBytes") + " (a run cut short, or a truncated copy?): archived as it is, byte for byte");
  }
  if (size_matches && meta.count("fileSHA1")) {
    if (src.map.size() >= (1ull << 30))
      note(bin.string() + ": checking its SHA-1 against the .meta (" + std::to_string(src.map.size() >> 30) + " GiB)");
    const std::string actual = sha1_hex(src.map.bytes());
    std::string expected = meta.at("fileSHA1");
    std::transform(expected.begin(), expected.end(), expected.begin(), [](unsigned char c) { return std::toupper(c); });
    if (actual != expected)
      throw InputError(bin.string() + ": SHA-1 " + actual + " does not match the .meta's fileSHA1=" + meta.at("fileSHA1") + redo);
  }
  src.labels = spikeglx_labels(meta, src.channel_count);
  return src;
}

std::vector<OpenEphysStream> read_structure_oebin(const fs::path& oebin) {
  std::ifstream in(oebin, std::ios::binary);
  if (!in) throw InputError(oebin.string() + ": cannot read");
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  const auto bad = [&](const std::string& what) { return InputError(oebin.string() + ": " + what); };
  if (j.is_discarded() || !j.is_object()) throw bad("not a valid structure.oebin (JSON)");
  std::vector<OpenEphysStream> streams;
  if (!j.contains("continuous")) return streams;
  if (!j["continuous"].is_array()) throw bad("\"continuous\" is not a list");
  for (const auto& c : j["continuous"]) {
    if (!c.is_object() || !c.contains("folder_name") || !c["folder_name"].is_string() || !c.contains("num_channels") ||
        !c["num_channels"].is_number_unsigned() || !c.contains("sample_rate") || !c["sample_rate"].is_number())
      throw bad("a continuous stream lacks folder_name, num_channels or sample_rate");
    OpenEphysStream s;
    std::string folder = c["folder_name"].get<std::string>();
    while (!folder.empty() && folder.back() == '/') folder.pop_back();
    if (folder.empty() || folder.find("..") != std::string::npos) throw bad("unusable folder_name \"" + folder + "\"");
    s.dat = oebin.parent_path() / "continuous" / folder / "continuous.dat";
    const auto count = c["num_channels"].get<std::uint64_t>();
    if (count < 1 || count > 65535) throw bad("num_channels of " + folder + " must be from 1 to 65535");
    s.channel_count = static_cast<std::uint32_t>(count);
    s.sample_rate = c["sample_rate"].get<double>();
    if (!(s.sample_rate > 0) || !std::isfinite(s.sample_rate)) throw bad("sample_rate of " + folder + " must be positive");
    if (c.contains("channels") && c["channels"].is_array() && c["channels"].size() == s.channel_count) {
      for (const auto& ch : c["channels"]) {
        ChannelLabel label;
        if (ch.contains("channel_name") && ch["channel_name"].is_string()) label.name = ch["channel_name"].get<std::string>();
        if (ch.contains("units") && ch["units"].is_string()) label.units = ch["units"].get<std::string>();
        if (ch.contains("bit_volts") && ch["bit_volts"].is_number() && std::isfinite(ch["bit_volts"].get<double>()))
          label.bit_volts = ch["bit_volts"].get<double>();
        s.labels.push_back(std::move(label));
      }
    }
    streams.push_back(std::move(s));
  }
  return streams;
}

InputSource open_open_ephys_stream(const OpenEphysStream& stream, std::string restore_path) {
  std::error_code ec;
  if (!fs::is_regular_file(stream.dat, ec)) throw InputError(stream.dat.string() + ": listed in structure.oebin but missing");
  InputSource src = open_interleaved_int16(stream.dat, std::move(restore_path), format::SourceKind::open_ephys, stream.channel_count,
                                           stream.sample_rate);
  src.labels = stream.labels;
  return src;
}

}  // namespace spikey::host
