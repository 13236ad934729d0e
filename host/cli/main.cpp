// spikey: command-line front end. Exit status: 0 success, 1 failure (bad input, corrupt
// archive, verify mismatch, I/O error), 2 wrong usage.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include "progress.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/codecs/mo/mo_predictor.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/manifest.hpp"
#include "spikey/host/mapped_file.hpp"
#include "spikey/host/model.hpp"
#include "spikey/host/output_file.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/salvage.hpp"
#include "spikey/host/stopwatch.hpp"
#include "spikey/host/window.hpp"
#include "spikey/version.hpp"

#if defined(SPIKEY_HAVE_CUDA)
#include "spikey/cuda/batch_encoder.hpp"
#include "spikey/cuda/device.hpp"
#include "spikey/cuda/network_training.hpp"
#endif

namespace fs = std::filesystem;
using nlohmann::json;
using namespace spikey;

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Wrong options detected after parsing (e.g. contradicting flags).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string fixed(double v, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

std::string megabytes(std::uint64_t bytes) { return fixed(static_cast<double>(bytes) / 1e6, 2) + " MB"; }

double ratio_of(std::uint64_t original, std::uint64_t archive) {
  return archive == 0 ? 0 : static_cast<double>(original) / static_cast<double>(archive);
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

struct CommonOptions {
  unsigned threads = host::default_thread_count();
  bool quiet = false;
  bool json_output = false;
};

void add_threads(CLI::App* cmd, CommonOptions& o) {
  cmd->add_option("--threads", o.threads, "worker threads (default: all cores)")->check(CLI::Range(1u, 1024u));
}

// ---- compress -----------------------------------------------------------------------------

struct CompressArgs {
  std::vector<std::string> inputs;
  std::string output;
  std::string level = "default";
  double chunk_seconds = 1.0;
  bool force = false;
  bool no_verify = false;
  std::optional<std::uint32_t> raw_channels;
  std::optional<double> raw_rate;
  std::string backend = "auto";
  std::uint64_t gpu_memory_mib = 4096;
  std::string model;         // --model FILE.spkm
  std::string topology;      // --topology FILE.json
  std::string model_config;  // --model-config FILE.json
  std::uint32_t neighbours = 8;  // topology command
};

// --model-config: the architecture of level default's predictor (and the history order of
// level fast's). Unknown keys are errors, so a typo never silently falls back to a default.
void apply_model_config(const std::string& path, host::EncodeOptions& options) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read model config " + path);
  const json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw UsageError("--model-config " + path + ": not a JSON object");
  host::MoTrainingOptions& mo = options.mo_training;
  const auto integer = [&](const std::string& key, int lo, int hi) {
    const json& v = j.at(key);
    if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
      throw UsageError("--model-config: " + key + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
    return static_cast<int>(v.get<long long>());
  };
  for (const auto& [key, value] : j.items()) {
    if (key == "max_order") mo.max_order = options.training.max_order = integer(key, 0, format::kMaxMoOrder);
    else if (key == "wavelet_levels") mo.wavelet_levels = integer(key, 0, format::kMaxWaveletLevels);
    else if (key == "max_sources") mo.max_sources = integer(key, 0, format::kMaxMoSources);
    else if (key == "source_half_window") mo.half_window = integer(key, 0, format::kMaxMoHalfWindow);
    else if (key == "max_depth") mo.max_depth = integer(key, 1, 1 << 20);
    else if (key == "network_hidden") mo.network_hidden = integer(key, 0, format::kMaxNetHidden);
    else if (key == "network_projector") {
      if (!value.is_string() || (value.get<std::string>() != "mlp" && value.get<std::string>() != "gru" && value.get<std::string>() != "best"))
        throw UsageError("--model-config: network_projector must be \"mlp\", \"gru\" or \"best\"");
      mo.network_projector = value.get<std::string>();
    } else if (key == "gru_hidden") mo.gru_hidden = integer(key, 1, format::kMaxGruHidden);
    else if (key == "network_min_saving") {
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 1)
        throw UsageError("--model-config: network_min_saving must be a number in 0..1");
      mo.network_min_saving = value.get<double>();
    } else if (key == "network_seed") mo.network_seed = static_cast<std::uint64_t>(integer(key, 0, 1 << 30));
    else if (key == "topology_neighbours") mo.topology_neighbours = integer(key, 1, 64);
    else if (key == "lms_step") mo.lms_step = options.training.lms_step = integer(key, 0, format::kMaxLmsStep);
    else if (key == "training_samples") mo.max_training_samples = options.training.max_training_samples = static_cast<std::uint64_t>(integer(key, 1, 1 << 30));
    else throw UsageError("--model-config: unknown key \"" + key + "\"");
  }
}

host::EncodeOptions encode_options(const CompressArgs& a, const CommonOptions& o) {
  host::EncodeOptions options;
  options.level = a.level;
  options.chunk_seconds = a.chunk_seconds;
  options.threads = o.threads;
  options.verify = !a.no_verify;
  options.overwrite = a.force;
  if (!a.model_config.empty()) apply_model_config(a.model_config, options);
  if (!a.topology.empty()) options.topology = std::make_shared<host::Topology>(host::Topology::load(a.topology));
  if (!a.model.empty()) options.model = std::make_shared<host::Model>(host::Model::load(a.model));
  return options;
}

host::Recording open_inputs(const CompressArgs& a, const CommonOptions& o) {
  const auto note = [&](const std::string& line) {
    if (!o.quiet) std::cerr << "spikey: " << line << "\n";
  };
  return host::Recording::open(std::vector<fs::path>(a.inputs.begin(), a.inputs.end()), host::InputOptions{a.raw_channels, a.raw_rate}, note);
}

// --backend: "cuda" needs a device (and a CUDA build); "auto" uses one when present and
// otherwise says so and runs on the CPU. On the GPU: the network stage's training and,
// when `encodes`, the chunks' encoding (the archive's bytes are the CPU's either way).
void choose_backend(const CompressArgs& a, const CommonOptions& o, host::EncodeOptions& options, bool encodes = true) {
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
  options.mo_training.relu_trainer = [](const host::ReluEpochs& run, std::vector<float>& parameters) {
    cuda::train_relu_epochs_on_gpu(run, parameters);
  };
  options.mo_training.gru_trainer = [](const host::GruEpochs& run, std::vector<float>& parameters) {
    cuda::train_gru_epochs_on_gpu(run, parameters);
  };
  options.backend = "cuda: " + cuda::device_description();
  if (!encodes) return;
  if (a.level == "max" && a.model.empty() && !o.quiet)
    std::cerr << "spikey: level max has no GPU encoder yet; its chunks are encoded on the CPU\n";
  auto encoder = std::make_shared<cuda::BatchEncoder>();
  options.batch_executor = [encoder](host::BatchPlan& plan, std::span<const std::int16_t> samples) { return encoder->encode(plan, samples); };
  options.batch_memory_bytes = a.gpu_memory_mib << 20;
#else
  (void)options;  // without CUDA there is no executor to install
#endif
}

fs::path default_archive_name(const std::vector<std::string>& inputs) {
  if (inputs.size() != 1) throw UsageError("several inputs need an explicit -o ARCHIVE");
  fs::path p(inputs.front());
  while (p.has_parent_path() && !p.has_filename()) p = p.parent_path();  // "dir/" -> "dir"
  return fs::path(p.string() + ".spikey");
}

int run_compress(const CompressArgs& a, const CommonOptions& o) {
  const fs::path output = a.output.empty() ? default_archive_name(a.inputs) : fs::path(a.output);
  host::EncodeOptions options = encode_options(a, o);
  const host::Recording recording = open_inputs(a, o);
  cli::ProgressBar bar(o.quiet);
  choose_backend(a, o, options);
  options.progress = [&](const std::string& stage, std::uint64_t done, std::uint64_t total) { bar.update(stage, done, total); };
  const host::CompressReport r = host::compress(recording, output, options);
  bar.clear();
  const double ratio = ratio_of(r.original_bytes, r.archive_bytes);
  const double encode_mb_s = r.encode_seconds > 0 ? static_cast<double>(r.original_bytes) / 1e6 / r.encode_seconds : 0;
  if (o.json_output) {
    json j = {{"archive", output.string()},
              {"sources", r.sources},
              {"channels", r.channels},
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
              {"level", a.level}};
    std::cout << j.dump(2) << "\n";
  } else if (!o.quiet) {
    std::cerr << "spikey: " << output.string() << ": " << r.sources << " file(s), " << r.channels << " channel(s), "
              << fixed(r.duration_seconds, 3) << " s; " << megabytes(r.original_bytes) << " -> " << megabytes(r.archive_bytes)
              << ", ratio " << fixed(ratio, 3) << " (" << r.codec << "), " << fixed(encode_mb_s, 1) << " MB/s"
              << (r.verified ? ", verified (" + fixed(r.verify_seconds, 2) + " s)" : ", not verified")
              << (r.backend == "cpu" ? "" : ", on " + r.backend) << "\n";
  }
  return 0;
}

// ---- topology and train -------------------------------------------------------------------

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

int run_train(const CompressArgs& a, const CommonOptions& o) {
  host::EncodeOptions options = encode_options(a, o);
  const host::Recording recording = open_inputs(a, o);
  choose_backend(a, o, options, false);
  if (!a.force && fs::exists(a.output)) throw std::runtime_error(a.output + " already exists (use -f to overwrite)");
  const auto surveyed = host::survey_recording(recording, options);
  const host::Model model = host::train_model(recording, surveyed, host::codec_for_level(a.level), options);
  model.save(a.output);
  if (!o.quiet)
    std::cerr << "spikey: " << a.output << ": " << model.codec.name << " model of " << model.predictors.size() << " channel(s)\n";
  return 0;
}

// ---- decompress ---------------------------------------------------------------------------

int run_decompress(const std::string& archive, const std::string& output, bool force, bool fill_lost, const CommonOptions& o) {
  const format::ArchiveReader reader(archive);
  cli::ProgressBar bar(o.quiet);
  host::RestoreOptions options;
  options.output_directory = output;
  options.force = force;
  options.fill_lost = fill_lost;
  options.threads = o.threads;
  options.progress = [&](std::uint64_t done, std::uint64_t total) { bar.update("restore", done, total); };
  // Refuse before decoding anything if a destination exists.
  if (!force) {
    for (const auto& s : reader.metadata().sources) {
      std::error_code ec;
      if (fs::exists(fs::symlink_status(options.output_directory / s.path, ec)))
        throw std::runtime_error((options.output_directory / s.path).string() + " already exists (use -f to overwrite)");
    }
  }
  const host::RestoreReport r = host::restore_sources(reader, options);
  bar.clear();
  if (!r.mismatched_files.empty())
    throw format::ArchiveError("restored " + r.mismatched_files.front() + " does not match the original's checksum (" +
                               std::to_string(r.mismatched_files.size()) + " file(s) not written)");
  for (const auto& f : r.incomplete_files)
    std::cerr << "spikey: warning: " << f << " had samples in lost chunks; they were written as zeros\n";
  if (!o.quiet)
    std::cerr << "spikey: restored " << r.files << " file(s), " << megabytes(r.bytes) << " to " << output << " in "
              << fixed(r.seconds, 2) << " s\n";
  return 0;
}

// ---- extract ------------------------------------------------------------------------------

struct ExtractArgs {
  std::string archive;
  std::string output;
  std::optional<double> start_seconds, end_seconds;
  std::optional<std::uint64_t> start_sample, end_sample;
  std::string channels;
  bool force = false;
};

int run_extract(const ExtractArgs& a, const CommonOptions& o) {
  const auto file_format = host::window_format_for(a.output);
  if (a.start_seconds && a.start_sample) throw UsageError("use --start or --start-sample, not both");
  if (a.end_seconds && a.end_sample) throw UsageError("use --end or --end-sample, not both");
  const format::ArchiveReader reader(a.archive);
  const format::Metadata& meta = reader.metadata();
  std::vector<std::uint32_t> channels;
  if (!a.channels.empty()) {
    std::vector<std::string> names;
    for (const auto& c : meta.channels) names.push_back(c.name);
    channels = host::parse_channel_list(a.channels, names);
  }
  const double rate = host::window_rate(meta, channels);  // seconds count at the channels' own rate
  std::uint64_t start = 0, end = meta.total_samples;
  if (a.start_seconds) start = host::seconds_to_sample(*a.start_seconds, rate);
  if (a.start_sample) start = *a.start_sample;
  if (a.end_seconds) end = host::seconds_to_sample(*a.end_seconds, rate);
  if (a.end_sample) end = *a.end_sample;
  const host::Window window = host::resolve_window(meta, start, end, channels);
  host::write_window(reader, window, file_format, a.output, a.force, o.threads);
  if (!o.quiet) {
    std::cerr << "spikey: wrote " << window.frames() << " samples x " << window.channels.size() << " channel(s) (samples "
              << window.start << ".." << window.end - 1 << ") to " << a.output;
    if (window.clipped) std::cerr << " (end clipped to the channels' length)";
    std::cerr << "\n";
  }
  return 0;
}

// ---- info ---------------------------------------------------------------------------------

// " (1 open_ephys, 3 side_file)" when the archive holds more than one kind of file.
std::string source_kinds_text(const format::Metadata& m) {
  std::map<std::string, std::size_t> kinds;
  for (const auto& s : m.sources) ++kinds[format::source_kind_name(s.kind)];
  if (kinds.size() < 2) return "";
  std::string text;
  for (const auto& [kind, count] : kinds) text += (text.empty() ? " (" : ", ") + std::to_string(count) + " " + kind;
  return text + ")";
}

// "; 384 channel(s) at 2500 Hz" for streams recorded at other rates than the archive's.
std::string other_rates_text(const format::Metadata& m) {
  std::map<double, std::size_t> rates;
  for (std::size_t c = 0; c < m.channels.size(); ++c)
    if (m.channel_rate(c) != m.sample_rate) ++rates[m.channel_rate(c)];
  std::ostringstream text;
  for (const auto& [rate, count] : rates) text << "; " << count << " channel(s) at " << rate << " Hz";
  return text.str();
}

int run_info(const std::string& archive, const CommonOptions& o) {
  const format::ArchiveReader reader(archive);
  const format::Metadata& m = reader.metadata();
  const std::uint64_t original = m.original_bytes();
  const double ratio = ratio_of(original, reader.file_size());
  std::uint64_t map_counts[3] = {0, 0, 0};
  std::uint64_t linked = 0, taps = 0, source_links = 0, wavelet = 0, sync_channels = 0, network = 0;
  for (const auto& c : m.channels) {
    sync_channels += c.sync;
    ++map_counts[static_cast<int>(c.value_map.kind)];
    linked += c.predictor.source_channel() >= 0;
    source_links += c.predictor.sources.size();
    wavelet += !c.predictor.wavelet_weights.empty();
    network += c.predictor.uses_network();
    taps += c.predictor.history_weights.size();
  }
  const format::CodecRow& row = format::codec_row(m.codec.name);
  const bool lpc = row.has_predictors();
  if (o.json_output) {
    json channels = json::array();
    for (const auto& c : m.channels) {
      json cj = {{"name", c.name}, {"source", c.source}, {"length", c.length}, {"value_map", value_map_json(c.value_map)}};
      if (lpc) {
        json sources = json::array();
        for (const auto& s : c.predictor.sources) sources.push_back(s.channel);
        cj["predictor"] = {{"order", c.predictor.history_weights.size()},
                           {"wavelet_features", !c.predictor.wavelet_weights.empty()},
                           {"network", c.predictor.uses_network()},
                           {"sources", sources},
                           {"lms_step", c.predictor.lms_step}};
      }
      if (c.bit_volts) cj["bit_volts"] = *c.bit_volts;
      if (!c.units.empty()) cj["units"] = c.units;
      cj["sync"] = c.sync;
      cj["sample_rate"] = m.channel_rate(static_cast<std::size_t>(&c - m.channels.data()));
      channels.push_back(std::move(cj));
    }
    json sources = json::array();
    for (const auto& s : m.sources)
      sources.push_back({{"path", s.path},
                         {"kind", format::source_kind_name(s.kind)},
                         {"sample_rate", s.channel_count > 0 ? (s.sample_rate > 0 ? s.sample_rate : m.sample_rate) : 0.0},
                         {"size", s.size},
                         {"checksum", format::checksum_hex(s.checksum)},
                         {"channels", s.channel_count},
                         {"frames", s.frames}});
    json codec = {{"name", m.codec.name}, {"partition_size", m.codec.partition_size}};
    if (lpc) codec["weight_shift"] = m.codec.weight_shift;
    if (row.predictor == format::PredictorKind::middle_out) codec["source_half_window"] = m.codec.source_half_window, codec["wavelet_levels"] = m.codec.wavelet_levels;
    if (m.codec.network) {
      codec["network_hidden"] = m.codec.network->hidden;
      codec["network_projector"] = m.codec.network->projector == format::NetProjector::kGru ? "gru" : "mlp";
    }
    if (row.coder == format::ResidualCoder::context_rans) codec["prior_period"] = m.codec.cm_prior.size(), codec["scale_rate"] = m.codec.cm_scale_rate;
    json j = {{"archive", archive},
              {"format_version", reader.format_version()},
              {"encoder", m.encoder},
              {"level", m.level},
              {"codec", codec},
              {"sample_rate", m.sample_rate},
              {"total_samples", m.total_samples},
              {"duration_seconds", m.duration_seconds()},
              {"chunk_samples", m.chunk_samples},
              {"chunks", reader.index().size()},
              {"lost_chunks", host::lost_chunks(reader).size()},
              {"original_bytes", original},
              {"archive_bytes", reader.file_size()},
              {"ratio", ratio},
              {"channels", channels},
              {"sources", sources}};
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "archive       " << archive << "\n"
            << "format        version " << reader.format_version() << ", written by " << m.encoder << "\n"
            << "codec         " << m.codec.name << " (level " << m.level << ", partition " << m.codec.partition_size << ")\n"
            << "sample rate   " << m.sample_rate << " Hz" << other_rates_text(m) << "\n"
            << "duration      " << fixed(m.duration_seconds(), 3) << " s (" << m.total_samples << " samples)\n"
            << "channels      " << m.channels.size() << " (value maps: " << map_counts[2] << " n1_10bit, " << map_counts[1]
            << " affine, " << map_counts[0] << " identity"
            << (sync_channels > 0 ? "; " + std::to_string(sync_channels) + " sync" : std::string()) << ")\n"
            << (lpc ? "prediction    order " + fixed(m.channels.empty() ? 0.0 : double(taps) / double(m.channels.size()), 1) +
                          " on average; " + std::to_string(linked) + " channel(s) also predicted from others (" +
                          std::to_string(source_links) + " source links), " + std::to_string(wavelet) + " with wavelet features" +
                          (m.codec.network ? ", " + std::to_string(network) + " with the network stage (" + std::to_string(m.codec.network->hidden) +
                                                 (m.codec.network->projector == format::NetProjector::kGru ? "-unit GRU)" : " hidden units)")
                                           : std::string()) +
                          "\n"
                    : std::string())
            << "sources       " << m.sources.size() << " file(s)" << source_kinds_text(m) << "\n"
            << "chunks        " << reader.index().size() << " x " << m.chunk_samples << " samples ("
            << fixed(static_cast<double>(m.chunk_samples) / m.sample_rate, 3) << " s)\n"
            << (host::lost_chunks(reader).empty() ? std::string()
                                                   : "lost          " + std::to_string(host::lost_chunks(reader).size()) +
                                                         " chunk(s), not recovered by a salvage\n")
            << "size          " << original << " bytes original, " << reader.file_size() << " bytes archive\n"
            << "ratio         " << fixed(ratio, 4) << "\n";
  return 0;
}

// ---- salvage ------------------------------------------------------------------------------

int run_salvage(const std::string& archive, const std::string& output, bool force, const CommonOptions& o) {
  const host::SalvageReport r = host::salvage_archive(archive, output, {force, o.threads});
  const auto seconds = [&](std::uint64_t sample) { return r.sample_rate > 0 ? static_cast<double>(sample) / r.sample_rate : 0.0; };
  if (o.json_output) {
    json lost = json::array();
    for (const auto& l : r.lost_ranges)
      lost.push_back({{"chunks", {l.first_chunk, l.end_chunk}},
                      {"samples", {l.first_sample, l.end_sample}},
                      {"seconds", {seconds(l.first_sample), seconds(l.end_sample)}},
                      {"channels", host::format_channel_list(l.channels)}});
    const json j = {{"archive", archive},          {"output", output},      {"chunks", r.chunks},
                    {"recovered_chunks", r.recovered}, {"lost_chunks", r.lost}, {"lost", lost},
                    {"incomplete_files", r.incomplete_files}, {"notes", r.notes}, {"input_bytes", r.input_bytes},
                    {"output_bytes", r.output_bytes}};
    std::cout << j.dump(2) << "\n";
  } else if (!o.quiet) {
    for (const auto& n : r.notes) std::cerr << "spikey: " << n << "\n";
    std::cerr << "spikey: salvaged " << r.recovered << " of " << r.chunks << " chunk(s) into " << output << " ("
              << r.output_bytes << " bytes)\n";
    for (const auto& l : r.lost_ranges)
      std::cerr << "spikey: lost: chunks " << l.first_chunk << ".." << l.end_chunk - 1 << ", samples " << l.first_sample << ".."
                << l.end_sample - 1 << " (" << fixed(seconds(l.first_sample), 3) << " s to " << fixed(seconds(l.end_sample), 3)
                << " s) of channels " << host::format_channel_list(l.channels) << "\n";
    for (const auto& f : r.incomplete_files) std::cerr << "spikey: incomplete file: " << f << "\n";
    if (r.lost == 0) std::cerr << "spikey: nothing was lost\n";
  }
  return 0;
}

// ---- batch --------------------------------------------------------------------------------

struct BatchArgs {
  std::string manifest;
  std::string output_root;
  std::string shard = "0/1";
  CompressArgs defaults;  // options for every entry; a manifest line may override them
};

// Per-line options of a manifest entry (the compress options that describe a recording).
CompressArgs entry_args(const CompressArgs& defaults, const host::ManifestEntry& e) {
  CompressArgs a = defaults;
  a.inputs = {e.input.string()};
  for (std::size_t i = 0; i < e.options.size(); ++i) {
    const std::string& key = e.options[i];
    if (i + 1 >= e.options.size()) throw UsageError("manifest line " + std::to_string(e.line) + ": " + key + " needs a value");
    const std::string& value = e.options[++i];
    const auto number = [&] {
      std::size_t used = 0;
      const double v = std::stod(value, &used);
      if (used != value.size()) throw std::invalid_argument(value);
      return v;
    };
    try {
      if (key == "--level") a.level = value;
      else if (key == "--chunk-seconds") a.chunk_seconds = number();
      else if (key == "--raw-channels") a.raw_channels = static_cast<std::uint32_t>(number());
      else if (key == "--raw-rate") a.raw_rate = number();
      else if (key == "--model") a.model = value;
      else if (key == "--topology") a.topology = value;
      else if (key == "--model-config") a.model_config = value;
      else throw UsageError("manifest line " + std::to_string(e.line) + ": unknown option " + key);
    } catch (const std::logic_error&) {
      throw UsageError("manifest line " + std::to_string(e.line) + ": bad value \"" + value + "\" for " + key);
    }
  }
  if (a.level != "fast" && a.level != "default" && a.level != "max")
    throw UsageError("manifest line " + std::to_string(e.line) + ": --level must be fast, default or max");
  return a;
}

// XXH3-64 of a whole file, as hex.
std::string file_checksum(const fs::path& path) {
  const host::MappedFile map(path);
  return format::checksum_hex(format::checksum64(map.bytes()));
}

void write_json_file(const fs::path& path, const json& j) {
  const std::string text = j.dump(2) + "\n";
  host::OutputFile out(path, true);
  out.write({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  out.commit();
}

// True when `archive` exists, opens and verifies (every chunk and every file checksum).
bool archive_verifies(const fs::path& archive, unsigned threads) {
  std::error_code ec;
  if (!fs::is_regular_file(archive, ec)) return false;
  try {
    const format::ArchiveReader reader(archive);
    host::RestoreOptions options;
    options.threads = threads;
    const auto r = host::restore_sources(reader, options);
    return r.mismatched_files.empty();
  } catch (const std::exception&) {
    return false;
  }
}

// Archives the shard's entries of the manifest, one archive each. Entries whose archive exists
// and verifies are skipped untouched; failures are reported and the rest go on.
int run_batch(const BatchArgs& b, const CommonOptions& o) {
  const host::Shard shard = host::parse_shard(b.shard);
  const auto entries = host::read_manifest(b.manifest);
  const fs::path root = fs::absolute(b.output_root);
  const host::Stopwatch stopwatch;
  std::size_t mine = 0, compressed = 0, skipped = 0, failed = 0;
  std::uint64_t original_total = 0, archive_total = 0;
  for (std::size_t position = 0; position < entries.size(); ++position) {
    if (!shard.contains(position)) continue;
    ++mine;
    const host::ManifestEntry& e = entries[position];
    const fs::path archive = host::archive_path_for(root, e.input);
    const fs::path report_path = host::report_path_for(archive);
    json report = {{"manifest_line", e.line}, {"input", e.input.string()}, {"archive", archive.string()}, {"shard", b.shard}};
    try {
      const CompressArgs a = entry_args(b.defaults, e);
      if (archive_verifies(archive, o.threads)) {
        ++skipped;
        if (!fs::exists(report_path)) {  // archived by a run that stopped before its report
          const format::ArchiveReader reader(archive);
          report["status"] = "verified_existing";
          report["archive_bytes"] = reader.file_size();
          report["original_bytes"] = reader.metadata().original_bytes();
          report["ratio"] = ratio_of(reader.metadata().original_bytes(), reader.file_size());
          report["archive_checksum"] = file_checksum(archive);
          write_json_file(report_path, report);
        }
        if (!o.quiet) std::cerr << "spikey: " << e.input.string() << ": already archived and verified, skipped\n";
        continue;
      }
      fs::create_directories(archive.parent_path());
      CompressArgs entry = a;
      entry.output = archive.string();
      entry.force = true;  // an archive that exists here did not verify: replace it
      host::EncodeOptions options = encode_options(entry, o);
      const host::Recording recording = open_inputs(entry, o);
      choose_backend(entry, o, options);
      cli::ProgressBar bar(o.quiet);
      options.progress = [&](const std::string& stage, std::uint64_t done, std::uint64_t total) { bar.update(stage, done, total); };
      const host::CompressReport r = host::compress(recording, archive, options);
      bar.clear();
      const format::ArchiveReader reader(archive);
      json sources = json::array();
      for (const auto& s : reader.metadata().sources) sources.push_back({{"path", s.path}, {"size", s.size}, {"checksum", format::checksum_hex(s.checksum)}});
      report["status"] = "compressed";
      report["level"] = entry.level;
      report["codec"] = r.codec;
      report["backend"] = r.backend;
      report["channels"] = r.channels;
      report["duration_seconds"] = r.duration_seconds;
      report["original_bytes"] = r.original_bytes;
      report["archive_bytes"] = r.archive_bytes;
      report["ratio"] = ratio_of(r.original_bytes, r.archive_bytes);
      report["encode_seconds"] = r.encode_seconds;
      report["encode_mb_per_s"] = r.encode_seconds > 0 ? static_cast<double>(r.original_bytes) / 1e6 / r.encode_seconds : 0;
      report["verified"] = r.verified;
      report["verify_seconds"] = r.verify_seconds;
      report["archive_checksum"] = file_checksum(archive);
      report["sources"] = sources;
      write_json_file(report_path, report);
      ++compressed;
      original_total += r.original_bytes;
      archive_total += r.archive_bytes;
      if (!o.quiet)
        std::cerr << "spikey: " << e.input.string() << " -> " << archive.string() << ": ratio " << fixed(ratio_of(r.original_bytes, r.archive_bytes), 3)
                  << " (" << r.codec << ")\n";
    } catch (const std::exception& error) {
      ++failed;
      report["status"] = "failed";
      report["error"] = error.what();
      std::cerr << "spikey: " << e.input.string() << " (manifest line " << e.line << "): " << error.what() << "\n";
      try {
        fs::create_directories(report_path.parent_path());
        write_json_file(report_path, report);
      } catch (const std::exception& report_error) {
        std::cerr << "spikey: cannot write the report " << report_path.string() << ": " << report_error.what() << "\n";
      }
    }
  }
  const double seconds = stopwatch.seconds();
  if (o.json_output) {
    std::cout << json{{"shard", b.shard}, {"entries", mine}, {"compressed", compressed}, {"skipped", skipped}, {"failed", failed},
                      {"original_bytes", original_total}, {"archive_bytes", archive_total}, {"seconds", seconds}}
                     .dump()
              << "\n";
  } else {
    std::cout << "shard " << b.shard << ": " << mine << " entr" << (mine == 1 ? "y" : "ies") << ", " << compressed << " compressed, "
              << skipped << " skipped (already archived and verified), " << failed << " failed; " << megabytes(original_total)
              << " -> " << megabytes(archive_total) << " (ratio " << fixed(ratio_of(original_total, archive_total), 3) << ") in "
              << fixed(seconds, 1) << " s\n";
  }
  return failed == 0 ? 0 : kExitFailure;
}

// ---- verify -------------------------------------------------------------------------------

int run_verify(const std::string& archive, const CommonOptions& o) {
  json j = {{"archive", archive}, {"ok", false}};
  try {
    const format::ArchiveReader reader(archive);
    const format::Metadata& m = reader.metadata();
    cli::ProgressBar bar(o.quiet || o.json_output);
    host::RestoreOptions options;
    options.threads = o.threads;
    options.fill_lost = true;  // nothing is written: check what a salvage kept
    options.progress = [&](std::uint64_t done, std::uint64_t total) { bar.update("verify", done, total); };
    const host::RestoreReport r = host::restore_sources(reader, options);
    bar.clear();
    const double ratio = ratio_of(r.bytes, reader.file_size());
    const double realtime = r.seconds > 0 ? m.duration_seconds() / r.seconds : 0;
    const double mb_s = r.seconds > 0 ? static_cast<double>(r.bytes) / 1e6 / r.seconds : 0;
    const double slowest_duration = reader.index().empty()
                                        ? 0
                                        : static_cast<double>(reader.index()[r.slowest_chunk].sample_count) / m.sample_rate;
    const double slowest_realtime = r.slowest_chunk_seconds > 0 ? slowest_duration / r.slowest_chunk_seconds : 0;
    j["ok"] = r.mismatched_files.empty();
    j["files"] = r.files;
    j["chunks"] = reader.index().size();
    j["lost_chunks"] = r.lost_chunks;
    j["incomplete_files"] = r.incomplete_files;
    j["original_bytes"] = r.bytes;
    j["archive_bytes"] = reader.file_size();
    j["ratio"] = ratio;
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
    if (o.json_output) {
      std::cout << j.dump(2) << "\n";
    } else if (r.mismatched_files.empty()) {
      std::cout << "OK " << archive << ": " << r.files << " file(s), " << reader.index().size() << " chunk(s), "
                << fixed(m.duration_seconds(), 3) << " s of recording, ratio " << fixed(ratio, 4) << "\n"
                << "decode " << fixed(r.seconds, 3) << " s: " << fixed(mb_s, 1) << " MB/s, " << fixed(realtime, 1)
                << "x real time; slowest chunk " << r.slowest_chunk << ": " << fixed(r.slowest_chunk_seconds * 1e3, 2)
                << " ms for " << fixed(slowest_duration, 3) << " s (" << fixed(slowest_realtime, 1) << "x real time)\n";
      if (r.lost_chunks > 0)
        std::cout << "salvaged archive: " << r.lost_chunks << " chunk(s) were lost before the salvage; " << r.incomplete_files.size()
                  << " file(s) incomplete; everything kept is intact\n";
    } else {
      std::cerr << "spikey: verify failed: " << j["error"].get<std::string>() << "\n";
    }
    return r.mismatched_files.empty() ? 0 : kExitFailure;
  } catch (const std::exception& e) {
    if (!o.json_output) throw;
    j["error"] = e.what();
    std::cout << j.dump(2) << "\n";
    return kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  host::install_cleanup_signal_handlers();
  // Past a file size limit (ulimit -f), a write fails with EFBIG and is reported like a full
  // disk, instead of the process being killed with its temporary files left behind.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"spikey: lossless compression of multi-electrode neural recordings into seekable archives"};
  app.set_version_flag("--version", std::string("spikey ") + kVersion);
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  spikey compress recordings/ -o session.spikey\n"
      "  spikey compress rec.bin --raw-channels 32 --raw-rate 30000 -o rec.spikey\n"
      "  spikey extract session.spikey --start 1.25 --end 1.5 --channels 0,7,100-131 -o window.npy\n"
      "  spikey verify session.spikey --json\n"
      "Exit status: 0 success, 1 failure, 2 wrong usage.");

  CommonOptions common;

  CompressArgs ca;
  auto* compress = app.add_subcommand("compress", "compress WAV files, SpikeGLX .bin/.meta pairs, Open Ephys recording folders, directories of WAVs or raw int16 into one archive");
  compress->add_option("inputs", ca.inputs, "WAV files, SpikeGLX .bin (with its .meta), Open Ephys recording folders, directories of WAVs, or raw files with --raw-channels")->required();
  compress->add_option("-o,--output", ca.output, "archive to write (default: INPUT.spikey for one input)");
  compress->add_option("--level", ca.level, "fast | default | max")->check(CLI::IsMember({"fast", "default", "max"}));
  compress->add_option("--chunk-seconds", ca.chunk_seconds, "seconds per independently decodable chunk (default 1)")
      ->check(CLI::PositiveNumber);
  compress->add_flag("-f,--force", ca.force, "overwrite an existing archive");
  compress->add_flag("--no-verify", ca.no_verify, "skip decoding the archive again after writing it");
  auto* raw_channels = compress->add_option("--raw-channels", ca.raw_channels, "file inputs are headerless interleaved int16 with N channels")
      ->check(CLI::Range(1u, 65535u));
  auto* raw_rate = compress->add_option("--raw-rate", ca.raw_rate, "sample rate in Hz of raw inputs")->check(CLI::PositiveNumber);
  raw_channels->needs(raw_rate);
  raw_rate->needs(raw_channels);
  compress->add_option("--backend", ca.backend, "auto | cpu | cuda (auto: the GPU when there is one)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  compress->add_option("--gpu-memory", ca.gpu_memory_mib, "GPU memory for one batch of chunks, MiB (default 4096)")
      ->check(CLI::Range(std::uint64_t{64}, std::uint64_t{1} << 20));
  compress->add_option("--model", ca.model, "encode with this model (spikey train) instead of training")->check(CLI::ExistingFile);
  compress->add_option("--topology", ca.topology, "level default: use this topology (spikey topology)")->check(CLI::ExistingFile);
  compress->add_option("--model-config", ca.model_config, "JSON with the predictor's architecture (see README)")->check(CLI::ExistingFile);
  compress->add_flag("-q,--quiet", common.quiet, "no progress or summary");
  compress->add_flag("--json", common.json_output, "print a JSON report on stdout");
  add_threads(compress, common);
  compress->footer(
      "Examples:\n  spikey compress ../data/neuralink -o nl.spikey\n  spikey compress a.wav b.wav -o ab.spikey\n"
      "  spikey compress run_g0_t0.imec0.ap.bin -o ap.spikey\n  spikey compress \"Record Node 101\" -o session.spikey");

  // topology and train take the same inputs as compress.
  auto* topology = app.add_subcommand("topology", "compute the channel topology (which channels share activity) of a recording");
  auto* train = app.add_subcommand("train", "train a model on a recording, to compress other recordings of the implant with --model");
  for (auto* cmd : {topology, train}) {
    cmd->add_option("inputs", ca.inputs, "WAV files, SpikeGLX .bin (with its .meta), Open Ephys recording folders, directories of WAVs, or raw files with --raw-channels")->required();
    auto* rc = cmd->add_option("--raw-channels", ca.raw_channels, "file inputs are headerless interleaved int16 with N channels")
                   ->check(CLI::Range(1u, 65535u));
    auto* rr = cmd->add_option("--raw-rate", ca.raw_rate, "sample rate in Hz of raw inputs")->check(CLI::PositiveNumber);
    rc->needs(rr);
    rr->needs(rc);
    cmd->add_option("--chunk-seconds", ca.chunk_seconds, "chunk length the training sees (default 1)")->check(CLI::PositiveNumber);
    cmd->add_option("--model-config", ca.model_config, "JSON with the predictor's architecture")->check(CLI::ExistingFile);
    cmd->add_flag("-f,--force", ca.force, "overwrite an existing output");
    cmd->add_flag("-q,--quiet", common.quiet, "no summary");
    add_threads(cmd, common);
  }
  topology->add_option("-o,--output", ca.output, "topology file to write (JSON)")->required();
  topology->add_option("--neighbours", ca.neighbours, "neighbours kept per channel (default 8)")->check(CLI::Range(1u, 64u));
  train->add_option("-o,--output", ca.output, "model file to write (.spkm)")->required();
  train->add_option("--level", ca.level, "fast | default (the codec the model is for)")->check(CLI::IsMember({"fast", "default", "max"}));
  train->add_option("--topology", ca.topology, "use this topology (level default)")->check(CLI::ExistingFile);
  train->add_option("--backend", ca.backend, "auto | cpu | cuda: where the network stage trains (the same model either way; default auto)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));

  std::string archive, output;
  bool force = false;
  auto* decompress = app.add_subcommand("decompress", "restore every original file, byte-identical");
  decompress->add_option("archive", archive, "archive to read")->required();
  decompress->add_option("-o,--output", output, "directory to restore into (created if missing)")->required();
  decompress->add_flag("-f,--force", force, "overwrite existing files");
  decompress->add_flag("-q,--quiet", common.quiet, "no progress or summary");
  bool fill_lost = false;
  decompress->add_flag("--fill-lost", fill_lost, "salvaged archives: write the samples of lost chunks as zeros (and say which files)");
  add_threads(decompress, common);

  BatchArgs ba;
  auto* batch = app.add_subcommand("batch", "archive every recording listed in a manifest, one archive each (resumable; --shard I/N for job arrays)");
  batch->add_option("manifest", ba.manifest, "text file: one input per line (file or directory), optionally followed by compress options")->required();
  batch->add_option("-o,--output", ba.output_root, "output root: each archive goes to OUTROOT/<input's absolute path>.spikey, its report next to it (.json)")->required();
  batch->add_option("--shard", ba.shard, "I/N: take entries I, I+N, I+2N, ... (0-based; default 0/1)");
  batch->add_option("--level", ba.defaults.level, "fast | default | max (default: default)")->check(CLI::IsMember({"fast", "default", "max"}));
  batch->add_option("--chunk-seconds", ba.defaults.chunk_seconds, "seconds per chunk (default 1)")->check(CLI::PositiveNumber);
  batch->add_option("--backend", ba.defaults.backend, "auto | cpu | cuda (default auto)")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  batch->add_flag("--json", common.json_output, "print the shard summary as JSON");
  batch->add_flag("-q,--quiet", common.quiet, "no progress or per-entry lines");
  add_threads(batch, common);

  auto* salvage = app.add_subcommand("salvage", "rebuild a valid archive from a truncated or damaged one, keeping every intact chunk");
  salvage->add_option("archive", archive, "damaged archive (read only)")->required();
  salvage->add_option("-o,--output", output, "archive to write")->required();
  salvage->add_flag("-f,--force", force, "overwrite the output if it exists");
  salvage->add_flag("--json", common.json_output, "print JSON");
  salvage->add_flag("-q,--quiet", common.quiet, "no report");
  add_threads(salvage, common);

  ExtractArgs ea;
  auto* extract = app.add_subcommand("extract", "write a time window of some channels as .bin, .wav or .npy");
  extract->add_option("archive", ea.archive, "archive to read")->required();
  extract->add_option("-o,--output", ea.output, "output file: .bin (interleaved int16 LE), .wav or .npy")->required();
  extract->add_option("--start", ea.start_seconds, "window start in seconds (nearest sample)");
  extract->add_option("--end", ea.end_seconds, "window end in seconds (nearest sample, exclusive)");
  extract->add_option("--start-sample", ea.start_sample, "window start sample");
  extract->add_option("--end-sample", ea.end_sample, "window end sample (exclusive)");
  extract->add_option("--channels", ea.channels, "channels in output order, by number or name, e.g. 0,7,100-131 or AP0-AP7,SY0 (default: all)");
  extract->add_flag("-f,--force", ea.force, "overwrite an existing output file");
  extract->add_flag("-q,--quiet", common.quiet, "no summary");
  add_threads(extract, common);

  auto* info = app.add_subcommand("info", "describe an archive (reads header, metadata and index only)");
  info->add_option("archive", archive, "archive to read")->required();
  info->add_flag("--json", common.json_output, "print JSON");

  auto* verify = app.add_subcommand("verify", "decode everything and check every checksum; report ratio and decode speed");
  verify->add_option("archive", archive, "archive to read")->required();
  verify->add_flag("--json", common.json_output, "print JSON");
  verify->add_flag("-q,--quiet", common.quiet, "no progress");
  add_threads(verify, common);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "spikey: " << e.what() << " (see spikey --help)\n";
    return kExitUsage;
  }

  try {
    if (*compress) return run_compress(ca, common);
    if (*topology) return run_topology(ca, common);
    if (*train) return run_train(ca, common);
    if (*decompress) return run_decompress(archive, output, force, fill_lost, common);
    if (*salvage) return run_salvage(archive, output, force, common);
    if (*batch) return run_batch(ba, common);
    if (*extract) return run_extract(ea, common);
    if (*info) return run_info(archive, common);
    if (*verify) return run_verify(archive, common);
  } catch (const UsageError& e) {
    std::cerr << "spikey: " << e.what() << " (see spikey --help)\n";
    return kExitUsage;
  } catch (const std::invalid_argument& e) {
    std::cerr << "spikey: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "spikey: " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitUsage;
}
