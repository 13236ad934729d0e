// Batch encoder throughput: the chunks of a recording encoded in memory-bounded batches by the
// CUDA encoder (or, with --executor cpu, by the CPU executor of the same stages), next to the CPU
// encoder on one thread and the device's copy ceilings. Every batch is first checked byte for
// byte against the CPU encoder's archive (that run is also the warm-up); then the whole
// recording is encoded a fixed number of times (--iterations) and the median of each figure is
// reported: end to end (upload, kernels, download, merge), with the payload assembly on the host,
// kernels alone and each kernel stage (CUDA events). Bytes are original sample bytes.
//
//   gpu_bench DIR_OR_FILES... [--level fast|default | --codec NAME] [--raw-channels N --raw-rate HZ]
//             [--gpu-memory MIB] [--iterations N] [--executor cuda|cpu] [--heap-samples] [--json FILE]
//
// The CUDA executor's batches are gathered into its page-locked pool, as the CLI does;
// --heap-samples gathers them into the heap instead, so that the executor stages them (its
// "stage in" row) before their upload: the two side by side show what the pool saves.
//
// Training (least squares, topology, network) runs on the CPU and is timed once, as part of the
// reference compress; the timed loop encodes the chunks. For the MiddleOut codecs the least-squares
// pass of that training is kept (its batches, training_batch.hpp) and timed too: the executor's
// sums against the CPU's, then N timed passes. The run is bounded: one parity pass,
// N timed passes, one single-thread CPU pass and, on a GPU, three 1 GiB copies per direction.
// SPIKEY_GPU_ADAPT (warp, half_warp, thread) picks the adapting variant's form for either
// executor; the report names it.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "spikey/cuda/batch_encoder.hpp"
#include "spikey/cuda/device.hpp"
#include "spikey/cuda/training_sums.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/host/batch_encoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/stopwatch.hpp"

namespace fs = std::filesystem;
using namespace spikey;
using nlohmann::json;

