// spikey compress: recordings into one archive, verified by the reference decoder.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <optional>

#include "common.hpp"
#include "progress.hpp"

namespace spikey::cli {

namespace {

fs::path default_archive_name(const std::vector<std::string>& inputs) {
  if (inputs.size() != 1) throw UsageError("several inputs need an explicit -o ARCHIVE");
  if (inputs.front() == "-") throw UsageError("standard input needs -o ARCHIVE (or -o - for standard output)");
  fs::path p(inputs.front());
  while (p.has_parent_path() && !p.has_filename()) p = p.parent_path();  // "dir/" -> "dir"
  return fs::path(p.string() + std::string(kArchiveSuffix));
}

// Standard input as a file in `scratch`: stdin.wav when it holds a WAV, else stdin.raw (which
// needs --raw-channels and --raw-rate); its restore path is that name.
fs::path standard_input_recording(const CompressArgs& a, host::ScratchDirectory& scratch) {
  refuse_terminal_input();
  const std::vector<char> head = read_standard_input_head(12);
  const bool wav = head.size() == 12 && std::memcmp(head.data(), "RIFF", 4) == 0 && std::memcmp(head.data() + 8, "WAVE", 4) == 0;
  if (!wav && !a.recording.raw_channels)
    throw UsageError("standard input is not a WAV file; for headerless int16 give --raw-channels N --raw-rate HZ");
  const fs::path file = scratch.path() / (wav ? "stdin.wav" : "stdin.raw");
  scratch.remove_on_signal(file);
  copy_standard_input(head, file);
  return file;
}

int run_compress(const CompressArgs& original_args, const CommonOptions& o) {
  // "-": standard input (copied whole to a scratch file first) and standard output (the
  // archive is written and verified in a scratch file, then copied out).
  CompressArgs a = original_args;
  const bool to_stdout = a.output == "-";
  if (to_stdout && o.json_output) throw UsageError("--json prints on standard output, which -o - gives to the archive");
  if (std::count(a.inputs.begin(), a.inputs.end(), "-") > 1) throw UsageError("standard input (-) can be given once");
  if (to_stdout) refuse_terminal_output();
  std::optional<host::ScratchDirectory> scratch;
  if (to_stdout || std::count(a.inputs.begin(), a.inputs.end(), "-") == 1) scratch.emplace();
  for (auto& input : a.inputs)
    if (input == "-") input = standard_input_recording(a, *scratch).string();
  const fs::path output = to_stdout ? scratch->path() / "stdout.spikey" : a.output.empty() ? default_archive_name(a.inputs) : fs::path(a.output);
  if (to_stdout) scratch->remove_on_signal(output);
  host::EncodeOptions options = encode_options(a, o);
  const host::Recording recording = open_inputs(a, o);
  cli::ProgressBar bar(o.quiet);
  choose_backend(a, o, options);
  options.progress = [&](const std::string& stage, std::uint64_t done, std::uint64_t total) { bar.update(stage, done, total); };
  const host::CompressReport r = host::compress(recording, output, options);
  bar.clear();
  if (to_stdout) copy_to_standard_output(output, "the archive");
  const double ratio = ratio_of(r.original_bytes, r.archive_bytes);
  const double encode_mb_s = r.encode_seconds > 0 ? static_cast<double>(r.original_bytes) / 1e6 / r.encode_seconds : 0;
  if (o.json_output) {
    json j = {{"archive", output.string()},
              {"sources", r.sources},
              {"channels", r.channels},
              {"snippet_channels", r.snippet_channels},
              {"chunks", r.chunks},
              {"duration_seconds", r.duration_seconds},
              {"original_bytes", r.original_bytes},
              {"archive_bytes", r.archive_bytes},
              {"ratio", ratio},
              {"encode_seconds", r.encode_seconds},
              {"encode_mb_per_s", encode_mb_s},
              {"verified", r.verified},
              {"verify_seconds", r.verify_seconds},
              {"backend", r.backend},
              {"codec", r.codec},
              {"estimated_stream_bytes", r.estimated_stream_bytes},
              {"level", a.recording.level}};
    json phases = json::array();
    for (const auto& [phase, seconds] : r.phase_seconds) phases.push_back({{"phase", phase}, {"seconds", seconds}});
    j["phase_seconds"] = phases;
    std::cout << j.dump(2) << "\n";
  } else if (!o.quiet) {
    std::cerr << "spikey: " << (to_stdout ? std::string("standard output") : output.string()) << ": " << r.sources << " file(s), " << r.channels << " channel(s), "
              << (r.snippet_channels == 0 ? std::string()
                                          : r.snippet_channels == r.channels ? "spike waveforms only; " : std::to_string(r.snippet_channels) + " of spike waveforms, ")
              << (r.snippet_channels == r.channels && r.channels > 0 ? std::string() : fixed(r.duration_seconds, 3) + " s; ") << megabytes(r.original_bytes) << " -> " << megabytes(r.archive_bytes)
              << ", ratio " << fixed(ratio, 3) << " (" << r.codec << "), " << fixed(encode_mb_s, 1) << " MB/s"
              << (r.verified ? ", verified (" + fixed(r.verify_seconds, 2) + " s)" : ", not verified")
              << (r.backend == "cpu" ? "" : ", on " + r.backend) << "\n";
  }
  return 0;
}

}  // namespace

Subcommand add_compress(CLI::App& app, CommonOptions& common) {
  auto args = std::make_shared<CompressArgs>();
  CompressArgs& a = *args;
  auto* compress = app.add_subcommand("compress",
                                      "compress WAV files, SpikeGLX .bin/.meta pairs, Open Ephys recording folders, Neuralynx, Open Ephys legacy, "
                                      "Blackrock, Plexon, Spike2, AlphaOmega, Axon ABF, Axona and White Matter files and folders, directories of WAVs or raw 16-bit samples into one archive");
  add_recording_inputs(compress, a);
  compress->add_option("-o,--output", a.output, "archive to write (default: INPUT.spikey for one input); - for standard output");
  compress->add_option("--level", a.recording.level, "fast | default | max")->check(CLI::IsMember({"fast", "default", "max"}));
  compress->add_option("--chunk-seconds", a.recording.chunk_seconds,
                       "seconds per independently decodable chunk (default 1, and at least 4096 samples where a second holds fewer)")
      ->check(kPositiveSeconds)
      ->each([&a](const std::string&) { a.recording.chunk_seconds_chosen = true; });
  compress->add_flag("-f,--force", a.force, "overwrite an existing archive");
  compress->add_flag("--no-verify", a.no_verify, "skip decoding the archive again after writing it");
  compress->add_option("--backend", a.backend, "auto | cpu | cuda (auto: the GPU when there is one)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  compress->add_option("--gpu-memory", a.gpu_memory_mib, "GPU memory for one batch of chunks, MiB (default 4096)")
      ->check(CLI::Range(std::uint64_t{64}, std::uint64_t{1} << 20));
  compress->add_option("--model", a.recording.model, "encode with this model (spikey train) instead of training")->check(CLI::ExistingFile);
  compress->add_option("--topology", a.recording.topology, "level default: use this topology (spikey topology)")->check(CLI::ExistingFile);
  compress->add_option("--model-config", a.recording.model_config, "JSON with the predictor's architecture (see README)")->check(CLI::ExistingFile);
  compress->add_flag("-q,--quiet", common.quiet, "no progress or summary");
  compress->add_flag("--json", common.json_output, "print a JSON report on stdout");
  add_threads(compress, common);
  compress->footer(
      "Examples:\n  spikey compress ../data/neuralink -o nl.spikey\n  spikey compress a.wav b.wav -o ab.spikey\n"
      "  spikey compress run_g0_t0.imec0.ap.bin -o ap.spikey\n  spikey compress \"Record Node 101\" -o session.spikey");
  return {compress, [args, &common] { return run_compress(*args, common); }};
}

}  // namespace spikey::cli
