// spikey extract: a time window of some channels as .bin, .wav or .npy, decoding only those.
#include <iostream>

#include "common.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/host/window.hpp"

namespace spikey::cli {

namespace {

struct ExtractArgs {
  std::string archive;
  std::string output;
  std::optional<double> start_seconds, end_seconds;
  std::optional<std::uint64_t> start_sample, end_sample;
  std::string channels;
  std::string format;  // bin, wav or npy: needed for standard output, else from the file name
  bool force = false;
};

int extract_window(const ExtractArgs& a, const ArchiveArgument& archive, host::WindowFileFormat file_format, const CommonOptions& o) {
  const format::ArchiveReader reader(archive.path());
  warn_archive_damage(reader, archive.name());
  const host::ProtectedInput archive_is_input(archive.path());  // the window never replaces the archive
  const format::Metadata& meta = reader.metadata();
  std::vector<std::uint32_t> channels;
  if (!a.channels.empty()) {
    std::vector<std::string> names;
    for (const auto& c : meta.channels) names.push_back(c.name);
    channels = host::parse_channel_list(a.channels, names);
  }
  const double rate = host::window_rate(meta, channels);  // seconds count at the channels' own rate
  std::uint64_t start = 0, end = 0;  // by default to the end of the longest channel read
  for (const std::uint32_t c : channels.empty() ? host::time_series_channels(meta) : channels)
    if (c < meta.channels.size()) end = std::max(end, meta.channels[c].length);
  if (a.start_seconds) start = host::seconds_to_sample(*a.start_seconds, rate);
  if (a.start_sample) start = *a.start_sample;
  if (a.end_seconds) end = host::seconds_to_sample(*a.end_seconds, rate);
  if (a.end_sample) end = *a.end_sample;
  const host::Window window = host::resolve_window(meta, start, end, channels);
  std::vector<std::uint64_t> damaged;
  host::write_window(reader, window, file_format, a.output, a.force, o.threads, &damaged);
  for (const std::uint64_t chunk : damaged)
    std::cerr << "spikey: warning: " << archive.name() << ": chunk " << chunk
              << " is damaged; the channels extracted from it passed their stream checks (spikey verify names the damage)\n";
  if (!o.quiet) {
    std::cerr << "spikey: wrote " << window.frames() << " samples x " << window.channels.size() << " channel(s) (samples "
              << window.start << ".." << window.end - 1 << ") to " << (host::is_standard_output(a.output) ? "standard output" : a.output);
    if (window.clipped) std::cerr << " (end clipped to the channels' length)";
    std::cerr << "\n";
  }
  return 0;
}

int run_extract(const ExtractArgs& a, const CommonOptions& o) {
  if (host::is_standard_output(a.output) && a.format.empty())
    throw UsageError("writing to standard output (-o -) needs --format bin, wav or npy");
  const auto file_format = host::window_format_for(a.format.empty() ? fs::path(a.output) : fs::path("window." + a.format));
  if (a.start_seconds && a.start_sample) throw UsageError("use --start or --start-sample, not both");
  if (a.end_seconds && a.end_sample) throw UsageError("use --end or --end-sample, not both");
  if (host::is_standard_output(a.output)) refuse_terminal_output();
  const ArchiveArgument archive(a.archive);
  return naming_archive(archive.name(), [&] { return extract_window(a, archive, file_format, o); });
}

}  // namespace

Subcommand add_extract(CLI::App& app, CommonOptions& common) {
  auto args = std::make_shared<ExtractArgs>();
  auto* extract = app.add_subcommand("extract", "write a time window of some channels as .bin, .wav or .npy");
  extract->add_option("archive", args->archive, "archive to read; - for standard input")->required();
  extract->add_option("-o,--output", args->output, "output file: .bin (interleaved int16 LE), .wav or .npy; - for standard output (with --format)")->required();
  extract->add_option("--format", args->format, "bin | wav | npy (default: from the output's extension)")->check(CLI::IsMember({"bin", "wav", "npy"}));
  extract->add_option("--start", args->start_seconds, "window start in seconds (nearest sample)");
  extract->add_option("--end", args->end_seconds, "window end in seconds (nearest sample, exclusive)");
  extract->add_option("--start-sample", args->start_sample, "window start sample");
  extract->add_option("--end-sample", args->end_sample, "window end sample (exclusive)");
  extract->add_option("--channels", args->channels, "channels in output order, by number or name, e.g. 0,7,100-131 or AP0-AP7,SY0 (default: all)");
  extract->add_flag("-f,--force", args->force, "overwrite an existing output file");
  extract->add_flag("-q,--quiet", common.quiet, "no summary");
  add_threads(extract, common);
  return {extract, [args, &common] { return run_extract(*args, common); }};
}

}  // namespace spikey::cli
