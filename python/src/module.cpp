// spikey._spikey: the Python binding of the CPU reference decoder (random-access windows) and
// encoder. NumPy arrays in and out; the GIL is released while decoding and encoding.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <span>

#include "spikey/format/archive_reader.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/model.hpp"
#include "spikey/host/output_file.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/window.hpp"
#include "spikey/version.hpp"

namespace py = pybind11;
namespace fs = std::filesystem;
using namespace spikey;

namespace {

class Reader {
 public:
  explicit Reader(const std::string& path) : reader_(std::make_unique<format::ArchiveReader>(fs::path(path))) {}

  std::uint64_t samples() const { return reader_->metadata().total_samples; }
  std::size_t channels() const { return reader_->metadata().channels.size(); }
  double sample_rate() const { return reader_->metadata().sample_rate; }
  std::vector<std::string> channel_names() const {
    std::vector<std::string> names;
    for (const auto& c : reader_->metadata().channels) names.push_back(c.name);
    return names;
  }
  std::vector<std::uint64_t> channel_lengths() const {
    std::vector<std::uint64_t> lengths;
    for (const auto& c : reader_->metadata().channels) lengths.push_back(c.length);
    return lengths;
  }
  std::vector<std::optional<double>> bit_volts() const {
    std::vector<std::optional<double>> values;
    for (const auto& c : reader_->metadata().channels) values.push_back(c.bit_volts);
    return values;
  }
  std::vector<std::string> units() const {
    std::vector<std::string> values;
    for (const auto& c : reader_->metadata().channels) values.push_back(c.units);
    return values;
  }
  // Channels of raw sources that hold uint16 samples (stored as value - 32768, SPEC §4.2).
  std::vector<std::uint32_t> unsigned_channels() const {
    std::vector<std::uint32_t> channels;
    for (const auto& s : reader_->metadata().sources)
      if (s.unsigned_samples)
        for (std::uint32_t j = 0; j < s.channel_count; ++j) channels.push_back(s.first_channel + j);
    return channels;
  }
  std::vector<std::uint32_t> sync_channels() const {
    std::vector<std::uint32_t> channels;
    for (std::uint32_t c = 0; c < reader_->metadata().channels.size(); ++c)
      if (reader_->metadata().channels[c].sync) channels.push_back(c);
    return channels;
  }
  // Channels of spike waveforms one after another (a Blackrock .nev, SPEC §4.2): no time axis.
  std::vector<std::uint32_t> snippet_channels() const {
    std::vector<std::uint32_t> channels;
    for (std::uint32_t c = 0; c < reader_->metadata().channels.size(); ++c)
      if (reader_->metadata().snippet_channel(c)) channels.push_back(c);
    return channels;
  }
  double duration_seconds() const { return reader_->metadata().duration_seconds(); }
  std::vector<double> channel_rates() const {
    std::vector<double> rates;
    for (std::size_t c = 0; c < reader_->metadata().channels.size(); ++c) rates.push_back(reader_->metadata().channel_rate(c));
    return rates;
  }
  std::uint64_t chunk_samples() const { return reader_->metadata().chunk_samples; }
  std::vector<std::uint64_t> lost_chunks() const { return host::lost_chunks(*reader_); }
  std::vector<std::string> damage() const { return reader_->damage(); }
  std::uint16_t format_version() const { return reader_->format_version(); }
  // A side file's bytes (a SpikeGLX .meta, an Open Ephys structure.oebin), by its restore path:
  // it is kept whole in the metadata, so nothing is decoded.
  py::bytes side_file(const std::string& path) const {
    for (const auto& s : reader_->metadata().sources) {
      if (s.path != path || s.kind != format::SourceKind::side_file) continue;
      const auto& verbatim = reader_->verbatim();
      if (s.delta64_count != 0) {
        const auto bytes = format::side_file_bytes(s, verbatim);
        return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      }
      return py::bytes(reinterpret_cast<const char*>(verbatim.data() + s.prefix.offset), s.prefix.size);
    }
    throw py::key_error("no side file " + path + " in the archive");
  }
  std::string codec() const { return reader_->metadata().codec.name; }
  std::uint64_t archive_bytes() const { return reader_->file_size(); }
  std::uint64_t original_bytes() const { return reader_->metadata().original_bytes(); }
  std::uint64_t chunks() const { return reader_->index().size(); }
  // The original files: path, kind, size, checksum (16 hex digits), channels, frames.
  py::list sources() const {
    py::list out;
    for (const auto& s : reader_->metadata().sources) {
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(s.checksum));
      py::dict d;
      d["path"] = s.path;
      d["kind"] = format::source_kind_name(s.kind);
      d["size"] = s.size;
      d["checksum"] = std::string(hex);
      d["channels"] = s.channel_count;
      d["first_channel"] = s.first_channel;
      d["frames"] = s.frames;
      d["snippets"] = s.snippets;
      out.append(d);
    }
    return out;
  }

