// Sweeps encoder options on one recording and prints ratio and single-thread speeds as a
// Markdown table; every archive is verified by a full decode before its row is printed.
//
//   codec_sweep DIR_OR_FILES... [--raw-channels N --raw-rate HZ] [--sweep NAME]
// sweeps: chunk (0.1/0.25/1/5 s), cross (lpc1 cross-channel on/off), lms (LMS step), order
// (history taps), codec (rice1 vs lpc1), partition (partition size), ablation (level default's parts),
// projector (the network stage's ReLU layer against GRUs of 4, 8 and 16).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "spikey/format/archive_reader.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/stopwatch.hpp"

namespace fs = std::filesystem;
using namespace spikey;

namespace {

struct Row {
  std::string label;
  host::EncodeOptions options;
};

std::vector<Row> sweep_rows(const std::string& sweep) {
  std::vector<Row> rows;
  const auto add = [&](const std::string& label, auto&& change) {
    host::EncodeOptions o;
    o.level = "fast";  // sweeps measure level fast unless they say otherwise
    o.threads = 1;
    o.verify = false;
    o.overwrite = true;
    change(o);
    rows.push_back({label, o});
  };
  if (sweep == "chunk") {
    for (double s : {0.1, 0.25, 1.0, 5.0}) add("chunk " + std::to_string(s).substr(0, 4) + " s", [&](auto& o) { o.chunk_seconds = s; });
  } else if (sweep == "cross") {
    add("cross-channel on (W=2)", [](auto&) {});
    add("cross-channel off", [](auto& o) { o.training.source_half_window = -1; });
    add("cross-channel on (W=4)", [](auto& o) { o.training.source_half_window = 4; });
  } else if (sweep == "lms") {
    for (int step : {0, 1, 2, 4, 8}) add("LMS step " + std::to_string(step), [&](auto& o) { o.training.lms_step = step; });
  } else if (sweep == "order") {
    for (int order : {0, 8, 16, 24, 32}) add("max order " + std::to_string(order), [&](auto& o) { o.training.max_order = order; });
  } else if (sweep == "codec") {
    add("rice1 (first difference, Rice)", [](auto& o) { o.codec = format::kCodecRice1; });
    add("lpc1", [](auto& o) { o.level = "fast"; });
  } else if (sweep == "ablation") {
    // mo rows train the network stage too (codec mo2 where it helps, else mo1) unless they say "linear".
    add("fast (lpc1)", [](auto& o) { o.level = "fast"; });
    add("default (keeps the smaller of mo1/mo2 and lpc1)", [](auto& o) { o.level = "default"; });
    add("mo with the network stage", [](auto& o) { o.codec = format::kCodecMo1; });
    add("mo, linear (no network stage)", [](auto& o) { o.codec = format::kCodecMo1, o.mo_training.network_hidden = 0; });
    add("mo, 8 hidden units", [](auto& o) { o.codec = format::kCodecMo1, o.mo_training.network_hidden = 8; });
    add("mo without wavelet features", [](auto& o) { o.codec = format::kCodecMo1, o.mo_training.wavelet_levels = 0; });
    add("mo without message passing (no sources)", [](auto& o) { o.codec = format::kCodecMo1, o.mo_training.max_sources = 0; });
    add("mo, linear, without wavelets or message passing", [](auto& o) {
      o.codec = format::kCodecMo1, o.mo_training.wavelet_levels = 0, o.mo_training.max_sources = 0, o.mo_training.network_hidden = 0;
    });
  } else if (sweep == "projector") {
    // The network stage's projector: the ReLU layer (mo2, the default) against the GRU (mo3).
    add("mo, linear (no network stage)", [](auto& o) { o.codec = format::kCodecMo1, o.mo_training.network_hidden = 0; });
    add("mo, ReLU layer of 16 (default)", [](auto& o) { o.codec = format::kCodecMo1; });
    for (int h : {4, 8, 16})
      add("mo, GRU of " + std::to_string(h), [h](auto& o) {
        o.codec = format::kCodecMo1, o.mo_training.network_projector = "gru", o.mo_training.gru_hidden = h;
      });
  } else if (sweep == "partition") {
    for (std::uint32_t p : {64u, 128u, 256u, 512u, 1024u}) add("partition " + std::to_string(p), [&](auto& o) { o.partition_size = p; });
  } else {
    throw std::invalid_argument("unknown sweep " + sweep);
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  host::InputOptions input_options;
  std::string sweep = "codec";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--raw-channels" && i + 1 < argc) input_options.raw_channels = static_cast<std::uint32_t>(std::stoul(argv[++i]));
    else if (a == "--raw-rate" && i + 1 < argc) input_options.raw_rate = std::stod(argv[++i]);
    else if (a == "--sweep" && i + 1 < argc) sweep = argv[++i];
    else inputs.emplace_back(a);
  }
  try {
    const auto recording = host::Recording::open(inputs, input_options, [](const std::string&) {});
    const fs::path archive = fs::temp_directory_path() / ("spikey-sweep-" + std::to_string(::getpid()) + ".spikey");
    std::cout << "| " << sweep << " | codec | ratio | encode MB/s (1 thread) | decode MB/s (1 thread) |\n| --- | --- | ---: | ---: | ---: |\n";
    for (const auto& row : sweep_rows(sweep)) {
      const auto report = host::compress(recording, archive, row.options);
      const format::ArchiveReader reader(archive);
      host::RestoreOptions restore;
      restore.threads = 1;
      const auto decoded = host::restore_sources(reader, restore);
      if (!decoded.mismatched_files.empty()) throw std::runtime_error("round trip failed for " + row.label);
      const double mb = static_cast<double>(report.original_bytes) / 1e6;
      std::printf("| %s | %s | %.4f | %.1f | %.1f |\n", row.label.c_str(), report.codec.c_str(),
                  static_cast<double>(report.original_bytes) / static_cast<double>(report.archive_bytes), mb / report.encode_seconds,
                  mb / decoded.seconds);
      std::fflush(stdout);
    }
    fs::remove(archive);
  } catch (const std::exception& e) {
    std::cerr << "codec_sweep: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
