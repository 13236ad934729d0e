#include "common.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdio>
#include <iostream>

#if defined(SPIKEY_HAVE_CUDA)
#include "spikey/cuda/batch_encoder.hpp"
#include "spikey/cuda/device.hpp"
#include "spikey/cuda/network_training.hpp"
#include "spikey/cuda/training_sums.hpp"
#endif

namespace spikey::cli {

std::string fixed(double v, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

std::string megabytes(std::uint64_t bytes) { return fixed(static_cast<double>(bytes) / 1e6, 2) + " MB"; }

double ratio_of(std::uint64_t original, std::uint64_t archive) {
  return archive == 0 ? 0 : static_cast<double>(original) / static_cast<double>(archive);
}

void refuse_terminal_input() {
  if (::isatty(STDIN_FILENO)) throw UsageError("standard input (-) is a terminal: pipe or redirect the data in");
}

void refuse_terminal_output() {
  if (::isatty(STDOUT_FILENO)) throw UsageError("standard output (-o -) is a terminal: redirect it to a file or a pipe");
}

namespace {

// Copies everything from `in` to `out` (file descriptors) in large blocks; false on a read
// error, throws naming `destination` on a write error.
bool copy_stream(int in, int out, const std::string& destination) {
  std::vector<char> buffer(std::size_t{1} << 20);
  for (;;) {
    const ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(out, buffer.data() + done, static_cast<std::size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw std::runtime_error("cannot write to " + destination + ": " + std::strerror(errno));
      done += w;
    }
  }
}

}  // namespace

std::vector<char> read_standard_input_head(std::size_t bytes) {
  std::vector<char> head(bytes);
  std::size_t got = 0;
  while (got < bytes) {
    const ssize_t n = ::read(STDIN_FILENO, head.data() + got, bytes - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("cannot read standard input: ") + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  head.resize(got);
  return head;
}

void copy_standard_input(std::span<const char> head, const fs::path& file) {
  const int out = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) throw std::runtime_error("cannot create " + file.string() + ": " + std::strerror(errno));
  bool written = false;
  std::string error;
  try {
    written = ::write(out, head.data(), head.size()) == static_cast<ssize_t>(head.size());
    if (written && !copy_stream(STDIN_FILENO, out, file.string())) error = std::string("cannot read standard input: ") + std::strerror(errno);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (::close(out) != 0) written = false;
  if (!error.empty()) throw std::runtime_error(error);
  if (!written) throw std::runtime_error("cannot write to " + file.string() + ": " + std::strerror(errno));
}

void copy_to_standard_output(const fs::path& file, const std::string& what) {
  std::cout.flush();
  const int in = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw std::runtime_error("cannot read " + file.string() + ": " + std::strerror(errno));
  bool read_all = false;
  try {
    read_all = copy_stream(in, STDOUT_FILENO, "standard output (" + what + ")");
  } catch (...) {
    ::close(in);
    throw;
  }
  const int read_error = errno;  // before close() can change it
  ::close(in);
  if (!read_all) throw std::runtime_error("cannot read " + file.string() + ": " + std::strerror(read_error));
}

void check_archive_arguments(const std::vector<std::string>& archives) {
  const auto from_stdin = std::count(archives.begin(), archives.end(), "-");
  if (from_stdin > 1) throw UsageError("standard input (-) can be given once");
  if (from_stdin == 1) refuse_terminal_input();
}

void report_archives(std::size_t count, const std::string& done, std::size_t incomplete, const std::vector<std::string>& failed) {
  std::cerr << "spikey: " << count - failed.size() - incomplete << " of " << count << " archives " << done;
  if (incomplete > 0) std::cerr << ", " << incomplete << " incomplete (salvaged)";
  if (!failed.empty()) {
    std::cerr << ", " << failed.size() << " failed:";
    for (const auto& f : failed) std::cerr << " " << (f == "-" ? "standard input" : f);
  }
  std::cerr << "\n";
}

ArchiveArgument::ArchiveArgument(const std::string& argument) : path_(argument), name_(argument) {
  if (argument != "-") return;
  refuse_terminal_input();
  scratch_.emplace();
  path_ = scratch_->path() / "stdin.spikey";
  name_ = "standard input";
  scratch_->remove_on_signal(path_);
  copy_standard_input({}, path_);
}

void warn_archive_damage(const format::ArchiveReader& reader, const std::string& name) {
  for (const auto& d : reader.damage()) std::cerr << "spikey: warning: " << name << ": " << d << "; spikey salvage writes an undamaged archive\n";
}

const char* value_map_name(format::ValueMapKind kind) {
  switch (kind) {
    case format::ValueMapKind::affine:
      return "affine";
    case format::ValueMapKind::n1_10bit:
      return "n1_10bit";
    default:
      return "identity";
  }
}

json value_map_json(const format::ValueMap& m) {
  json j = {{"kind", value_map_name(m.kind)}};
  if (m.kind == format::ValueMapKind::affine) j["step"] = m.step, j["offset"] = m.offset;
  return j;
}

namespace {

// A number as the user wrote it, finite and in [low, high]; the message says what is allowed
// in plain terms (CLI11's own range check prints the limits of a double in full).
std::string check_number(const std::string& text, double low, double high, const std::string& what) {
  double value = 0;
  std::size_t used = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return "\"" + text + "\" is not a number";
  }
  if (used != text.size() || !std::isfinite(value)) return "\"" + text + "\" is not a finite number";
  if (!(value >= low && value <= high)) return "must be " + what + ", not " + text;
  return {};
}

}  // namespace

const CLI::Validator kPositiveSeconds(
    [](std::string& text) { return check_number(text, std::numeric_limits<double>::min(), 1e9, "a positive number of seconds"); },
    "SECONDS");
const CLI::Validator kSampleRateHz([](std::string& text) { return check_number(text, 1, 1e7, "a sample rate from 1 Hz to 10 MHz"); },
                                   "HZ");

void add_threads(CLI::App* cmd, CommonOptions& o) {
  cmd->add_option("--threads", o.threads, "worker threads (default: all cores)")->check(CLI::Range(1u, 1024u));
}

void add_recording_inputs(CLI::App* cmd, CompressArgs& a) {
  cmd->add_option("inputs", a.inputs,
                  "WAV files, SpikeGLX .bin (with its .meta), Open Ephys recording folders, Neuralynx .ncs, Open Ephys .continuous, Blackrock "
                  ".ns1-.ns6, NWB files or their folders, directories of WAVs, or raw files with --raw-channels")
      ->required();
  auto* raw_channels = cmd->add_option("--raw-channels", a.recording.raw_channels, "file inputs are headerless interleaved int16 with N channels")
                           ->check(CLI::Range(1u, 65535u));
  auto* raw_rate = cmd->add_option("--raw-rate", a.recording.raw_rate, "sample rate in Hz of raw inputs")->check(kSampleRateHz);
  raw_channels->needs(raw_rate);
  raw_rate->needs(raw_channels);
  cmd->add_option_function<std::string>(
         "--raw-format",
         [&a](const std::string& v) {
           a.recording.raw_unsigned = host::parse_raw_format(v).unsigned_samples;
           a.recording.raw_big_endian = host::parse_raw_format(v).big_endian;
         },
         "int16 (default), uint16 (offset binary, e.g. Intan auxiliary and ADC files), or their big-endian int16be, uint16be: restored byte for byte either way")
      ->check(CLI::IsMember({"int16", "uint16", "int16be", "uint16be"}))
      ->needs(raw_channels);
  cmd->add_option("--raw-offset", a.recording.raw_offset, "bytes before the samples of each raw file (a header), kept verbatim (default 0)")
      ->needs(raw_channels);
  cmd->add_flag("--repair-wav-size", a.recording.repair_wav_size,
                "WAVs whose header declares fewer data bytes than follow it (never finalized): take the samples to the end of the file");
}

void add_training_options(CLI::App* cmd, CompressArgs& a, CommonOptions& common) {
  add_recording_inputs(cmd, a);
  cmd->add_option("--chunk-seconds", a.recording.chunk_seconds, "chunk length the training sees (default 1, and at least 4096 samples)")
      ->check(kPositiveSeconds)
      ->each([&a](const std::string&) { a.recording.chunk_seconds_chosen = true; });
  cmd->add_option("--model-config", a.recording.model_config, "JSON with the predictor's architecture")->check(CLI::ExistingFile);
  cmd->add_flag("-f,--force", a.force, "overwrite an existing output");
  cmd->add_flag("-q,--quiet", common.quiet, "no summary");
  add_threads(cmd, common);
}

host::EncodeOptions encode_options(const CompressArgs& a, const CommonOptions& o) {
  host::EncodeOptions options = host::encode_options_for(a.recording, o.threads);
  options.verify = !a.no_verify;
  options.overwrite = a.force;
  return options;
}

host::Recording open_inputs(const CompressArgs& a, const CommonOptions& o) {
  const auto note = [&](const std::string& line) {
    if (!o.quiet) std::cerr << "spikey: " << line << "\n";
  };
  return host::Recording::open(std::vector<fs::path>(a.inputs.begin(), a.inputs.end()),
                               host::InputOptions{a.recording.raw_channels, a.recording.raw_rate, a.recording.raw_unsigned, a.recording.repair_wav_size,
                                                  a.recording.raw_big_endian, a.recording.raw_offset}, note);
}

void choose_backend(const CompressArgs& a, const CommonOptions& o, host::EncodeOptions& options, bool encodes) {
  if (a.backend == "cpu") return;
#if defined(SPIKEY_HAVE_CUDA)
  const bool have_device = cuda::device_count() > 0;
#else
  const bool have_device = false;
#endif
  if (!have_device) {
    if (a.backend == "cuda") {
#if defined(SPIKEY_HAVE_CUDA)
      throw std::runtime_error("--backend cuda: no CUDA device is available");
#else
      throw std::runtime_error("--backend cuda: this spikey was built without CUDA (configure with -DSPIKEY_CUDA=ON)");
#endif
    }
    static bool said = false;  // once per run (batch compresses many recordings)
    if (!o.quiet && !said) std::cerr << "spikey: no CUDA device; " << (encodes ? "compressing" : "training") << " on the CPU\n";
    said = true;
    return;
  }
#if defined(SPIKEY_HAVE_CUDA)
  cuda::start_context_early();  // while the survey reads the input
  options.mo_training.relu_trainer = [](const host::ReluEpochs& run, std::vector<float>& parameters) {
    cuda::train_relu_epochs_on_gpu(run, parameters);
  };
  // The GRU (level max) keeps the CPU trainer's team of threads: its CUDA trainer runs in one
  // block of a thread per window and measured slower than one CPU thread on an H200 (bench/RESULTS.md,
  // 2026-12-04 evening: 16 units 0.103 s against 0.067 s); its parity is still tested (test_gpu_training).
  auto normal_sums = std::make_shared<cuda::NormalSumsExecutor>();
  options.mo_training.normal_sums = [normal_sums](host::NormalSumsBatch& batch) { normal_sums->run(batch); };
  options.mo_training.block_sums = [normal_sums](host::BatchPlan& plan, std::span<const std::int16_t> samples, host::BlockSums& sums) {
    normal_sums->block_sums(plan, samples, sums);
  };
  const auto correlations = [](host::SignatureCorrelations& job) { cuda::correlate_signatures_on_gpu(job); };
  options.mo_training.correlations = correlations;
  options.training.correlations = correlations;
  auto encoder = std::make_shared<cuda::BatchEncoder>();
  // Every batch for the GPU is gathered into its page-locked pool: uploaded from where it lies.
  options.mo_training.sample_memory = encoder->memory();
  options.cm_training.sample_memory = encoder->memory();
  options.batch_sample_memory = encoder->memory();
  options.mo_training.batch_predictor = [encoder](host::BatchPlan& plan, std::span<const std::int16_t> samples) { encoder->predict(plan, samples); };
  options.cm_training.context_counts = [encoder](host::BatchPlan& plan, std::span<const std::int16_t> samples, host::ContextCounts& counts) {
    encoder->count_context(plan, samples, counts);
  };
  options.backend = "cuda: " + cuda::device_description();
  if (!encodes) return;
  if (a.recording.level == "max" && a.recording.model.empty() && !o.quiet)
    std::cerr << "spikey: level max has no GPU encoder yet; its chunks are encoded on the CPU\n";
  options.batch_executor = [encoder](host::BatchPlan& plan, std::span<const std::int16_t> samples) { return encoder->encode(plan, samples); };
  options.batch_memory_bytes = a.gpu_memory_mib << 20;
#else
  (void)options;  // without CUDA there is no executor to install
#endif
}

}  // namespace spikey::cli