  // Samples [start, end) of `channels` (in that order) as an int16 [frames, channels] array.
  // Only the chunks overlapping the window are read, and only the requested channels decoded.
  py::array_t<std::int16_t> read(std::uint64_t start, std::uint64_t end, std::vector<std::uint32_t> channels, unsigned threads) const {
    if (channels.empty()) return py::array_t<std::int16_t>(std::vector<py::ssize_t>{static_cast<py::ssize_t>(end > start ? end - start : 0), 0});
    host::window_rate(reader_->metadata(), channels);  // rows are samples of one clock: refuse mixing rates (ValueError)
    if (end <= start) return py::array_t<std::int16_t>(std::vector<py::ssize_t>{0, static_cast<py::ssize_t>(channels.size())});
    for (const std::uint32_t c : channels)
      if (end > reader_->metadata().channels.at(c).length)
        throw py::index_error("samples " + std::to_string(start) + ".." + std::to_string(end - 1) + " run past the end of channel " +
                              std::to_string(c) + " (" + std::to_string(reader_->metadata().channels[c].length) + " samples)");
    const host::Window window = host::resolve_window(reader_->metadata(), start, end, channels);
    py::array_t<std::int16_t> out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(window.frames()), static_cast<py::ssize_t>(channels.size())});
    const std::span<std::int16_t> into(out.mutable_data(), static_cast<std::size_t>(out.size()));
    {
      py::gil_scoped_release release;
      host::read_window_into(*reader_, window, threads, into);  // decoded straight into the array
    }
    return out;
  }

 private:
  std::unique_ptr<format::ArchiveReader> reader_;
};

// The labels of the Python compressors, applied to a recording's one source.
void label(host::Recording& recording, std::uint32_t channels, const std::vector<std::string>& channel_names,
           const std::vector<double>& bit_volts, const std::string& units) {
  if (channel_names.empty() && bit_volts.empty() && units.empty()) return;
  std::vector<host::ChannelLabel> labels(channels);
  for (std::size_t c = 0; c < labels.size(); ++c) {
    if (!channel_names.empty()) labels[c].name = channel_names[c];
    if (!bit_volts.empty()) labels[c].bit_volts = bit_volts[c];
    labels[c].units = units;
  }
  recording.label_channels(0, std::move(labels));
}

// No chunk_seconds: the CLI's default, one second and at least kDefaultMinChunkSamples.
host::EncodeOptions encode_options(const std::string& level, std::optional<double> chunk_seconds, unsigned threads, bool overwrite,
                                   const std::string& model) {
  host::EncodeOptions options;
  options.level = level;
  options.chunk_seconds = chunk_seconds.value_or(1.0);
  options.min_chunk_samples = chunk_seconds ? 0 : host::kDefaultMinChunkSamples;
  options.threads = threads;
  options.overwrite = overwrite;
  if (!model.empty()) options.model = std::make_shared<host::Model>(host::Model::load(model));  // no training: the model's predictors
  return options;
}

// Compresses a headerless interleaved 16-bit file (`channels` channels) with the given labels:
// the SpikeInterface writer puts its samples in one, block by block, and calls this.
host::CompressReport compress_raw(const fs::path& raw, std::uint32_t channels, double sample_rate, const std::string& path,
                                  const std::string& level, std::optional<double> chunk_seconds, unsigned threads, bool overwrite,
                                  const std::vector<std::string>& channel_names, const std::vector<double>& bit_volts,
                                  const std::string& units, const std::string& model, bool unsigned_samples) {
  auto recording = host::Recording::open({raw}, {channels, sample_rate, unsigned_samples}, [](const std::string&) {});
  label(recording, channels, channel_names, bit_volts, units);
  return host::compress(recording, path, encode_options(level, chunk_seconds, threads, overwrite, model));
}

using Int16Array = py::array_t<std::int16_t, py::array::c_style | py::array::forcecast>;

