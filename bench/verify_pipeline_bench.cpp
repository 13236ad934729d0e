// Verify-after-encode inside the batch pipeline against verify after it, with a stand-in for a
// device: the CPU executor encodes each batch once (and the archive's bytes are checked), then
// the timed runs get those words back after a fixed time per chunk, as from a device of that
// speed, while the host threads gather, assemble, write and verify as they would beside a GPU.
// Both runs encode with one model trained beforehand (training is outside both).
//
//   verify_pipeline_bench INPUT... [--raw-channels N --raw-rate HZ] [--level fast|default]
//                         [--threads N] [--device-seconds-per-chunk S] [--gpu-memory MIB] [--repeat N]
//                         [--only pipeline|after]
//
// Built on request (`cmake --build build --target verify_pipeline_bench`). Prints, per run, the
// wall time of the chunks and of the check after them, for verification in the pipeline
// ("pipeline") and for the decoding pass after the encode (`verify_against_input`, "after").
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "spikey/format/archive_reader.hpp"
#include "spikey/host/batch_encoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/model.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/stopwatch.hpp"

namespace fs = std::filesystem;
using namespace spikey;

namespace {

double cpu_seconds() {  // this process's user and system time so far
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  host::InputOptions input;
  std::string level = "default";
  unsigned threads = host::default_thread_count();
  double device_seconds_per_chunk = 0.05;
  std::uint64_t gpu_memory_mib = 4096;
  int repeat = 3;
  std::string only;  // "pipeline" or "after": that variant alone (to profile it)
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--raw-channels") input.raw_channels = static_cast<std::uint32_t>(std::stoul(value()));
    else if (a == "--raw-rate") input.raw_rate = std::stod(value());
    else if (a == "--level") level = value();
    else if (a == "--threads") threads = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--device-seconds-per-chunk") device_seconds_per_chunk = std::stod(value());
    else if (a == "--gpu-memory") gpu_memory_mib = std::stoull(value());
    else if (a == "--repeat") repeat = std::stoi(value());
    else if (a == "--only") only = value();
    else if (!a.empty() && a[0] == '-') {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    } else inputs.emplace_back(a);
  }
  if (inputs.empty()) {
    std::cerr << "usage: verify_pipeline_bench INPUT... [--raw-channels N --raw-rate HZ] [--level fast|default] [--threads N]\n"
                 "       [--device-seconds-per-chunk S] [--gpu-memory MIB] [--repeat N] [--only pipeline|after]\n";
    return 2;
  }
  const auto recording = host::Recording::open(inputs, input, [](const std::string& note) { std::cerr << note << "\n"; });
  host::EncodeOptions options;
  options.level = level;
  options.threads = threads;
  options.overwrite = true;
  options.batch_memory_bytes = gpu_memory_mib << 20;
  options.backend = "stand-in device";
  {
    const auto surveyed = host::survey_recording(recording, options);
    options.model = std::make_shared<const host::Model>(host::train_model(recording, surveyed, host::codec_for_level(level), options));
  }
  const fs::path archive = fs::temp_directory_path() / ("verify_pipeline_bench_" + std::to_string(::getpid()) + ".spikey");

  // The words of every batch, as the CPU executor writes them (with the plan it fills in).
  std::vector<std::pair<host::BatchPlan, host::BatchWords>> device;
  bool replay = false;
  std::size_t calls = 0;
  options.batch_executor = [&](host::BatchPlan& plan, std::span<const std::int16_t> samples) {
    if (!replay) {
      auto words = host::run_batch_on_cpu(plan, samples, threads);
      device.emplace_back(plan, words);
      return words;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(device_seconds_per_chunk * static_cast<double>(plan.chunk_count())));
    const auto& batch = device[calls++ % device.size()];
    plan = batch.first;
    return batch.second;
  };
  const auto read_archive = [&] {
    std::vector<std::uint8_t> bytes(fs::file_size(archive));
    std::FILE* f = std::fopen(archive.c_str(), "rb");
    const bool read = f != nullptr && std::fread(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (f != nullptr) std::fclose(f);
    if (!read) throw std::runtime_error("cannot read " + archive.string());
    return bytes;
  };
  auto reference = options;
  reference.batch_executor = nullptr;
  reference.verify = false;
  host::compress(recording, archive, reference);
  const auto chunkwise = read_archive();
  auto first = options;
  first.verify = false;
  host::compress(recording, archive, first);  // fills `device`
  if (read_archive() != chunkwise) {
    std::cerr << "the batch executor wrote other bytes than the chunk encoder\n";
    return 1;
  }
  replay = true;
  std::printf("%s, %u threads, %zu batches, stand-in device %.3f s per chunk, %.1f MB\n", level.c_str(), threads, device.size(),
              device_seconds_per_chunk, static_cast<double>(recording.original_bytes()) / 1e6);
  std::printf("%-9s %10s %10s %10s %12s %8s\n", "verify", "chunks s", "check s", "total s", "waiting s", "CPU s");
  std::vector<double> totals[2];
  for (int r = 0; r < repeat; ++r)
    for (const bool in_pipeline : {true, false}) {
      if (!only.empty() && only != (in_pipeline ? "pipeline" : "after")) continue;
      auto run = options;
      run.verify = in_pipeline;
      calls = 0;
      const double cpu_before = cpu_seconds();
      const auto report = host::compress(recording, archive, run);
      double chunks = 0, waiting = 0;
      for (const auto& [phase, seconds] : report.phase_seconds) {
        if (phase == "chunks") chunks = seconds;
        if (phase == "chunks: waiting for verification") waiting = seconds;
      }
      double check = report.verify_seconds;
      if (!in_pipeline) {
        const host::Stopwatch after;
        host::verify_against_input(format::ArchiveReader(archive), recording, run);
        check = after.seconds();
      }
      totals[in_pipeline ? 0 : 1].push_back(chunks + check);
      std::printf("%-9s %10.3f %10.3f %10.3f %12.3f %8.2f\n", in_pipeline ? "pipeline" : "after", chunks, check, chunks + check, waiting,
                  cpu_seconds() - cpu_before);
    }
  for (auto& t : totals) std::sort(t.begin(), t.end());
  if (totals[0].empty() || totals[1].empty()) return 0;
  std::printf("median total: pipeline %.3f s, after %.3f s (%.2fx)\n", totals[0][totals[0].size() / 2], totals[1][totals[1].size() / 2],
              totals[1][totals[1].size() / 2] / totals[0][totals[0].size() / 2]);
  fs::remove(archive);
  return 0;
}
