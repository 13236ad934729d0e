// The header Intan's RHD and RHS files begin with (Intan Technologies, "RHD data file formats"
// and "RHS data file formats", application notes; RHX user guide, "Data file formats"): a
// traditional .rhd/.rhs file is this header followed by data blocks, and an RHD folder's
// info.rhd is this header alone. Little-endian; QString = u32 byte count (0xffffffff for
// none), then UTF-16LE.
//
//   RHD (magic 0xc6912702)                       RHS (magic 0xd69127ac)
//   i16 major, minor; f32 sample rate            i16 major, minor; f32 sample rate
//   i16 DSP enabled; f32 x 6 bandwidths          i16 DSP enabled; f32 x 8 bandwidths
//   i16 notch mode; f32 x 2 impedance freqs      i16 notch mode; f32 x 2 impedance freqs
//                                                i16 amp settle mode, charge recovery mode
//                                                f32 stim step, recovery current, recovery voltage
//   QString x 3 notes                            QString x 3 notes
//   (>= 1.1) i16 temperature sensors             i16 DC amplifier data saved
//   (>= 1.3) i16 board mode                      i16 board mode
//   (>= 2.0) QString reference channel           QString reference channel
//   i16 signal groups, each: QString name, QString prefix, i16 enabled, i16 channels, i16
//   amplifier channels, then per channel: QString native name, QString custom name, i16 native
//   order, i16 custom order, i16 signal type, i16 enabled, i16 chip channel, (RHS: i16 command
//   stream), i16 board stream, i16 x 4 trigger settings, f32 x 2 impedance.
// Signal types: RHD 0 amplifier, 1 auxiliary input, 2 supply voltage, 3 board ADC, 4 digital
// in, 5 digital out; RHS 0 amplifier, 3 board ADC, 4 board DAC, 5 digital in, 6 digital out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace spikey::host::intan {

inline constexpr std::uint32_t kRhdMagic = 0xc6912702u;
inline constexpr std::uint32_t kRhsMagic = 0xd69127acu;

// Signal types as spikey numbers them (the RHS types mapped onto the same names).
enum class Signal { amplifier, auxiliary, supply, adc, digital_in, digital_out, dac };

struct Channel {
  std::string name;  // native name, e.g. A-000
  Signal type = Signal::amplifier;
};

struct Header {
  bool rhs = false;
  int major = 0, minor = 0;
  double sample_rate = 0;
  int board_mode = 0;
  int temperature_sensors = 0;  // RHD >= 1.1
  bool dc_amplifier_saved = false;  // RHS
  std::vector<Channel> enabled;  // in header order
  std::uint64_t size = 0;        // bytes of the header: the first data block follows
  std::size_t count(Signal type) const {
    std::size_t n = 0;
    for (const auto& c : enabled) n += c.type == type;
    return n;
  }
};

// Throws InputError naming `name` and the byte where the header is damaged or ends early.
Header read_header(std::span<const std::uint8_t> bytes, const std::string& name);

// µV per step of a signal type; none for digital words.
std::optional<double> microvolts_per_step(Signal type, const Header& header);

}  // namespace spikey::host::intan