namespace {

struct Options {
  std::vector<fs::path> inputs;
  host::InputOptions input;
  std::uint64_t gpu_memory = 4096ull << 20;
  std::string level = "fast";
  std::string codec;  // a codec with a batch encoder (lpc1, mo1-mo3, mt1-mt3); empty: the level's
  std::string executor = "cuda";
  bool heap_samples = false;
  int iterations = 3;
  fs::path json_path;
};

struct Batch {
  std::uint64_t first = 0, end = 0;  // chunk range
  host::GatheredSamples samples;
};

struct Workload {
  format::Metadata meta;
  std::vector<Batch> batches;
  std::uint64_t bytes = 0;  // sample bytes
  double cpu_compress_seconds = 0;
  std::vector<std::pair<std::string, double>> cpu_compress_phases;
  double gather_seconds = 0;  // planning and gathering every batch's samples once, all threads
  std::vector<host::NormalSumsBatch> training;  // the least-squares pass's batches, sums filled on the CPU
  std::uint64_t training_bytes = 0;
};

// Runs a least-squares batch: the GPU's executor, or the CPU executor.
using SumsExecutor = std::function<void(host::NormalSumsBatch& batch, double* kernel_seconds)>;

// One timed pass over every batch.
struct Pass {
  double encode = 0;    // executor wall time: upload, kernels, download, merge
  double assemble = 0;  // payloads and checksums from the words, on the host's threads
  double kernels = 0;
  double stages[cuda::kStageCount] = {};
  double host_parts[cuda::kHostPartCount] = {};  // the executor's own host time, part by part
  double training = 0;          // the least-squares batches, wall time
  double training_kernels = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// `memory`: where the batches (and the least-squares batches) are gathered, as the CLI does: the
// CUDA encoder's page-locked pool; null (the CPU executor): the heap.
Workload prepare(const host::Recording& recording, const Options& o, const host::BatchExecutor& execute, const SumsExecutor& sums,
                 const std::shared_ptr<host::HostMemoryPool>& memory) {
  Workload w;
  const fs::path archive = fs::temp_directory_path() / ("spikey-gpu-bench-" + std::to_string(::getpid()) + ".spikey");
  host::EncodeOptions options;
  options.level = o.level;
  options.codec = o.codec;  // empty: the level's
  options.threads = std::max(1u, std::thread::hardware_concurrency());
  options.verify = false;
  options.overwrite = true;
  options.mo_training.sample_memory = memory;
  options.mo_training.normal_sums = [&w, threads = options.threads](host::NormalSumsBatch& batch) {
    host::run_normal_sums_on_cpu(batch, threads);  // the trainer's own sums (tests/test_training_batch.cpp)
    w.training.push_back(batch);
    w.training_bytes += batch.samples.size() * 2;
  };
  const host::Stopwatch train;
  const auto reference = host::compress(recording, archive, options);  // trains the predictors (CPU) and gives the reference archive
  w.cpu_compress_seconds = train.seconds();
  w.cpu_compress_phases = reference.phase_seconds;
  for (const auto& [phase, seconds] : reference.phase_seconds) std::fprintf(stderr, "reference phase %-34s %8.3f s\n", phase.c_str(), seconds);
  const format::ArchiveReader reader(archive);
  w.meta = reader.metadata();
  std::fprintf(stderr, "reference: CPU compress (training + encode, %u threads) %.2f s; level %s: codec %s\n", options.threads,
               w.cpu_compress_seconds, o.level.c_str(), w.meta.codec.name.c_str());
  if (!host::batch_encodes(w.meta.codec.name)) throw std::runtime_error("codec " + w.meta.codec.name + " has no batch encoder");
  for (std::uint64_t first = 0; first < w.meta.chunk_count();) {
    std::uint64_t end = first, bytes = 0;
    while (end < w.meta.chunk_count()) {
      const auto more = host::batch_device_bytes(host::plan_batch(w.meta, end, end + 1));
      if (end > first && bytes + more > o.gpu_memory) break;
      bytes += more;
      ++end;
    }
    Batch batch{first, end, {}};
    const host::Stopwatch gather;
    const auto plan = host::plan_batch(w.meta, first, end);
    batch.samples = host::gather_batch(recording, w.meta, plan, options.threads, memory);
    w.gather_seconds += gather.seconds();
    w.bytes += plan.samples * 2;
    w.batches.push_back(std::move(batch));
    first = end;
  }
  // Parity before timing (and the warm-up): every payload equals the archive the CPU wrote.
  for (const Batch& b : w.batches) {
    auto plan = host::plan_batch(w.meta, b.first, b.end);
    const auto words = execute(plan, b.samples);
    const auto encoded = host::assemble_batch(plan, words, b.samples, options.threads);
    for (std::size_t i = 0; i < encoded.size(); ++i)
      if (encoded[i].payload != reader.read_payload(b.first + i))
        throw std::runtime_error("parity: the payload of chunk " + std::to_string(b.first + i) + " differs from the CPU encoder's");
  }
  for (std::size_t i = 0; i < w.training.size(); ++i) {
    host::NormalSumsBatch batch = w.training[i];
    sums(batch, nullptr);
    if (batch.sums != w.training[i].sums) throw std::runtime_error("parity: the least-squares sums of training batch " + std::to_string(i) + " differ");
  }
  fs::remove(archive);
  std::fprintf(stderr, "parity: %zu least-squares training batches identical to the CPU's\n", w.training.size());
  std::fprintf(stderr, "parity: %llu chunks in %zu batches identical to the CPU encoder\n",
               static_cast<unsigned long long>(w.meta.chunk_count()), w.batches.size());
  return w;
}

Pass timed_pass(const Workload& w, const host::BatchExecutor& execute, const cuda::BatchEncoder* gpu, const SumsExecutor& sums, unsigned threads) {
  Pass pass;
  for (const auto& training : w.training) {
    host::NormalSumsBatch batch = training;
    const host::Stopwatch run;
    double kernels = 0;
    sums(batch, &kernels);
    pass.training += run.seconds();
    pass.training_kernels += kernels;
  }
  for (const Batch& b : w.batches) {
    auto plan = host::plan_batch(w.meta, b.first, b.end);
    const host::Stopwatch encode;
    const auto words = execute(plan, b.samples);
    pass.encode += encode.seconds();
    const host::Stopwatch assemble;
    const auto encoded = host::assemble_batch(plan, words, b.samples, threads);
    pass.assemble += assemble.seconds();
    if (encoded.size() != b.end - b.first) throw std::logic_error("assembly lost chunks");
    if (gpu) {
      pass.kernels += gpu->last_timing().kernel_seconds;
      for (int s = 0; s < cuda::kStageCount; ++s) pass.stages[s] += gpu->last_timing().stage_seconds[s];
      for (int h = 0; h < cuda::kHostPartCount; ++h) pass.host_parts[h] += gpu->last_timing().host_seconds[h];
    }
  }
  return pass;
}

// The chunk-by-chunk CPU encoder on one thread, once over the whole recording.
double cpu_one_thread_seconds(const host::Recording& recording, const format::Metadata& meta) {
  const host::Stopwatch sw;
  std::vector<std::int16_t> samples;  // kept from chunk to chunk
  for (std::uint64_t chunk = 0; chunk < meta.chunk_count(); ++chunk) {
    const auto present = format::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
    recording.gather(meta.chunk_first_sample(chunk), present, samples);
    if (host::encode_chunk(samples, present, meta).payload.empty()) throw std::logic_error("empty payload");
  }
  return sw.seconds();
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--raw-channels" && has_value) o.input.raw_channels = static_cast<std::uint32_t>(std::stoul(argv[++i]));
    else if (a == "--raw-rate" && has_value) o.input.raw_rate = std::stod(argv[++i]);
    else if (a == "--gpu-memory" && has_value) o.gpu_memory = std::stoull(argv[++i]) << 20;
    else if (a == "--level" && has_value) o.level = argv[++i];
    else if (a == "--codec" && has_value) o.codec = argv[++i];
    else if (a == "--iterations" && has_value) o.iterations = std::max(1, std::stoi(argv[++i]));
    else if (a == "--executor" && has_value) o.executor = argv[++i];
    else if (a == "--heap-samples") o.heap_samples = true;
    else if (a == "--json" && has_value) o.json_path = argv[++i];
    else if (a.starts_with("--")) throw std::invalid_argument("unknown option " + a);
    else o.inputs.emplace_back(a);
  }
  if (o.inputs.empty()) throw std::invalid_argument("no input");
  if (o.executor != "cuda" && o.executor != "cpu") throw std::invalid_argument("--executor is cuda or cpu");
  return o;
}

int run(const Options& o) {
  json report = {{"level", o.level},
                 {"executor", o.executor},
                 {"iterations", o.iterations},
                 {"adapting_form", host::adapting_form_name(host::adapting_form_from_environment())}};
  std::unique_ptr<cuda::BatchEncoder> gpu;
  host::BatchExecutor execute;
  std::shared_ptr<cuda::NormalSumsExecutor> gpu_sums;
  SumsExecutor sums;
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  if (o.executor == "cuda") {
    if (cuda::device_count() == 0) throw std::runtime_error("no CUDA device (--executor cpu times the CPU executor instead)");
    report["device"] = cuda::device_description();
    gpu = std::make_unique<cuda::BatchEncoder>();
    execute = [&gpu](host::BatchPlan& plan, std::span<const std::int16_t> samples) { return gpu->encode(plan, samples); };
    gpu_sums = std::make_shared<cuda::NormalSumsExecutor>();
    sums = [gpu_sums](host::NormalSumsBatch& batch, double* kernel_seconds) { gpu_sums->run(batch, kernel_seconds); };
  } else {
    report["device"] = "CPU executor, " + std::to_string(threads) + " threads";
    execute = [threads, form = host::adapting_form_from_environment()](host::BatchPlan& plan, std::span<const std::int16_t> samples) {
      return host::run_batch_on_cpu(plan, samples, threads, form);
    };
    sums = [threads](host::NormalSumsBatch& batch, double* kernel_seconds) {
      const host::Stopwatch run;
      host::run_normal_sums_on_cpu(batch, threads);
      if (kernel_seconds != nullptr) *kernel_seconds = run.seconds();
    };
  }
  std::fprintf(stderr, "executor: %s\n", report["device"].get<std::string>().c_str());
  const auto recording = host::Recording::open(o.inputs, o.input, [](const std::string&) {});
  const bool pooled = gpu != nullptr && !o.heap_samples;
  const Workload w = prepare(recording, o, execute, sums, pooled ? gpu->memory() : nullptr);
  report["samples_in_page_locked_pool"] = pooled;
  std::vector<Pass> passes;
  for (int i = 0; i < o.iterations; ++i) passes.push_back(timed_pass(w, execute, gpu.get(), sums, threads));
  const auto median_of = [&](auto field) {
    std::vector<double> v;
    for (const Pass& p : passes) v.push_back(field(p));
    return median(v);
  };
  const double gb = static_cast<double>(w.bytes) / 1e9, duration = w.meta.duration_seconds();
  const double cpu_seconds = cpu_one_thread_seconds(recording, w.meta);
  report["codec"] = w.meta.codec.name;
  report["sample_bytes"] = w.bytes;
  report["chunks"] = w.meta.chunk_count();
  report["batches"] = w.batches.size();
  report["duration_seconds"] = duration;
  report["cpu_compress_seconds_all_threads"] = w.cpu_compress_seconds;
  for (const auto& [phase, seconds] : w.cpu_compress_phases) report["cpu_compress_phases"].push_back({{"phase", phase}, {"seconds", seconds}});
  report["parity"] = true;

  std::printf("%-26s %10s %10s %12s\n", "what", "ms", "GB/s", "x real time");
  const auto row = [&](const std::string& name, double seconds) {
    report["seconds"][name] = seconds;
    std::printf("%-26s %10.2f %10.3f %12.0f\n", name.c_str(), seconds * 1e3, seconds > 0 ? gb / seconds : 0.0,
                seconds > 0 ? duration / seconds : 0.0);
  };
  row("encode", median_of([](const Pass& p) { return p.encode; }));
  row("encode+assemble", median_of([](const Pass& p) { return p.encode + p.assemble; }));
  row("assemble (host)", median_of([](const Pass& p) { return p.assemble; }));
  row("plan and gather (host, once)", w.gather_seconds);
  if (gpu) {
    row("kernels", median_of([](const Pass& p) { return p.kernels; }));
    for (int s = 0; s < cuda::kStageCount; ++s) row(std::string("stage ") + cuda::kStageNames[s], median_of([s](const Pass& p) { return p.stages[s]; }));
    // Where the executor's wall time goes on the host (it waits for the kernels in "wait").
    for (int h = 0; h < cuda::kHostPartCount; ++h)
      row(std::string("executor: ") + cuda::kHostPartNames[h], median_of([h](const Pass& p) { return p.host_parts[h]; }));
  }
  row("cpu encoder, 1 thread", cpu_seconds);
  if (!w.training.empty()) {
    // GB/s of the training samples the least-squares pass reads (not of the whole recording).
    const double training_gb = static_cast<double>(w.training_bytes) / 1e9;
    const auto training_row = [&](const std::string& name, double seconds) {
      report["seconds"][name] = seconds;
      std::printf("%-26s %10.2f %10.3f %12s\n", name.c_str(), seconds * 1e3, seconds > 0 ? training_gb / seconds : 0.0, "-");
    };
    report["training_sample_bytes"] = w.training_bytes;
    report["training_batches"] = w.training.size();
    training_row("least squares (training)", median_of([](const Pass& p) { return p.training; }));
    training_row(gpu ? "least squares, kernels" : "least squares, executor", median_of([](const Pass& p) { return p.training_kernels; }));
  }
  if (gpu) {
    const auto rates = cuda::measure_copy_rates(std::size_t{1} << 30, 3);
    report["ceilings_gb_per_s"] = {{"dram_theoretical", cuda::memory_bandwidth_ceiling() / 1e9},
                                   {"device_to_device_copy", rates.device_to_device / 1e9},
                                   {"host_to_device_pinned", rates.host_to_device / 1e9},
                                   {"device_to_host_pinned", rates.device_to_host / 1e9}};
    std::printf("ceilings GB/s: DRAM %.0f (theoretical), device copy %.0f (read+write), pinned H2D %.1f, D2H %.1f\n",
                cuda::memory_bandwidth_ceiling() / 1e9, rates.device_to_device / 1e9, rates.host_to_device / 1e9, rates.device_to_host / 1e9);
  }
  std::printf("codec %s, %.1f MB of samples, %.1f s of recording, %zu batches, median of %d passes\n", w.meta.codec.name.c_str(),
              static_cast<double>(w.bytes) / 1e6, duration, w.batches.size(), o.iterations);
  if (!o.json_path.empty()) std::ofstream(o.json_path) << report.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "gpu_bench: " << e.what() << "\n";
    return 1;
  }
}
