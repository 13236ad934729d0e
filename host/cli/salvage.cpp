// spikey salvage: a valid archive from a damaged one, keeping every intact chunk and every intact channel of a damaged one.
#include <iostream>

#include "common.hpp"
#include "spikey/host/salvage.hpp"
#include "spikey/host/window.hpp"

namespace spikey::cli {

namespace {

struct SalvageArgs {
  std::string archive;
  std::string output;
  bool force = false;
};

int run_salvage(const SalvageArgs& a, const CommonOptions& o) {
  const ArchiveArgument input(a.archive);
  const std::string& archive = input.name();
  const std::string& output = a.output;
  const host::SalvageReport r =
      naming_archive(archive, [&] { return host::salvage_archive(input.path(), output, {a.force, o.threads}); });
  const auto seconds = [&](std::uint64_t sample) { return r.sample_rate > 0 ? static_cast<double>(sample) / r.sample_rate : 0.0; };
  if (o.json_output) {
    json lost = json::array();
    for (const auto& l : r.lost_ranges)
      lost.push_back({{"chunks", {l.first_chunk, l.end_chunk}},
                      {"samples", {l.first_sample, l.end_sample}},
                      {"seconds", {seconds(l.first_sample), seconds(l.end_sample)}},
                      {"channels", host::format_channel_list(l.channels)}});
    const json j = {{"archive", archive},          {"output", output},      {"chunks", r.chunks},
                    {"recovered_chunks", r.recovered}, {"partial_chunks", r.partial}, {"lost_chunks", r.lost},
                    {"lost_streams", r.lost_streams}, {"lost", lost},
                    {"incomplete_files", r.incomplete_files}, {"lost_files", r.lost_files}, {"notes", r.notes}, {"input_bytes", r.input_bytes},
                    {"output_bytes", r.output_bytes}};
    std::cout << j.dump(2) << "\n";
  } else if (!o.quiet) {
    for (const auto& n : r.notes) std::cerr << "spikey: " << n << "\n";
    std::cerr << "spikey: salvaged " << r.recovered << " of " << r.chunks << " chunk(s) whole";
    if (r.partial > 0) std::cerr << " and " << r.partial << " in part (their intact channels)";
    std::cerr << " into " << output << " (" << r.output_bytes << " bytes)\n";
    for (const auto& l : r.lost_ranges)
      std::cerr << "spikey: lost: chunks " << l.first_chunk << ".." << l.end_chunk - 1 << ", samples " << l.first_sample << ".."
                << l.end_sample - 1 << " (" << fixed(seconds(l.first_sample), 3) << " s to " << fixed(seconds(l.end_sample), 3)
                << " s) of channels " << host::format_channel_list(l.channels) << "\n";
    for (const auto& f : r.incomplete_files) std::cerr << "spikey: incomplete file: " << f << "\n";
    for (const auto& f : r.lost_files) std::cerr << "spikey: lost file: " << f << " (a side file only the damaged metadata section held)\n";
    if (r.lost == 0 && r.partial == 0 && r.lost_files.empty()) std::cerr << "spikey: nothing was lost\n";
  }
  return 0;
}

}  // namespace

Subcommand add_salvage(CLI::App& app, CommonOptions& common) {
  auto args = std::make_shared<SalvageArgs>();
  auto* salvage = app.add_subcommand("salvage", "rebuild a valid archive from a truncated or damaged one, keeping every intact chunk and channel");
  salvage->add_option("archive", args->archive, "damaged archive (read only); - for standard input")->required();
  salvage->add_option("-o,--output", args->output, "archive to write")->required();
  salvage->add_flag("-f,--force", args->force, "overwrite the output if it exists");
  salvage->add_flag("--json", common.json_output, "print JSON");
  salvage->add_flag("-q,--quiet", common.quiet, "no report");
  add_threads(salvage, common);
  return {salvage, [args, &common] { return run_salvage(*args, common); }};
}

}  // namespace spikey::cli
