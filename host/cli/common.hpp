// What the subcommands share: exit codes, number formats, the options every command takes, and
// the inputs and encoder options of the commands that read recordings (compress, topology,
// train, batch). One subcommand per file (compress.cpp, ...), main.cpp dispatches.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string_view>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/value_map.hpp"
#include "spikey/host/batch.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/output_file.hpp"
#include "spikey/host/parallel.hpp"
#include "spikey/host/recording.hpp"

namespace spikey::cli {

namespace fs = std::filesystem;
using nlohmann::json;

inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
// verify: every checksum of what is there matches, but chunks were lost (a salvaged archive).
inline constexpr int kExitIncomplete = 3;

// Wrong options detected after parsing (e.g. contradicting flags).
// --chunk-seconds: a positive, finite number of seconds (NaN, inf and 0 are usage errors).
extern const CLI::Validator kPositiveSeconds;
// --raw-rate: a sample rate from 1 Hz to 10 MHz.
extern const CLI::Validator kSampleRateHz;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "-" for a stream that is a terminal: binary data is not typed in or shown (as zstd and flac
// refuse); UsageError naming the stream.
void refuse_terminal_input();
void refuse_terminal_output();
// The first `bytes` of standard input (fewer at its end), read unbuffered: copy_standard_input
// goes on from there.
std::vector<char> read_standard_input_head(std::size_t bytes);
// Copies all of standard input, after the `head` already read from it, to `file`.
void copy_standard_input(std::span<const char> head, const fs::path& file);
// Writes `file` (`what`, for messages) to standard output.
void copy_to_standard_output(const fs::path& file, const std::string& what);

// The archive a reading command (info, verify, extract, decompress, salvage) was given: a file,
// or "-", standard input, copied whole into a scratch file first (the reader seeks: the index
// is at the end). name() is what messages call it.
class ArchiveArgument {
 public:
  explicit ArchiveArgument(const std::string& argument);
  const fs::path& path() const { return path_; }
  const std::string& name() const { return name_; }

 private:
  std::optional<host::ScratchDirectory> scratch_;
  fs::path path_;
  std::string name_;
};

// Runs a command's work on an archive: damage it finds (an ArchiveError) is reported with the
// archive's name first, so that among many archives the message says which one.
template <class Body>
auto naming_archive(const std::string& name, Body&& body) {
  try {
    return body();
  } catch (const format::ArchiveError& e) {
    throw format::ArchiveError(name + ": " + e.what());
  }
}

// What compress appends to its input's name for the default archive, and what decompress takes
// off again for its default folder.
inline constexpr std::string_view kArchiveSuffix = ".spikey";

// The archives of a command that reads several (verify, info): "-" at most once, and not from
// a terminal (UsageError), checked before the first is read.
void check_archive_arguments(const std::vector<std::string>& archives);

// The last line of a command given several archives (stderr): "spikey: N of M archives
// <done>[, I incomplete (salvaged)][, F failed: a b ...]"; `failed` holds the arguments as
// given ("-" is named standard input).
void report_archives(std::size_t count, const std::string& done, std::size_t incomplete, const std::vector<std::string>& failed);

std::string fixed(double v, int digits);
std::string megabytes(std::uint64_t bytes);
double ratio_of(std::uint64_t original, std::uint64_t archive);
// Tells the user (stderr) what damage opening the archive `name` worked around (SPEC.md §3.7).
void warn_archive_damage(const format::ArchiveReader& reader, const std::string& name);
json value_map_json(const format::ValueMap& m);

struct CommonOptions {
  unsigned threads = host::default_thread_count();
  bool quiet = false;
  bool json_output = false;
};

// One of several archives: `body` runs on it, naming it in what it throws (naming_archive). A
// usage error stops the command; any other failure is recorded in j["error"], printed (without
// --json), and gives kExitFailure, so that the next archive is still read.
template <class Body>
int on_each_archive(const std::string& argument, json& j, const CommonOptions& o, Body&& body) {
  try {
    const ArchiveArgument input(argument);
    return naming_archive(input.name(), [&] { return body(input); });
  } catch (const UsageError&) {
    throw;
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    j["error"] = e.what();
    if (!o.json_output) std::cerr << "spikey: " << e.what() << "\n";
    return kExitFailure;
  }
}

void add_threads(CLI::App* cmd, CommonOptions& o);

// A subcommand: its node in the command line, and what runs when it is the one given.
struct Subcommand {
  CLI::App* command = nullptr;
  std::function<int()> run;
};

// The commands that read a recording.
struct CompressArgs {
  std::vector<std::string> inputs;
  std::string output;
  host::RecordingOptions recording;
  bool force = false;
  bool no_verify = false;
  std::string backend = "auto";
  std::uint64_t gpu_memory_mib = 4096;
  std::uint32_t neighbours = 8;  // topology
};

// The inputs argument and --raw-channels/--raw-rate.
void add_recording_inputs(CLI::App* cmd, CompressArgs& a);
// The inputs and options of the commands that train (topology, train): chunk length,
// model config, -f, -q, --threads.
void add_training_options(CLI::App* cmd, CompressArgs& a, CommonOptions& common);
host::EncodeOptions encode_options(const CompressArgs& a, const CommonOptions& o);
host::Recording open_inputs(const CompressArgs& a, const CommonOptions& o);

// --backend: "cuda" needs a device (and a CUDA build); "auto" uses one when present and
// otherwise says so and runs on the CPU. On the GPU: the network stage's training and, when
// `encodes`, the chunks' encoding (the archive's bytes are the CPU's either way).
void choose_backend(const CompressArgs& a, const CommonOptions& o, host::EncodeOptions& options, bool encodes = true);

Subcommand add_compress(CLI::App& app, CommonOptions& common);
Subcommand add_topology(CLI::App& app, CommonOptions& common);
Subcommand add_train(CLI::App& app, CommonOptions& common);
Subcommand add_decompress(CLI::App& app, CommonOptions& common);
Subcommand add_batch(CLI::App& app, CommonOptions& common);
Subcommand add_salvage(CLI::App& app, CommonOptions& common);
Subcommand add_extract(CLI::App& app, CommonOptions& common);
Subcommand add_info(CLI::App& app, CommonOptions& common);
Subcommand add_verify(CLI::App& app, CommonOptions& common);

}  // namespace spikey::cli
