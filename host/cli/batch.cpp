// spikey batch: every recording of a manifest, one archive each, resumable and shardable
// (host::run_batch); this file adds the command line's backend, progress bar and summary.
#include <iostream>

#include "common.hpp"
#include "progress.hpp"
#include "spikey/host/batch.hpp"

namespace spikey::cli {

namespace {

struct BatchArgs {
  std::string manifest;
  std::string output_root;
  std::string shard = "0/1";
  CompressArgs defaults;  // options for every entry; a manifest line may override the recording's
};

int run_batch(const BatchArgs& b, const CommonOptions& o) {
  ProgressBar bar(o.quiet);
  host::BatchOptions options;
  options.manifest = b.manifest;
  options.output_root = b.output_root;
  options.shard = b.shard;
  options.defaults = b.defaults.recording;
  options.threads = o.threads;
  options.encode_options = [&](const host::RecordingOptions& recording) {
    CompressArgs entry = b.defaults;
    entry.recording = recording;
    host::EncodeOptions encode = encode_options(entry, o);
    choose_backend(entry, o, encode);
    encode.progress = [&bar](const std::string& stage, std::uint64_t done, std::uint64_t total) { bar.update(stage, done, total); };
    return encode;
  };
  options.note = [&](const std::string& line) {
    bar.clear();
    if (!o.quiet) std::cerr << "spikey: " << line << "\n";
  };
  options.failure = [&](const std::string& line) {
    bar.clear();
    std::cerr << "spikey: " << line << "\n";
  };
  const host::BatchSummary s = host::run_batch(options);
  bar.clear();
  if (o.json_output) {
    std::cout << json{{"shard", b.shard},         {"entries", s.entries},         {"compressed", s.compressed},
                      {"skipped", s.skipped},     {"failed", s.failed},           {"original_bytes", s.original_bytes},
                      {"archive_bytes", s.archive_bytes}, {"seconds", s.seconds}}
                     .dump()
              << "\n";
  } else {
    std::cout << "shard " << b.shard << ": " << s.entries << " entr" << (s.entries == 1 ? "y" : "ies") << ", " << s.compressed << " compressed, "
              << s.skipped << " skipped (already archived and verified), " << s.failed << " failed; " << megabytes(s.original_bytes) << " -> "
              << megabytes(s.archive_bytes) << " (ratio " << fixed(ratio_of(s.original_bytes, s.archive_bytes), 3) << ") in "
              << fixed(s.seconds, 1) << " s\n";
  }
  return s.failed == 0 ? 0 : kExitFailure;
}

}  // namespace

Subcommand add_batch(CLI::App& app, CommonOptions& common) {
  auto args = std::make_shared<BatchArgs>();
  BatchArgs& b = *args;
  auto* batch = app.add_subcommand("batch", "archive every recording listed in a manifest, one archive each (resumable; --shard I/N for job arrays)");
  batch->add_option("manifest", b.manifest, "text file: one input per line (file or directory), optionally followed by compress options")->required();
  batch->add_option("-o,--output", b.output_root, "output root: each archive goes to OUTROOT/<input's absolute path>.spikey, its report next to it (.json)")
      ->required();
  batch->add_option("--shard", b.shard, "I/N: take entries I, I+N, I+2N, ... (0-based; default 0/1)");
  batch->add_option("--level", b.defaults.recording.level, "fast | default | max (default: default)")->check(CLI::IsMember({"fast", "default", "max"}));
  batch->add_option("--chunk-seconds", b.defaults.recording.chunk_seconds, "seconds per chunk (default 1, and at least 4096 samples where a second holds fewer)")
      ->check(kPositiveSeconds)
      ->each([&b](const std::string&) { b.defaults.recording.chunk_seconds_chosen = true; });
  batch->add_flag("--repair-wav-size", b.defaults.recording.repair_wav_size, "unfinalized WAVs: take the samples after the declared data");
  batch->add_option("--backend", b.defaults.backend, "auto | cpu | cuda (default auto)")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  batch->add_flag("--json", common.json_output, "print the shard summary as JSON");
  batch->add_flag("-q,--quiet", common.quiet, "no progress or per-entry lines");
  add_threads(batch, common);
  return {batch, [args, &common] { return run_batch(*args, common); }};
}

}  // namespace spikey::cli
