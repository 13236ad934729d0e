// GPU encoder throughput (Google Benchmark, manual time): the whole recording as batches on
// the GPU, end to end (upload, kernels, download, merge) and kernels alone (CUDA events),
// next to the CPU encoder on one thread. Every GPU batch is checked byte for byte against the
// CPU encoder before it is timed. Bytes are original sample bytes.
//
//   gpu_bench DIR_OR_FILES... [--level fast|default] [--raw-channels N --raw-rate HZ] [--gpu-memory MIB] [benchmark flags]
//
// At --level default (mo1/mo2, or lpc1 where it wins the level's race) training stays on the
// CPU and is not timed; the benchmark times the encoding of the chunks.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "spikey/cuda/batch_encoder.hpp"
#include "spikey/cuda/device.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/host/batch_encoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/stopwatch.hpp"

namespace fs = std::filesystem;
using namespace spikey;

namespace {

struct Workload {
  std::unique_ptr<host::Recording> recording;
  format::Metadata meta;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> batches;  // chunk ranges
  std::vector<std::vector<std::int16_t>> samples;                // per batch
  std::uint64_t bytes = 0;                                       // sample bytes
};

Workload g_work;
std::unique_ptr<cuda::BatchEncoder> g_encoder;

void prepare(const std::vector<fs::path>& inputs, const host::InputOptions& input, std::uint64_t gpu_memory, const std::string& level) {
  g_work.recording = std::make_unique<host::Recording>(host::Recording::open(inputs, input, [](const std::string&) {}));
  const fs::path archive = fs::temp_directory_path() / ("spikey-gpu-bench-" + std::to_string(::getpid()) + ".spikey");
  host::EncodeOptions options;
  options.level = level;
  options.threads = std::max(1u, std::thread::hardware_concurrency());
  options.verify = false;
  options.overwrite = true;
  const host::Stopwatch train;
  host::compress(*g_work.recording, archive, options);  // trains the predictors (CPU) and gives the reference archive
  std::fprintf(stderr, "CPU compress (training + encode, %u threads): %.2f s\n", options.threads, train.seconds());
  const format::ArchiveReader reader(archive);
  g_work.meta = reader.metadata();
  std::fprintf(stderr, "level %s: codec %s\n", level.c_str(), g_work.meta.codec.name.c_str());
  for (std::uint64_t first = 0; first < g_work.meta.chunk_count();) {
    std::uint64_t end = first, bytes = 0;
    while (end < g_work.meta.chunk_count()) {
      const auto more = host::batch_device_bytes(host::plan_batch(g_work.meta, end, end + 1));
      if (end > first && bytes + more > gpu_memory) break;
      bytes += more;
      ++end;
    }
    g_work.batches.emplace_back(first, end);
    first = end;
  }
  for (const auto& [first, end] : g_work.batches) {
    const auto plan = host::plan_batch(g_work.meta, first, end);
    g_work.samples.push_back(host::gather_batch(*g_work.recording, g_work.meta, plan, options.threads));
    g_work.bytes += plan.samples * 2;
  }
  // Parity before timing: every GPU payload equals the archive the CPU wrote.
  for (std::size_t b = 0; b < g_work.batches.size(); ++b) {
    auto plan = host::plan_batch(g_work.meta, g_work.batches[b].first, g_work.batches[b].second);
    const auto words = g_encoder->encode(plan, g_work.samples[b]);
    const auto encoded = host::assemble_batch(plan, words, g_work.samples[b]);
    for (std::size_t i = 0; i < encoded.size(); ++i)
      if (encoded[i].payload != reader.read_payload(g_work.batches[b].first + i))
        throw std::runtime_error("GPU payload of chunk " + std::to_string(g_work.batches[b].first + i) + " differs from the CPU's");
  }
  fs::remove(archive);
  std::fprintf(stderr, "parity: %zu chunks in %zu batches identical to the CPU encoder\n", static_cast<std::size_t>(g_work.meta.chunk_count()),
               g_work.batches.size());
}

void set_counters(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * g_work.bytes));
  state.counters["ceiling_GBps"] = cuda::memory_bandwidth_ceiling() / 1e9;
  state.counters["x_real_time"] = benchmark::Counter(g_work.meta.duration_seconds() * static_cast<double>(state.iterations()),
                                                     benchmark::Counter::kIsRate);
}

