// Intan RHD and RHS headers: the field layout is in intan_header.hpp.
#include "formats/intan_header.hpp"

#include <cmath>
#include <cstring>

#include "spikey/host/recording.hpp"

namespace spikey::host::intan {

namespace {

class HeaderReader {
 public:
  HeaderReader(std::span<const std::uint8_t> b, const std::string& name) : b_(b), name_(name) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, b_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  void skip(std::uint64_t n) {
    need(n);
    at_ += n;
  }
  std::string qstring() {
    const std::uint64_t start = at_;
    const std::uint32_t bytes = get<std::uint32_t>();
    if (bytes == 0xffffffffu) return {};
    if (bytes % 2 != 0) throw InputError(name_ + ": byte " + std::to_string(start) + ": a header string of an odd " + std::to_string(bytes) + " bytes");
    need(bytes);
    std::string out;
    for (std::uint32_t i = 0; i < bytes; i += 2) {
      const unsigned c = b_[at_ + i] | (b_[at_ + i + 1] << 8);
      out.push_back(c < 128 ? static_cast<char>(c) : '?');
    }
    at_ += bytes;
    return out;
  }
  std::uint64_t at() const { return at_; }
  const char* kind = "Intan";

 private:
  void need(std::uint64_t n) {
    if (b_.size() - at_ < n)
      throw InputError(name_ + ": byte " + std::to_string(b_.size()) + ": the " + kind + " header ends early (truncated?)");
  }
  std::span<const std::uint8_t> b_;
  const std::string& name_;
  std::uint64_t at_ = 0;
};

std::optional<Signal> signal_of(int type, bool rhs) {
  if (rhs) {
    switch (type) {
      case 0: return Signal::amplifier;
      case 3: return Signal::adc;
      case 4: return Signal::dac;
      case 5: return Signal::digital_in;
      case 6: return Signal::digital_out;
      default: return std::nullopt;
    }
  }
  if (type < 0 || type > 5) return std::nullopt;
  return static_cast<Signal>(type);
}

}  // namespace

Header read_header(std::span<const std::uint8_t> bytes, const std::string& name) {
  HeaderReader r(bytes, name);
  Header h;
  const std::uint32_t magic = bytes.size() >= 4 ? r.get<std::uint32_t>() : 0;
  if (magic != kRhdMagic && magic != kRhsMagic)
    throw InputError(name + ": byte 0: no Intan magic number (0xc6912702 for RHD, 0xd69127ac for RHS); not an Intan header");
  h.rhs = magic == kRhsMagic;
  r.kind = h.rhs ? "RHS" : "RHD";
  h.major = r.get<std::int16_t>();
  h.minor = r.get<std::int16_t>();
  h.sample_rate = r.get<float>();
  r.skip(2 + 4 * (h.rhs ? 8 : 6) + 2 + 4 * 2);  // DSP, bandwidths, notch, impedance frequencies
  if (h.rhs) r.skip(2 * 2 + 4 * 3);               // settle and recovery modes, stimulation settings
  for (int i = 0; i < 3; ++i) r.qstring();
  if (h.rhs) {
    h.dc_amplifier_saved = r.get<std::int16_t>() != 0;
    h.board_mode = r.get<std::int16_t>();
    r.qstring();
  } else {
    if (h.major > 1 || h.minor >= 1) h.temperature_sensors = r.get<std::int16_t>();
    if (h.major > 1 || h.minor >= 3) h.board_mode = r.get<std::int16_t>();
    if (h.major > 1) r.qstring();
  }
  if (h.temperature_sensors < 0) throw InputError(name + ": a negative number of temperature sensors in the header");
  const int groups = r.get<std::int16_t>();
  for (int g = 0; g < groups; ++g) {
    r.qstring(), r.qstring();
    const int enabled = r.get<std::int16_t>(), channels = r.get<std::int16_t>();
    r.get<std::int16_t>();
    if (enabled == 0 || channels <= 0) continue;
    for (int c = 0; c < channels; ++c) {
      const std::uint64_t start = r.at();
      Channel ch;
      ch.name = r.qstring();
      r.qstring();
      r.get<std::int16_t>(), r.get<std::int16_t>();
      const int type = r.get<std::int16_t>();
      const int channel_enabled = r.get<std::int16_t>();
      r.skip(2 * (h.rhs ? 7 : 6) + 4 * 2);  // chip channel, (command stream,) board stream, triggers, impedance
      if (channel_enabled == 0) continue;
      const auto signal = signal_of(type, h.rhs);
      if (!signal)
        throw InputError(name + ": byte " + std::to_string(start) + ": channel " + ch.name + " has signal type " + std::to_string(type) +
                         ", which " + (h.rhs ? "an RHS" : "an RHD") + " file does not have");
      ch.type = *signal;
      h.enabled.push_back(std::move(ch));
    }
  }
  if (!(h.sample_rate > 0) || !std::isfinite(h.sample_rate)) throw InputError(name + ": byte 8: the sample rate is not a positive number");
  h.size = r.at();
  return h;
}

std::optional<double> microvolts_per_step(Signal type, const Header& header) {
  switch (type) {
    case Signal::amplifier: return 0.195;
    case Signal::auxiliary: return 37.4;
    case Signal::supply: return 74.8;
    case Signal::adc:
      if (header.rhs) return 312.5;
      return header.board_mode == 1 ? 152.59 : header.board_mode == 13 ? 312.5 : 50.354;
    case Signal::dac: return 312.5;
    default: return std::nullopt;
  }
}

}  // namespace spikey::host::intan
