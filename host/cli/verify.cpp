// spikey verify: decode everything, check every checksum, report ratio and decode speed.
#include <iostream>

#include "common.hpp"
#include "progress.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/window.hpp"

namespace spikey::cli {

namespace {

int verify_archive(const ArchiveArgument& input, json& j, const CommonOptions& o) {
  const std::string& archive = input.name();
  const format::ArchiveReader reader(input.path());
  const format::Metadata& m = reader.metadata();
  cli::ProgressBar bar(o.quiet || o.json_output);
  host::RestoreOptions options;
  options.threads = o.threads;
  options.fill_lost = true;  // nothing is written: check what a salvage kept
  options.progress = [&](std::uint64_t done, std::uint64_t total) { bar.update("verify", done, total); };
  const host::RestoreReport r = host::restore_sources(reader, options);
  bar.clear();
  const double ratio = ratio_of(r.bytes, reader.file_size());
  // Spike waveforms (SPEC §4.2) have no duration: an archive of them alone has no real time.
  const bool waveforms_only = !m.channels.empty() && host::time_series_channels(m).empty();
  const double realtime = r.seconds > 0 ? m.duration_seconds() / r.seconds : 0;
  const double mb_s = r.seconds > 0 ? static_cast<double>(r.bytes) / 1e6 / r.seconds : 0;
  const double slowest_duration = reader.index().empty()
                                      ? 0
                                      : static_cast<double>(reader.index()[r.slowest_chunk].sample_count) / m.sample_rate;
  const double slowest_realtime = r.slowest_chunk_seconds > 0 ? slowest_duration / r.slowest_chunk_seconds : 0;
  // A salvaged archive with lost chunks checks out but is not the whole recording: its own
  // exit status (kExitIncomplete), and no ratio (the original bytes include what was lost).
  const bool incomplete = r.lost_chunks > 0 || r.lost_streams > 0;
  // Damage that opening worked around (the metadata copy, §3.7): the samples check out, but
  // the archive file itself is damaged.
  const std::vector<std::string>& damage = reader.damage();
  j["ok"] = r.mismatched_files.empty() && damage.empty();
  j["damage"] = damage;
  j["complete"] = !incomplete;
  j["files"] = r.files;
  j["chunks"] = reader.index().size();
  j["lost_chunks"] = r.lost_chunks;
  j["lost_streams"] = r.lost_streams;
  j["incomplete_files"] = r.incomplete_files;
  j["missing_files"] = r.missing_files;
  j["original_bytes"] = r.bytes;
  j["archive_bytes"] = reader.file_size();
  j["ratio"] = incomplete ? json(nullptr) : json(ratio);
  j["duration_seconds"] = m.duration_seconds();
  j["decode_seconds"] = r.seconds;
  j["decode_mb_per_s"] = mb_s;
  j["x_real_time"] = realtime;
  j["slowest_chunk"] = {{"index", r.slowest_chunk},
                        {"decode_seconds", r.slowest_chunk_seconds},
                        {"duration_seconds", slowest_duration},
                        {"x_real_time", slowest_realtime}};
  if (!r.mismatched_files.empty()) {
    j["error"] = "rebuilt file " + r.mismatched_files.front() + " does not match the original's checksum";
    j["mismatched_files"] = r.mismatched_files;
  }
  else if (!damage.empty())
    j["error"] = "archive damaged: " + damage.front() +
                 (r.missing_files.empty() ? "; every file still restores" : "; every file but " + std::to_string(r.missing_files.size()) + " side file(s) still restores") +
                 "; spikey salvage writes an undamaged archive";
  const int status = !r.mismatched_files.empty() || !damage.empty() ? kExitFailure : incomplete ? kExitIncomplete : 0;
  if (o.json_output) return status;  // the caller prints j, with the other archives'
  if (r.mismatched_files.empty()) {
    std::cout << (!damage.empty() ? "DAMAGED " : incomplete ? "INCOMPLETE " : "OK ") << archive << ": " << r.files << " file(s), " << reader.index().size()
              << " chunk(s), " << (waveforms_only ? std::string("spike waveforms only") : fixed(m.duration_seconds(), 3) + " s of recording") << ", "
              << (incomplete ? std::string("data missing") : "ratio " + fixed(ratio, 4)) << "\n"
              << "decode " << fixed(r.seconds, 3) << " s: " << fixed(mb_s, 1) << " MB/s";
    if (reader.index().empty())  // side files alone: nothing was decoded in chunks
      std::cout << "; no chunks (side files only)\n";
    else if (waveforms_only)  // no time axis, so no real time
      std::cout << "; slowest chunk " << r.slowest_chunk << ": " << fixed(r.slowest_chunk_seconds * 1e3, 2) << " ms\n";
    else
      std::cout << ", " << fixed(realtime, 1) << "x real time; slowest chunk " << r.slowest_chunk << ": " << fixed(r.slowest_chunk_seconds * 1e3, 2)
                << " ms for " << fixed(slowest_duration, 3) << " s (" << fixed(slowest_realtime, 1) << "x real time)\n";
    if (incomplete)
      std::cout << "salvaged archive: " << r.lost_chunks << " of " << reader.index().size() << " chunk(s) and " << r.lost_streams
                << " channel stream(s) of kept chunks were lost before the salvage; " << r.incomplete_files.size()
                << " file(s) incomplete; everything kept is intact\n";
    for (const auto& d : damage) std::cerr << "spikey: verify failed: " << archive << ": " << d << "\n";
    if (!damage.empty())
      std::cerr << "spikey: " << (r.missing_files.empty() ? "every file still restores" : "every file but " + std::to_string(r.missing_files.size()) + " side file(s) still restores")
                << "; spikey salvage writes an undamaged archive\n";
  } else {
    std::cerr << "spikey: verify failed: " << archive << ": " << j["error"].get<std::string>() << "\n";
  }
  return status;
}

// Several archives (spikey verify *.spikey): each is checked and reported, whatever the ones
// before it gave; the exit status is the worst: a failure, then an incomplete (salvaged) archive.
int run_verify(const std::vector<std::string>& archives, const CommonOptions& o) {
  check_archive_arguments(archives);
  json reports = json::array();
  int status = 0;
  std::vector<std::string> failed;
  std::size_t incomplete = 0;
  for (const std::string& archive : archives) {
    json j = {{"archive", archive}, {"ok", false}};
    const int archive_status = on_each_archive(archive, j, o, [&](const ArchiveArgument& input) { return verify_archive(input, j, o); });
    reports.push_back(std::move(j));
    if (archive_status == kExitFailure) failed.push_back(archive);
    incomplete += archive_status == kExitIncomplete;
    if (archive_status == kExitFailure || status == 0) status = archive_status;
  }
  if (o.json_output) std::cout << (archives.size() == 1 ? reports.front() : reports).dump(2) << "\n";
  if (archives.size() > 1 && !o.quiet && !o.json_output) report_archives(archives.size(), "OK", incomplete, failed);
  return status;
}

}  // namespace

Subcommand add_verify(CLI::App& app, CommonOptions& common) {
  auto archives = std::make_shared<std::vector<std::string>>();
  auto* verify = app.add_subcommand("verify", "decode everything and check every checksum; report ratio and decode speed");
  verify->add_option("archives", *archives, "archives to read, each checked whatever the others give; - for standard input")->required();
  verify->add_flag("--json", common.json_output, "print JSON");
  verify->add_flag("-q,--quiet", common.quiet, "no progress");
  add_threads(verify, common);
  return {verify, [archives, &common] { return run_verify(*archives, common); }};
}

}  // namespace spikey::cli