void BM_GpuEndToEnd(benchmark::State& state) {
  for (auto _ : state) {
    double seconds = 0;
    for (std::size_t b = 0; b < g_work.batches.size(); ++b) {
      auto plan = host::plan_batch(g_work.meta, g_work.batches[b].first, g_work.batches[b].second);
      const host::Stopwatch sw;
      const auto words = g_encoder->encode(plan, g_work.samples[b]);
      seconds += sw.seconds();
      benchmark::DoNotOptimize(words.data());
    }
    state.SetIterationTime(seconds);
  }
  set_counters(state);
}

void BM_GpuKernels(benchmark::State& state) {
  for (auto _ : state) {
    double seconds = 0;
    for (std::size_t b = 0; b < g_work.batches.size(); ++b) {
      auto plan = host::plan_batch(g_work.meta, g_work.batches[b].first, g_work.batches[b].second);
      g_encoder->encode(plan, g_work.samples[b]);
      seconds += g_encoder->last_timing().kernel_seconds;
    }
    state.SetIterationTime(seconds);
  }
  set_counters(state);
}

// One kernel stage (manual time from the events around it), to see which stage dominates.
void BM_GpuStage(benchmark::State& state, int stage) {
  for (auto _ : state) {
    double seconds = 0;
    for (std::size_t b = 0; b < g_work.batches.size(); ++b) {
      auto plan = host::plan_batch(g_work.meta, g_work.batches[b].first, g_work.batches[b].second);
      g_encoder->encode(plan, g_work.samples[b]);
      seconds += g_encoder->last_timing().stage_seconds[stage];
    }
    state.SetIterationTime(seconds);
  }
  set_counters(state);
}

void BM_CpuOneThread(benchmark::State& state) {
  for (auto _ : state) {
    const host::Stopwatch sw;
    for (std::uint64_t chunk = 0; chunk < g_work.meta.chunk_count(); ++chunk) {
      const auto present = format::channels_in_chunk(g_work.meta, g_work.meta.chunk_first_sample(chunk), g_work.meta.chunk_sample_count(chunk));
      std::vector<std::int16_t> samples;
      g_work.recording->gather(g_work.meta.chunk_first_sample(chunk), present, samples);
      benchmark::DoNotOptimize(host::encode_chunk(samples, present, g_work.meta).payload.data());
    }
    state.SetIterationTime(sw.seconds());
  }
  set_counters(state);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::vector<fs::path> inputs;
  host::InputOptions input;
  std::uint64_t gpu_memory = 4096ull << 20;
  std::string level = "fast";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--raw-channels" && i + 1 < argc) input.raw_channels = static_cast<std::uint32_t>(std::stoul(argv[++i]));
    else if (a == "--raw-rate" && i + 1 < argc) input.raw_rate = std::stod(argv[++i]);
    else if (a == "--gpu-memory" && i + 1 < argc) gpu_memory = std::stoull(argv[++i]) << 20;
    else if (a == "--level" && i + 1 < argc) level = argv[++i];
    else inputs.emplace_back(a);
  }
  try {
    if (cuda::device_count() == 0) throw std::runtime_error("no CUDA device");
    std::fprintf(stderr, "device: %s, DRAM ceiling %.0f GB/s\n", cuda::device_description().c_str(), cuda::memory_bandwidth_ceiling() / 1e9);
    g_encoder = std::make_unique<cuda::BatchEncoder>();
    prepare(inputs, input, gpu_memory, level);
  } catch (const std::exception& e) {
    std::cerr << "gpu_bench: " << e.what() << "\n";
    return 1;
  }
  benchmark::RegisterBenchmark("gpu_encode/end_to_end", BM_GpuEndToEnd)->UseManualTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("gpu_encode/kernels", BM_GpuKernels)->UseManualTime()->Unit(benchmark::kMillisecond);
  for (int stage = 0; stage < cuda::kStageCount; ++stage)
    benchmark::RegisterBenchmark((std::string("gpu_stage/") + cuda::kStageNames[stage]).c_str(), BM_GpuStage, stage)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("cpu_encode/one_thread", BM_CpuOneThread)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