// The array as a recording of one raw source named `source_name`, read in place (no copy, no file).
host::Recording array_recording(const Int16Array& array, double sample_rate, const std::string& source_name, bool unsigned_samples) {
  if (array.ndim() != 2) throw py::value_error("expected a [samples, channels] array");
  if (array.shape(1) < 1) throw py::value_error("the array has no channels");
  const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(array.data()), array.size() * sizeof(std::int16_t));
  return host::Recording::from_memory(bytes, source_name, static_cast<std::uint32_t>(array.shape(1)), sample_rate, unsigned_samples);
}

py::dict report_dict(const host::CompressReport& report) {
  py::dict d;
  d["original_bytes"] = report.original_bytes;
  d["archive_bytes"] = report.archive_bytes;
  d["ratio"] = report.archive_bytes ? static_cast<double>(report.original_bytes) / static_cast<double>(report.archive_bytes) : 0.0;
  d["codec"] = report.codec;
  d["verified"] = report.verified;
  d["encode_seconds"] = report.encode_seconds;
  return d;
}

// Compresses `array` (int16 [samples, channels], C order) as one raw source named `source_name`
// into `path`. Returns the compress report as a dict.
py::dict compress_array(Int16Array array, double sample_rate, const std::string& path, const std::string& level, std::optional<double> chunk_seconds,
                        unsigned threads, const std::string& source_name, bool overwrite, const std::vector<std::string>& channel_names,
                        const std::vector<double>& bit_volts, const std::string& units, const std::string& model, bool unsigned_samples) {
  auto recording = array_recording(array, sample_rate, source_name, unsigned_samples);
  host::CompressReport report;
  {
    py::gil_scoped_release release;  // `array` stays alive meanwhile: the recording reads it in place
    label(recording, static_cast<std::uint32_t>(array.shape(1)), channel_names, bit_volts, units);
    report = host::compress(recording, path, encode_options(level, chunk_seconds, threads, overwrite, model));
  }
  return report_dict(report);
}

// The same into memory: the archive's bytes (the Zarr codec's chunks), with no file anywhere.
py::bytes compress_array_to_bytes(Int16Array array, double sample_rate, const std::string& level, double chunk_seconds, unsigned threads,
                                  const std::string& source_name, const std::string& model, bool unsigned_samples) {
  auto recording = array_recording(array, sample_rate, source_name, unsigned_samples);
  std::vector<std::uint8_t> archive;
  {
    py::gil_scoped_release release;
    host::compress_to_memory(recording, encode_options(level, chunk_seconds, threads, false, model), archive);
  }
  return py::bytes(reinterpret_cast<const char*>(archive.data()), archive.size());
}

// Trains a model on `array` (spikey train) and saves it to `model_path`: other arrays of the same
// implant (a Zarr array's chunks) then encode with it instead of training each time.
std::string train_array(Int16Array array, double sample_rate, const std::string& model_path, const std::string& level, unsigned threads,
                        bool overwrite) {
  const auto recording = array_recording(array, sample_rate, "train.bin", false);
  std::string codec;
  {
    py::gil_scoped_release release;
    if (!overwrite && fs::exists(model_path)) throw std::runtime_error(model_path + " already exists (overwrite=True replaces it)");
    host::EncodeOptions options;
    options.level = level;
    options.threads = threads;
    const auto surveyed = host::survey_recording(recording, options);
    const host::Model model = host::train_model(recording, surveyed, host::codec_for_level(level), options);
    model.save(model_path);
    codec = model.codec.name;
  }
  return codec;
}

// Every sample of an archive held in memory, as int16 [samples, channels] (channels of one length
// and rate: a Zarr chunk's archive).
py::array_t<std::int16_t> decode_archive_bytes(py::bytes data, unsigned threads) {
  std::string bytes = data;
  std::optional<format::ArchiveReader> reader;
  host::Window window;
  {
    py::gil_scoped_release release;
    reader.emplace(std::vector<std::uint8_t>(bytes.begin(), bytes.end()), "archive in memory");
    window = host::resolve_window(reader->metadata(), 0, reader->metadata().total_samples, {});
  }
  py::array_t<std::int16_t> out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(window.frames()), static_cast<py::ssize_t>(window.channels.size())});
  const std::span<std::int16_t> into(out.mutable_data(), static_cast<std::size_t>(out.size()));
  {
    py::gil_scoped_release release;
    host::read_window_into(*reader, window, threads, into);  // decoded straight into the array
  }
  return out;
}

