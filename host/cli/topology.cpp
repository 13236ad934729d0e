// spikey topology: which channels of a recording share activity, for --topology.
#include <iostream>

#include "common.hpp"
#include "progress.hpp"
#include "spikey/host/model.hpp"

namespace spikey::cli {

namespace {

int run_topology(const CompressArgs& a, const CommonOptions& o) {
  host::EncodeOptions options = encode_options(a, o);
  options.mo_training.topology_neighbours = static_cast<int>(a.neighbours);
  options.mo_training.threads = o.threads;
  const host::Recording recording = open_inputs(a, o);
  if (!a.force && fs::exists(a.output)) throw std::runtime_error(a.output + " already exists (use -f to overwrite)");
  const auto surveyed = host::survey_recording(recording, options);
  const host::Topology topology = host::compute_topology(recording, surveyed.metadata, options.mo_training);
  topology.save(a.output);
  if (!o.quiet) {
    std::size_t edges = 0, connected = 0;
    for (const auto& list : topology.neighbours) edges += list.size(), connected += !list.empty();
    std::cerr << "spikey: " << a.output << ": " << topology.neighbours.size() << " channels, " << connected << " with neighbours, " << edges
              << " edges\n";
  }
  return 0;
}

}  // namespace

Subcommand add_topology(CLI::App& app, CommonOptions& common) {
  auto args = std::make_shared<CompressArgs>();
  CompressArgs& a = *args;
  auto* cmd = app.add_subcommand("topology", "compute the channel topology (which channels share activity) of a recording");
  add_training_options(cmd, a, common);
  cmd->add_option("-o,--output", a.output, "topology file to write (JSON)")->required();
  cmd->add_option("--neighbours", a.neighbours, "neighbours kept per channel (default 8)")->check(CLI::Range(1u, 64u));
  return {cmd, [args, &common] { return run_topology(*args, common); }};
}

}  // namespace spikey::cli
