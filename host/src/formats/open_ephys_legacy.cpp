// Open Ephys GUI legacy format (.continuous), as the GUI before version 0.5 writes it (Open
// Ephys, "Open Ephys format" documentation; the header's own header.description). One channel
// per file.
//
//   file:    a 1024-byte text header ("header.key = value;" lines: sampleRate, bitVolts, channel,
//            blockLength), then records of blockLength (1024) samples
//   record:  12 + 2 N + 10 bytes
//     0        i64 (little-endian)   timestamp: the number of the record's first sample
//     8        u16 (little-endian)   N, samples in the record (= blockLength)
//     10       u16 (little-endian)   recording number (version 0.2 and later)
//     12       i16[N] (big-endian)   samples
//     12 + 2N  10 bytes              record marker 0 1 2 3 4 5 6 7 8 255
//
// The samples become the channel's (SPEC.md §4.2, records, big-endian), the first 12 bytes of
// each record its header and the marker its trailer, the timestamp stored as the difference
// from the record before; a partial last record stays verbatim after the records.
#include <cmath>
#include <cstring>

#include "formats/text_fields.hpp"
#include "spikey/host/acquisition.hpp"

namespace spikey::host {

namespace {

constexpr std::uint64_t kContinuousHeaderBytes = 1024;
constexpr std::uint32_t kContinuousRecordHeaderBytes = 12, kContinuousMarkerBytes = 10;

}  // namespace

bool is_open_ephys_continuous(const std::filesystem::path& file) { return has_extension(file, ".continuous"); }

InputSource open_open_ephys_continuous(const std::filesystem::path& file, std::string restore_path,
                                       const std::function<void(const std::string&)>& note) {
  InputSource src{file, std::move(restore_path), format::SourceKind::open_ephys_legacy, MappedFile(file)};
  const auto bytes = src.map.bytes();
  const std::string name = file.string();
  if (bytes.size() < kContinuousHeaderBytes)
    throw InputError(name + ": " + std::to_string(bytes.size()) + " bytes, shorter than an Open Ephys header (1024 bytes): truncated?");
  const std::string header(reinterpret_cast<const char*>(bytes.data()), kContinuousHeaderBytes);
  if (header.find("header.format = 'Open Ephys Data Format'") == std::string::npos)
    throw InputError(name + ": byte 0: no \"header.format = 'Open Ephys Data Format'\" line; not an Open Ephys .continuous file");
  const TextFields fields = open_ephys_header_fields(header);
  const auto block = fields.number("blockLength").value_or(1024);
  if (!(block >= 1 && block <= 65535) || block != std::floor(block))
    throw InputError(name + ": header.blockLength " + fields.text("blockLength") + " is not a record length of 1 to 65535 samples");
  const auto frames = static_cast<std::uint32_t>(block);
  const auto rate = fields.number("sampleRate");
  if (!rate || !(*rate > 0) || !std::isfinite(*rate)) throw InputError(name + ": no header.sampleRate in its header");
  const std::uint64_t record_bytes = kContinuousRecordHeaderBytes + 2ull * frames + kContinuousMarkerBytes;
  const std::uint64_t records = (bytes.size() - kContinuousHeaderBytes) / record_bytes;
  const std::uint64_t partial = (bytes.size() - kContinuousHeaderBytes) % record_bytes;
  for (std::uint64_t r = 0; r < records; ++r) {  // each record holds blockLength samples, as the layout needs
    const std::uint8_t* at = bytes.data() + kContinuousHeaderBytes + r * record_bytes;
    const std::uint32_t n = at[8] | (std::uint32_t{at[9]} << 8);
    if (n != frames)
      throw InputError(name + ": byte " + std::to_string(kContinuousHeaderBytes + r * record_bytes + 8) + ": record " + std::to_string(r) + " holds " +
                       std::to_string(n) + " samples, not header.blockLength " + std::to_string(frames));
  }
  if (partial != 0)
    note("warning: " + name + ": the last record is partial (" + std::to_string(partial) + " of " + std::to_string(record_bytes) +
         " bytes from byte " + std::to_string(kContinuousHeaderBytes + records * record_bytes) +
         "; an acquisition that stopped?): kept byte for byte, not as samples");
  src.channel_count = 1;
  src.data_offset = kContinuousHeaderBytes;
  src.sample_rate = *rate;
  src.frames = records * frames;
  src.big_endian = true;
  if (records > 0) {
    src.records.count = records;
    src.records.frames = frames;
    src.records.header = kContinuousRecordHeaderBytes;
    src.records.trailer = kContinuousMarkerBytes;
    src.records.fields = {{0, 8}};  // the timestamp
  }
  ChannelLabel label;
  label.name = fields.text("channel");
  if (const auto volts = fields.number("bitVolts"); volts && *volts > 0 && std::isfinite(*volts)) {
    label.bit_volts = *volts;
    label.units = "uV";
  }
  src.labels = {label};
  return src;
}

}  // namespace spikey::host
