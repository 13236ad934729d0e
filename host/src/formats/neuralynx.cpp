// Neuralynx continuously sampled channels (.ncs), as Cheetah writes them (Neuralynx, "Cheetah
// Reference Guide", NCS file format; "Neuralynx Data File Formats"). Little-endian throughout.
//
//   file:    a 16384-byte text header ("-Key value" lines, padded with NULs), then records
//   record:  1044 bytes
//     0    u64      qwTimeStamp        microseconds, first sample of the record
//     8    u32      dwChannelNumber
//     12   u32      dwSampleFreq       Hz, rounded to an integer (the header's is exact)
//     16   u32      dwNumValidSamples  <= 512; the other samples are still stored
//     20   i16[512] snSamples
//
// Every record's 512 samples become the channel's samples (SPEC.md §4.2, records), the 20-byte
// record header the framing, its timestamp stored as the difference from the record before. A
// gap in the recording is a jump in the timestamps, kept exactly; a partial last record (a
// crashed acquisition) stays verbatim after the records.
#include <cmath>
#include <cstring>

#include "formats/text_fields.hpp"
#include "spikey/host/acquisition.hpp"

namespace spikey::host {

namespace {

constexpr std::uint64_t kNcsHeaderBytes = 16384;
constexpr std::uint32_t kNcsRecordFrames = 512, kNcsRecordHeaderBytes = 20;
constexpr std::uint64_t kNcsRecordBytes = kNcsRecordHeaderBytes + 2 * kNcsRecordFrames;

}  // namespace

bool is_neuralynx_ncs(const std::filesystem::path& file) { return has_extension(file, ".ncs"); }

InputSource open_neuralynx_ncs(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note) {
  InputSource src{file, std::move(restore_path), format::SourceKind::neuralynx, MappedFile(file)};
  const auto bytes = src.map.bytes();
  const std::string name = file.string();
  if (bytes.size() < kNcsHeaderBytes)
    throw InputError(name + ": " + std::to_string(bytes.size()) + " bytes, shorter than a Neuralynx header (16384 bytes): truncated?");
  const std::string header(reinterpret_cast<const char*>(bytes.data()), ::strnlen(reinterpret_cast<const char*>(bytes.data()), kNcsHeaderBytes));
  if (header.rfind("######## Neuralynx", 0) != 0)
    throw InputError(name + ": byte 0: no \"######## Neuralynx\" header line; not a Neuralynx .ncs file");
  const TextFields fields = dash_key_fields(header);
  if (const auto record_size = fields.number("RecordSize"); record_size && *record_size != static_cast<double>(kNcsRecordBytes))
    throw InputError(name + ": its header gives -RecordSize " + fields.text("RecordSize") + "; an .ncs record is 1044 bytes");
  src.channel_count = 1;
  src.data_offset = kNcsHeaderBytes;
  const std::uint64_t records = (bytes.size() - kNcsHeaderBytes) / kNcsRecordBytes;
  const std::uint64_t partial = (bytes.size() - kNcsHeaderBytes) % kNcsRecordBytes;
  if (partial != 0)
    note("warning: " + name + ": the last record is partial (" + std::to_string(partial) + " of 1044 bytes from byte " +
         std::to_string(kNcsHeaderBytes + records * kNcsRecordBytes) + "; an acquisition that stopped?): kept byte for byte, not as samples");
  std::optional<double> rate = fields.number("SamplingFrequency");
  if (!rate && records > 0) {
    std::uint32_t record_rate = 0;
    std::memcpy(&record_rate, bytes.data() + kNcsHeaderBytes + 12, 4);
    rate = record_rate;
  }
  if (!rate || !(*rate > 0) || !std::isfinite(*rate))
    throw InputError(name + ": no sampling rate (-SamplingFrequency in the header, or a record's dwSampleFreq)");
  src.sample_rate = *rate;
  src.frames = records * kNcsRecordFrames;
  if (records > 0) {
    src.records.count = records;
    src.records.frames = kNcsRecordFrames;
    src.records.header = kNcsRecordHeaderBytes;
    src.records.fields = {{0, 8}};  // qwTimeStamp
  }
  ChannelLabel label;
  label.name = fields.text("AcqEntName");
  if (const auto volts = fields.number("ADBitVolts"); volts && *volts > 0 && std::isfinite(*volts)) {
    label.bit_volts = *volts * 1e6;
    label.units = "uV";
  }
  src.labels = {label};
  return src;
}

}  // namespace spikey::host