py::dict compress_raw_file(const std::string& raw, std::uint32_t channels, double sample_rate, const std::string& path, const std::string& level,
                           std::optional<double> chunk_seconds, unsigned threads, bool overwrite, const std::vector<std::string>& channel_names,
                           const std::vector<double>& bit_volts, const std::string& units, const std::string& model) {
  host::CompressReport report;
  {
    py::gil_scoped_release release;
    report = compress_raw(raw, channels, sample_rate, path, level, chunk_seconds, threads, overwrite, channel_names, bit_volts, units, model,
                          false);
  }
  return report_dict(report);
}

// Decodes everything and checks every checksum (spikey verify): the report as a dict. An
// archive that cannot be read or decoded gives ok = False and the error, as verify --json does.
py::dict verify(const std::string& path, unsigned threads) {
  py::dict d;
  d["archive"] = path;
  host::RestoreReport r;
  std::vector<std::string> damage;
  std::uint64_t archive_bytes = 0, chunks = 0;
  std::string error;
  {
    py::gil_scoped_release release;
    try {
      const format::ArchiveReader reader{fs::path(path)};
      damage = reader.damage();
      archive_bytes = reader.file_size();
      chunks = reader.index().size();
      host::RestoreOptions options;
      options.threads = threads;
      options.fill_lost = true;  // nothing is written: check what a salvage kept
      r = host::restore_sources(reader, options);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  const bool complete = error.empty() && r.lost_chunks == 0 && r.lost_streams == 0;
  d["ok"] = error.empty() && r.mismatched_files.empty() && damage.empty();
  if (!error.empty()) d["error"] = error;
  else if (!r.mismatched_files.empty()) d["error"] = "rebuilt file " + r.mismatched_files.front() + " does not match the original's checksum";
  else if (!damage.empty()) d["error"] = "archive damaged: " + damage.front();
  d["complete"] = complete;
  d["damage"] = damage;
  d["files"] = r.files;
  d["chunks"] = chunks;
  d["lost_chunks"] = r.lost_chunks;
  d["lost_streams"] = r.lost_streams;
  d["incomplete_files"] = r.incomplete_files;
  d["mismatched_files"] = r.mismatched_files;
  d["original_bytes"] = r.bytes;
  d["archive_bytes"] = archive_bytes;
  d["ratio"] = complete && archive_bytes > 0 ? py::cast(static_cast<double>(r.bytes) / static_cast<double>(archive_bytes)) : py::none();
  d["decode_seconds"] = r.seconds;
  return d;
}

// Restores every original file into `directory` (spikey decompress).
py::dict decompress(const std::string& path, const std::string& directory, bool overwrite, bool fill_lost, unsigned threads) {
  host::RestoreReport r;
  {
    py::gil_scoped_release release;
    const format::ArchiveReader reader{fs::path(path)};
    const host::ProtectedInput archive_is_input(path);  // a restored file never replaces the archive
    host::RestoreOptions options;
    options.output_directory = directory;
    options.force = overwrite;
    options.fill_lost = fill_lost;
    options.threads = threads;
    if (!overwrite)
      for (const auto& s : reader.metadata().sources)
        if (std::error_code ec; fs::exists(fs::symlink_status(options.output_directory / s.path, ec)))
          throw std::runtime_error((options.output_directory / s.path).string() + " already exists (overwrite=True replaces it)");
    r = host::restore_sources(reader, options);
    if (!r.mismatched_files.empty())
      throw format::ArchiveError("restored " + r.mismatched_files.front() + " does not match the original's checksum");
  }
  py::dict d;
  d["files"] = r.files;
  d["original_bytes"] = r.bytes;
  d["seconds"] = r.seconds;
  d["incomplete_files"] = r.incomplete_files;
  return d;
}

// Writes samples [start, end) of `channels` (empty: all but snippets) as .bin, .wav or .npy (spikey extract).
py::dict extract(const std::string& path, const std::string& output, std::uint64_t start, std::uint64_t end,
                 std::vector<std::uint32_t> channels, const std::string& file_format, bool overwrite, unsigned threads) {
  host::Window window;
  std::vector<std::uint64_t> damaged;
  {
    py::gil_scoped_release release;
    const format::ArchiveReader reader{fs::path(path)};
    const host::ProtectedInput archive_is_input(path);
    const auto kind = host::window_format_for(file_format.empty() ? fs::path(output) : fs::path("window." + file_format));
    window = host::resolve_window(reader.metadata(), start, end, std::move(channels));
    host::write_window(reader, window, kind, output, overwrite, threads, &damaged);
  }
  py::dict d;
  d["start"] = window.start;
  d["end"] = window.end;
  d["channels"] = window.channels;
  d["damaged_chunks"] = damaged;
  return d;
}

}  // namespace

PYBIND11_MODULE(_spikey, m) {
  m.doc() = "Spikey archives: random-access NumPy reads and compression (the CPU reference implementation)";
  m.attr("__version__") = kVersion;
  py::register_exception<format::ArchiveError>(m, "ArchiveError", PyExc_ValueError);
  py::register_exception<host::InputError>(m, "InputError", PyExc_ValueError);
  py::class_<Reader>(m, "_Reader")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def_property_readonly("samples", &Reader::samples)
      .def_property_readonly("channels", &Reader::channels)
      .def_property_readonly("sample_rate", &Reader::sample_rate)
      .def_property_readonly("channel_names", &Reader::channel_names)
      .def_property_readonly("channel_lengths", &Reader::channel_lengths)
      .def_property_readonly("chunk_samples", &Reader::chunk_samples)
      .def_property_readonly("bit_volts", &Reader::bit_volts)
      .def_property_readonly("units", &Reader::units)
      .def_property_readonly("sync_channels", &Reader::sync_channels)
      .def_property_readonly("unsigned_channels", &Reader::unsigned_channels)
      .def_property_readonly("channel_rates", &Reader::channel_rates)
      .def_property_readonly("snippet_channels", &Reader::snippet_channels)
      .def_property_readonly("duration_seconds", &Reader::duration_seconds)
      .def_property_readonly("lost_chunks", &Reader::lost_chunks)
      .def_property_readonly("damage", &Reader::damage)
      .def_property_readonly("format_version", &Reader::format_version)
      .def_property_readonly("codec", &Reader::codec)
      .def_property_readonly("archive_bytes", &Reader::archive_bytes)
      .def_property_readonly("original_bytes", &Reader::original_bytes)
      .def_property_readonly("chunks", &Reader::chunks)
      .def_property_readonly("sources", &Reader::sources)
      .def("side_file", &Reader::side_file, py::arg("path"))
      .def("read", &Reader::read, py::arg("start"), py::arg("end"), py::arg("channels"), py::arg("threads") = 1);
  m.def("compress_array", &compress_array, py::arg("array"), py::arg("sample_rate"), py::arg("path"), py::arg("level") = "default",
        py::arg("chunk_seconds") = py::none(), py::arg("threads") = host::default_thread_count(), py::arg("source_name") = "array.bin",
        py::arg("overwrite") = false, py::arg("channel_names") = std::vector<std::string>{}, py::arg("bit_volts") = std::vector<double>{},
        py::arg("units") = std::string{}, py::arg("model") = std::string{}, py::arg("unsigned_samples") = false);
  m.def("compress_array_to_bytes", &compress_array_to_bytes, py::arg("array"), py::arg("sample_rate"), py::arg("level") = "default",
        py::arg("chunk_seconds") = 1.0, py::arg("threads") = host::default_thread_count(), py::arg("source_name") = "array.bin",
        py::arg("model") = std::string{}, py::arg("unsigned_samples") = false);
  m.def("train_array", &train_array, py::arg("array"), py::arg("sample_rate"), py::arg("model_path"), py::arg("level") = "default",
        py::arg("threads") = host::default_thread_count(), py::arg("overwrite") = false);
  m.def("decode_archive_bytes", &decode_archive_bytes, py::arg("data"), py::arg("threads") = 1);
  m.def("verify", &verify, py::arg("path"), py::arg("threads") = host::default_thread_count());
  m.def("decompress", &decompress, py::arg("path"), py::arg("directory"), py::arg("overwrite") = false, py::arg("fill_lost") = false,
        py::arg("threads") = host::default_thread_count());
  m.def("extract", &extract, py::arg("path"), py::arg("output"), py::arg("start"), py::arg("end"), py::arg("channels"),
        py::arg("file_format") = std::string{}, py::arg("overwrite") = false, py::arg("threads") = host::default_thread_count());
  m.def("compress_raw_file", &compress_raw_file, py::arg("raw"), py::arg("channels"), py::arg("sample_rate"), py::arg("path"),
        py::arg("level") = "default", py::arg("chunk_seconds") = py::none(), py::arg("threads") = host::default_thread_count(),
        py::arg("overwrite") = false, py::arg("channel_names") = std::vector<std::string>{}, py::arg("bit_volts") = std::vector<double>{},
        py::arg("units") = std::string{}, py::arg("model") = std::string{});
}
