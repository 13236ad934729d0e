// Archiving many recordings (`spikey batch`, and Python): the entries of a manifest, one archive
// each under an output root at a path derived from the input, resumable and shardable. An entry
// whose archive exists and verifies is skipped untouched; a failure is reported and the rest go on.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "spikey/host/encoder.hpp"
#include "spikey/host/manifest.hpp"
#include "spikey/host/recording.hpp"

namespace spikey::host {

// What describes one recording to the encoder: the compress options a manifest line may set.
struct RecordingOptions {
  std::string level = "default";
  double chunk_seconds = 1.0;
  bool chunk_seconds_chosen = false;  // by the user; else chunks of at least kDefaultMinChunkSamples too
  std::optional<std::uint32_t> raw_channels;  // headerless int16 inputs
  std::optional<double> raw_rate;
  bool raw_unsigned = false;     // raw inputs hold uint16 samples (--raw-format uint16, uint16be)
  bool raw_big_endian = false;   // raw inputs are big-endian (--raw-format int16be, uint16be)
  std::uint64_t raw_offset = 0;  // --raw-offset: header bytes of each raw input, kept verbatim
  bool repair_wav_size = false;  // unfinalized WAVs: take the samples after the declared data (InputOptions)
  std::string model;         // encode with this model file (spikey train) instead of training
  std::string topology;      // MiddleOut codecs: use this topology file (spikey topology)
  std::string model_config;  // JSON of the predictors' architecture (apply_model_config)
};

// `defaults` with the options of a manifest line (--level, --chunk-seconds, --raw-channels,
// --raw-rate, --raw-format, --raw-offset, --model, --topology, --model-config, and the flag --repair-wav-size); throws
// std::invalid_argument naming the line.
RecordingOptions entry_options(const RecordingOptions& defaults, const ManifestEntry& entry);

// The encoder's options for a recording on `threads` threads: level, chunking, and the model
// config, topology and model files it names, read and checked.
EncodeOptions encode_options_for(const RecordingOptions& recording, unsigned threads);

struct BatchOptions {
  std::filesystem::path manifest;
  std::filesystem::path output_root;
  std::string shard = "0/1";  // I/N (parse_shard)
  RecordingOptions defaults;
  unsigned threads = 1;
  // The encoder's options for an entry; empty: encode_options_for on the CPU. The CLI adds its
  // backend (GPU) and progress bar here.
  std::function<EncodeOptions(const RecordingOptions&)> encode_options;
  // Lines for the user: notes (input notes, each entry archived or skipped) and failures.
  std::function<void(const std::string&)> note;
  std::function<void(const std::string&)> failure;
};

struct BatchSummary {
  std::size_t entries = 0;  // of this shard
  std::size_t compressed = 0;
  std::size_t skipped = 0;  // already archived and verified
  std::size_t failed = 0;
  std::uint64_t original_bytes = 0;  // of the entries compressed now
  std::uint64_t archive_bytes = 0;
  double seconds = 0;
};

// Archives the shard's entries; writes each entry's JSON report next to its archive
// (report_path_for). Throws for a manifest or shard that cannot be read; entry failures are
// counted, reported and skipped.
BatchSummary run_batch(const BatchOptions& options);

}  // namespace spikey::host
