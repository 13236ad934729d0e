#include "spikey/host/batch.hpp"

#include <nlohmann/json.hpp>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/mapped_file.hpp"
#include "spikey/host/model.hpp"
#include "spikey/host/output_file.hpp"
#include "spikey/host/stopwatch.hpp"

namespace spikey::host {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double ratio_of(std::uint64_t original, std::uint64_t archive) {
  return archive == 0 ? 0 : static_cast<double>(original) / static_cast<double>(archive);
}

// XXH3-64 of a whole file, as hex.
std::string file_checksum(const fs::path& path) {
  const MappedFile map(path);
  return format::checksum_hex(format::checksum64(map.bytes()));
}

void write_json_file(const fs::path& path, const json& j) {
  const std::string text = j.dump(2) + "\n";
  OutputFile out(path, true);
  out.write({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  out.commit();
}

// True when `archive` exists, opens and verifies (every chunk and every file checksum).
bool archive_verifies(const fs::path& archive, unsigned threads) {
  std::error_code ec;
  if (!fs::is_regular_file(archive, ec)) return false;
  try {
    const format::ArchiveReader reader(archive);
    RestoreOptions options;
    options.threads = threads;
    return restore_sources(reader, options).mismatched_files.empty();
  } catch (const std::exception&) {
    return false;
  }
}

// The report of an entry compressed now.
void describe_compressed(json& report, const RecordingOptions& recording, const CompressReport& r, const fs::path& archive) {
  const format::ArchiveReader reader(archive);
  json sources = json::array();
  for (const auto& s : reader.metadata().sources) sources.push_back({{"path", s.path}, {"size", s.size}, {"checksum", format::checksum_hex(s.checksum)}});
  report["status"] = "compressed";
  report["level"] = recording.level;
  report["codec"] = r.codec;
  report["backend"] = r.backend;
  report["channels"] = r.channels;
  report["duration_seconds"] = r.duration_seconds;
  report["original_bytes"] = r.original_bytes;
  report["archive_bytes"] = r.archive_bytes;
  report["ratio"] = ratio_of(r.original_bytes, r.archive_bytes);
  report["encode_seconds"] = r.encode_seconds;
  report["encode_mb_per_s"] = r.encode_seconds > 0 ? static_cast<double>(r.original_bytes) / 1e6 / r.encode_seconds : 0;
  report["verified"] = r.verified;
  report["verify_seconds"] = r.verify_seconds;
  report["archive_checksum"] = file_checksum(archive);
  report["sources"] = sources;
}

}  // namespace

RecordingOptions entry_options(const RecordingOptions& defaults, const ManifestEntry& e) {
  RecordingOptions a = defaults;
  const std::string line = "manifest line " + std::to_string(e.line);
  for (std::size_t i = 0; i < e.options.size(); ++i) {
    const std::string& key = e.options[i];
    if (key == "--repair-wav-size") {
      a.repair_wav_size = true;
      continue;
    }
    if (i + 1 >= e.options.size()) throw std::invalid_argument(line + ": " + key + " needs a value");
    const std::string& value = e.options[++i];
    const auto number = [&] {
      std::size_t used = 0;
      const double v = std::stod(value, &used);
      if (used != value.size()) throw std::invalid_argument(value);
      return v;
    };
    bool known = true;
    try {
      if (key == "--level") a.level = value;
      else if (key == "--chunk-seconds") a.chunk_seconds = number(), a.chunk_seconds_chosen = true;
      else if (key == "--raw-channels") a.raw_channels = static_cast<std::uint32_t>(number());
      else if (key == "--raw-rate") a.raw_rate = number();
      else if (key == "--raw-format") a.raw_unsigned = parse_raw_format(value).unsigned_samples, a.raw_big_endian = parse_raw_format(value).big_endian;
      else if (key == "--raw-offset") a.raw_offset = static_cast<std::uint64_t>(number());
      else if (key == "--model") a.model = value;
      else if (key == "--topology") a.topology = value;
      else if (key == "--model-config") a.model_config = value;
      else known = false;
    } catch (const std::logic_error&) {
      throw std::invalid_argument(line + ": bad value \"" + value + "\" for " + key);
    }
    if (!known) throw std::invalid_argument(line + ": unknown option " + key);
  }
  if (a.level != "fast" && a.level != "default" && a.level != "max") throw std::invalid_argument(line + ": --level must be fast, default or max");
  return a;
}

EncodeOptions encode_options_for(const RecordingOptions& recording, unsigned threads) {
  EncodeOptions options;
  options.level = recording.level;
  options.chunk_seconds = recording.chunk_seconds;
  options.min_chunk_samples = recording.chunk_seconds_chosen ? 0 : kDefaultMinChunkSamples;
  options.threads = threads;
  if (!recording.model_config.empty()) apply_model_config(recording.model_config, options);
  if (!recording.topology.empty()) options.topology = std::make_shared<Topology>(Topology::load(recording.topology));
  if (!recording.model.empty()) options.model = std::make_shared<Model>(Model::load(recording.model));
  return options;
}

BatchSummary run_batch(const BatchOptions& o) {
  const Shard shard = parse_shard(o.shard);
  const auto entries = read_manifest(o.manifest);
  const fs::path root = fs::absolute(o.output_root);
  const auto note = [&](const std::string& line) {
    if (o.note) o.note(line);
  };
  const auto fail = [&](const std::string& line) {
    if (o.failure) o.failure(line);
  };
  const Stopwatch stopwatch;
  BatchSummary summary;
  for (std::size_t position = 0; position < entries.size(); ++position) {
    if (!shard.contains(position)) continue;
    ++summary.entries;
    const ManifestEntry& e = entries[position];
    const fs::path archive = archive_path_for(root, e.input);
    const fs::path report_path = report_path_for(archive);
    json report = {{"manifest_line", e.line}, {"input", e.input.string()}, {"archive", archive.string()}, {"shard", o.shard}};
    try {
      const RecordingOptions recording = entry_options(o.defaults, e);
      if (archive_verifies(archive, o.threads)) {
        ++summary.skipped;
        if (!fs::exists(report_path)) {  // archived by a run that stopped before its report
          const format::ArchiveReader reader(archive);
          report["status"] = "verified_existing";
          report["archive_bytes"] = reader.file_size();
          report["original_bytes"] = reader.metadata().original_bytes();
          report["ratio"] = ratio_of(reader.metadata().original_bytes(), reader.file_size());
          report["archive_checksum"] = file_checksum(archive);
          write_json_file(report_path, report);
        }
        note(e.input.string() + ": already archived and verified, skipped");
        continue;
      }
      fs::create_directories(archive.parent_path());
      EncodeOptions options = o.encode_options ? o.encode_options(recording) : encode_options_for(recording, o.threads);
      options.overwrite = true;  // an archive that exists here did not verify: replace it
      const Recording input = Recording::open(
          {e.input}, InputOptions{recording.raw_channels, recording.raw_rate, recording.raw_unsigned, recording.repair_wav_size, recording.raw_big_endian, recording.raw_offset},
          note);
      const CompressReport r = compress(input, archive, options);
      describe_compressed(report, recording, r, archive);
      write_json_file(report_path, report);
      ++summary.compressed;
      summary.original_bytes += r.original_bytes;
      summary.archive_bytes += r.archive_bytes;
      char ratio[32];
      std::snprintf(ratio, sizeof ratio, "%.3f", ratio_of(r.original_bytes, r.archive_bytes));
      note(e.input.string() + " -> " + archive.string() + ": ratio " + ratio + " (" + r.codec + ")");
    } catch (const std::exception& error) {
      ++summary.failed;
      report["status"] = "failed";
      report["error"] = error.what();
      fail(e.input.string() + " (manifest line " + std::to_string(e.line) + "): " + error.what());
      try {
        fs::create_directories(report_path.parent_path());
        write_json_file(report_path, report);
      } catch (const std::exception& report_error) {
        fail("cannot write the report " + report_path.string() + ": " + report_error.what());
      }
    }
  }
  summary.seconds = stopwatch.seconds();
  return summary;
}

}  // namespace spikey::host
