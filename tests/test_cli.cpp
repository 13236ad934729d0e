// The spikey command line, as a user runs it: outputs, exit codes, messages, and that nothing
// partial is left behind on failure.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "spikey/format/archive.hpp"
#include "spikey/format/archive_reader.hpp"
#include "test_support.hpp"

using namespace spikey;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

Result run(const std::vector<std::string>& args) {
  static int counter = 0;
  const fs::path err_file = fs::temp_directory_path() / ("spikey-cli-err-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::string command = quote(SPIKEY_CLI_PATH);
  for (const auto& a : args) command += " " + quote(a);
  command += " 2>" + quote(err_file.string());
  Result r;
  FILE* pipe = ::popen(command.c_str(), "r");
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.out.append(buffer, n);
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  const auto err = test::read_file(err_file);
  r.err.assign(err.begin(), err.end());
  fs::remove(err_file);
  return r;
}

// Names in `dir` (recursively) that are not in `expected`: leftovers such as temporary files.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir)) names.push_back(e.path().lexically_relative(dir).string());
  std::sort(names.begin(), names.end());
  return names;
}

const fs::path kSample = test::samples_dir() / "neuralink";

}  // namespace

TEST(Cli, CompressDecompressInfoVerifyRoundTrip) {
  test::TempDir dir;
  auto r = run({"compress", kSample.string(), "-o", (dir / "s.spikey").string(), "--chunk-seconds", "0.5", "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = run({"decompress", (dir / "s.spikey").string(), "-o", (dir / "restored").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const auto& e : fs::directory_iterator(kSample))
    EXPECT_TRUE(test::read_file(e.path()) == test::read_file(dir / "restored" / e.path().filename())) << e.path();

  r = run({"info", (dir / "s.spikey").string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json info = json::parse(r.out);
  EXPECT_EQ(info["format_version"], spikey::format::kFormatVersion);
  // Level default: the MiddleOut prediction with the table-driven context coder.
  EXPECT_EQ(spikey::format::codec_row(info["codec"]["name"].get<std::string>()).coder, spikey::format::ResidualCoder::table_rans) << info["codec"];
  EXPECT_EQ(info["channels"].size(), 3u);
  EXPECT_EQ(info["chunks"], 11u);  // 5.09 s in 0.5 s chunks
  EXPECT_EQ(info["original_bytes"].get<std::uint64_t>(), 197464u * 2 + 198664u);
  EXPECT_GT(info["ratio"].get<double>(), 1.5);

  r = run({"verify", (dir / "s.spikey").string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json verify = json::parse(r.out);
  EXPECT_TRUE(verify["ok"].get<bool>());
  EXPECT_EQ(verify["files"], 3u);
  EXPECT_GT(verify["x_real_time"].get<double>(), 0);
  EXPECT_GT(verify["slowest_chunk"]["decode_seconds"].get<double>(), 0);

  r = run({"verify", (dir / "s.spikey").string()});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("OK"), std::string::npos);
}

TEST(Cli, ExtractWritesBinWavAndNpyOfTheRightSamples) {
  test::TempDir dir;
  ASSERT_EQ(run({"compress", kSample.string(), "-o", (dir / "s.spikey").string(), "-q"}).code, 0);
  // Channels are the sorted files; read the originals to compare.
  std::vector<std::vector<std::uint8_t>> originals;
  for (const auto* name : {"3830d316-1af4-4496-be1a-553298450516.wav", "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav",
                           "d24add11-a9d6-4583-9f03-eedab99eaa7a.wav"})
    originals.push_back(test::read_file(kSample / name));
  const auto sample = [&](int channel, std::uint64_t t) {
    std::int16_t v;
    std::memcpy(&v, originals[channel].data() + 44 + 2 * t, 2);
    return v;
  };
  // --start 1.25 --end 1.5 at 19531 Hz: samples 24414 .. 29296.
  for (const char* ext : {".bin", ".wav", ".npy"}) {
    const fs::path out = dir / (std::string("w") + ext);
    const auto r = run({"extract", (dir / "s.spikey").string(), "--start", "1.25", "--end", "1.5", "--channels", "2,0", "-o", out.string()});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto bytes = test::read_file(out);
    std::size_t header = 0;
    if (std::string(ext) == ".wav") header = 44;
    if (std::string(ext) == ".npy") {
      header = bytes[8] | (bytes[9] << 8);
      header += 10;
      const std::string dict(bytes.begin() + 10, bytes.begin() + static_cast<std::ptrdiff_t>(header));
      EXPECT_NE(dict.find("'shape': (4883, 2)"), std::string::npos) << dict;
      EXPECT_NE(dict.find("'<i2'"), std::string::npos);
      EXPECT_EQ(header % 64, 0u);
    }
    ASSERT_EQ(bytes.size(), header + 4883 * 2 * 2) << ext;
    for (std::uint64_t t = 0; t < 4883; ++t) {
      std::int16_t a, b;
      std::memcpy(&a, bytes.data() + header + t * 4, 2);
      std::memcpy(&b, bytes.data() + header + t * 4 + 2, 2);
      ASSERT_EQ(a, sample(2, 24414 + t)) << ext << " t=" << t;
      ASSERT_EQ(b, sample(0, 24414 + t)) << ext << " t=" << t;
    }
  }
  // The .wav is itself a valid input: it compresses and restores.
  auto r = run({"compress", (dir / "w.wav").string(), "-o", (dir / "w.spikey").string(), "-q"});
  EXPECT_EQ(r.code, 0) << r.err;
  // Sample-index form; a window past the end is clipped.
  r = run({"extract", (dir / "s.spikey").string(), "--start-sample", "98000", "--end-sample", "200000", "--channels", "1", "-o",
           (dir / "tail.bin").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::uint64_t channel1_length = (originals[1].size() - 44) / 2;
  EXPECT_EQ(fs::file_size(dir / "tail.bin"), (channel1_length - 98000u) * 2);
}

// A Blackrock .nev beside its .ns2 (format 14): the waveforms are a channel of snippets. extract
// without --channels writes the .ns2's channels and to their end; naming the waveforms writes
// them; mixing both is refused as wrong usage (exit 2, naming both); compress, verify and info
// say what the archive holds.
TEST(Cli, SpikeWaveformsAreReadByNameAndLeftOutOfWindows) {
  test::TempDir dir;
  fs::create_directories(dir / "session");
  fs::copy_file(test::samples_dir() / "blackrock" / "l101210-001.ns2", dir / "session" / "l101210-001.ns2");
  fs::copy_file(test::samples_dir() / "blackrock_nev" / "l101210-001.nev", dir / "session" / "l101210-001.nev");
  const std::string archive = (dir / "session.spikey").string();
  auto r = run({"compress", (dir / "session").string(), "-o", archive});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("7 channel(s), 1 of spike waveforms, 3.641 s;"), std::string::npos) << r.err;
  r = run({"extract", archive, "-o", (dir / "lfp.bin").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto ns2 = test::read_file(test::samples_dir() / "blackrock" / "l101210-001.ns2");
  EXPECT_EQ(test::read_file(dir / "lfp.bin"), std::vector<std::uint8_t>(ns2.begin() + 56, ns2.end()));
  r = run({"extract", archive, "--channels", "waveforms", "--start-sample", "48", "--end-sample", "96", "-o", (dir / "w.bin").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto nev = test::read_file(test::samples_dir() / "blackrock_nev" / "l101210-001.nev");
  EXPECT_EQ(test::read_file(dir / "w.bin"), std::vector<std::uint8_t>(nev.begin() + 4944 + 104 + 8, nev.begin() + 4944 + 2 * 104));  // the second waveform
  r = run({"extract", archive, "--channels", "waveforms,ch137", "-o", (dir / "mixed.bin").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("channel waveforms holds spike waveforms (snippets) and channel ch137 does not"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "mixed.bin"));
  r = run({"verify", archive});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("3.641 s of recording"), std::string::npos) << r.out;
  r = run({"info", archive});
  EXPECT_NE(r.out.find("snippets      1500 waveforms of 48 samples (l101210-001.nev)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sample rate   30000 Hz (spike waveforms); 6 channel(s) at 1000 Hz"), std::string::npos) << r.out;
  // The waveforms alone: no recording, no real time.
  r = run({"verify", (test::golden_dir() / "v14" / "blackrock_nev.spikey").string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("spike waveforms only"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("real time"), std::string::npos) << r.out;
}

// Raw files of unsigned 16-bit samples (Intan auxiliary and ADC files): --raw-format uint16
// stores them as value - 32768 (the same size as the signed recording) and restores the bytes.
TEST(Cli, RawUnsignedSamplesRoundTrip) {
  test::TempDir dir;
  auto bytes = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  for (std::size_t i = 1; i < bytes.size(); i += 2) bytes[i] ^= 0x80;  // int16 + 32768 as uint16
  test::write_file(dir / "u.dat", bytes);
  const std::string raw[] = {"--raw-channels", "32", "--raw-rate", "30000", "-q"};
  auto r = run({"compress", (dir / "u.dat").string(), raw[0], raw[1], raw[2], raw[3], raw[4], "--raw-format", "uint16", "-o",
                (dir / "u.spikey").string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const double unsigned_ratio = json::parse(r.out)["ratio"].get<double>();
  r = run({"compress", (dir / "u.dat").string(), raw[0], raw[1], raw[2], raw[3], raw[4], "-o", (dir / "s.spikey").string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(unsigned_ratio, json::parse(r.out)["ratio"].get<double>() * 1.05) << "read as int16, the offset wraps around";
  ASSERT_EQ(run({"decompress", (dir / "u.spikey").string(), "-o", (dir / "out").string(), "-q"}).code, 0);
  EXPECT_EQ(test::read_file(dir / "out" / "u.dat"), bytes);
  r = run({"compress", (dir / "u.dat").string(), raw[0], raw[1], raw[2], raw[3], "--raw-format", "u16", "-o", (dir / "x.spikey").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--raw-format"), std::string::npos) << r.err;
  EXPECT_EQ(run({"compress", (dir / "u.dat").string(), "--raw-format", "uint16", "-o", (dir / "y.spikey").string()}).code, 2);
}

// Big-endian raw files behind a header (--raw-format int16be/uint16be, --raw-offset): the same
// samples as the little-endian file, the header and a trailing partial frame kept verbatim.
TEST(Cli, RawBigEndianSamplesBehindAHeaderRoundTrip) {
  test::TempDir dir;
  const auto little = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const std::string header = "a 57-byte header that the raw reader must keep as it is..";
  ASSERT_EQ(header.size(), 57u);
  for (const bool unsigned_samples : {false, true}) {
    SCOPED_TRACE(unsigned_samples ? "uint16be" : "int16be");
    std::vector<std::uint8_t> big(header.begin(), header.end());
    for (std::size_t i = 0; i < little.size(); i += 2) big.push_back(static_cast<std::uint8_t>(little[i + 1] ^ (unsigned_samples ? 0x80 : 0))), big.push_back(little[i]);
    big.push_back(0x42);  // a partial frame
    test::write_file(dir / "b.dat", big);
    auto r = run({"compress", (dir / "b.dat").string(), "--raw-channels", "32", "--raw-rate", "30000", "--raw-format", unsigned_samples ? "uint16be" : "int16be",
                  "--raw-offset", "57", "-o", (dir / "b.spikey").string(), "-f", "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
    fs::remove_all(dir / "out");
    ASSERT_EQ(run({"decompress", (dir / "b.spikey").string(), "-o", (dir / "out").string(), "-q"}).code, 0);
    EXPECT_EQ(test::read_file(dir / "out" / "b.dat"), big);
    ASSERT_EQ(run({"extract", (dir / "b.spikey").string(), "--channels", "5", "-o", (dir / "c5.bin").string(), "-f", "-q"}).code, 0);
    const auto c5 = test::read_file(dir / "c5.bin");
    ASSERT_EQ(c5.size(), 6000u * 2);
    for (std::size_t t = 0; t < 6000; t += 997) {  // the file's values (uint16be: less 32768, as stored)
      EXPECT_EQ(c5[2 * t], little[64 * t + 10]);
      EXPECT_EQ(c5[2 * t + 1], little[64 * t + 11]);
    }
  }
  const auto r = run({"compress", (dir / "b.dat").string(), "--raw-channels", "32", "--raw-rate", "30000", "--raw-offset", "9999999", "-o",
                      (dir / "x.spikey").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("past the end of the file"), std::string::npos) << r.err;
}

TEST(Cli, RefusesToOverwriteWithoutForce) {
  test::TempDir dir;
  const fs::path archive = dir / "s.spikey";
  test::write_file(archive, {'k', 'e', 'e', 'p'});
  auto r = run({"compress", kSample.string(), "-o", archive.string(), "-q"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_file(archive), (std::vector<std::uint8_t>{'k', 'e', 'e', 'p'}));
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"s.spikey"});
  r = run({"compress", kSample.string(), "-o", archive.string(), "-q", "-f"});
  EXPECT_EQ(r.code, 0) << r.err;

  fs::create_directories(dir / "out");
  test::write_file(dir / "out" / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav", {'x'});
  r = run({"decompress", archive.string(), "-o", (dir / "out").string(), "-q"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos);
  EXPECT_EQ(entries(dir / "out").size(), 1u) << "nothing else may be written";
}

// Without -o, decompress undoes compress's default name: "x.wav.spikey" restores x.wav beside
// itself, a folder's "rec.spikey" restores into rec/, and any other NAME.spikey into NAME/.
TEST(Cli, DecompressWithoutOutputRestoresWhereCompressTookFrom) {
  test::TempDir dir;
  fs::copy(kSample, dir / "rec");
  auto r = run({"compress", (dir / "rec").string(), "--chunk-seconds", "0.5", "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(dir / "rec.spikey"));
  r = run({"decompress", (dir / "rec.spikey").string()});
  EXPECT_EQ(r.code, 1) << "the folder's files exist";
  EXPECT_NE(r.err.find((dir / "rec").string() + "/"), std::string::npos) << r.err;
  fs::rename(dir / "rec", dir / "original");
  r = run({"decompress", (dir / "rec.spikey").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("to " + (dir / "rec").string()), std::string::npos) << r.err;
  EXPECT_EQ(entries(dir / "rec"), entries(dir / "original"));
  for (const auto& e : fs::directory_iterator(dir / "original"))
    EXPECT_TRUE(test::read_file(e.path()) == test::read_file(dir / "rec" / e.path().filename())) << e.path();

  const fs::path file = dir / "one" / "x.wav";
  fs::create_directories(file.parent_path());
  fs::copy_file(fs::directory_iterator(kSample)->path(), file);
  const std::vector<std::uint8_t> original = test::read_file(file);
  r = run({"compress", file.string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = run({"compress", file.string(), "-o", (dir / "named.spikey").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = run({"decompress", (dir / "one" / "x.wav.spikey").string(), "-q"});
  EXPECT_EQ(r.code, 1) << "x.wav exists beside its archive";
  EXPECT_TRUE(test::read_file(file) == original);
  fs::remove(file);
  r = run({"decompress", (dir / "one" / "x.wav.spikey").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(test::read_file(file) == original);
  EXPECT_EQ(entries(dir / "one"), (std::vector<std::string>{"x.wav", "x.wav.spikey"}));
  r = run({"decompress", (dir / "named.spikey").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(test::read_file(dir / "named" / "x.wav") == original);

  fs::copy_file(dir / "named.spikey", dir / "named.archive");
  r = run({"decompress", (dir / "named.archive").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("-o DIRECTORY"), std::string::npos) << r.err;

  // Several archives (spikey decompress *.spikey): each where its name says, whatever the others
  // give; a missing one fails the command (exit 1) without stopping the rest.
  fs::remove_all(dir / "rec");
  fs::remove_all(dir / "named");
  r = run({"decompress", (dir / "rec.spikey").string(), (dir / "missing.spikey").string(), (dir / "named.spikey").string()});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(entries(dir / "rec"), entries(dir / "original"));
  EXPECT_TRUE(test::read_file(dir / "named" / "x.wav") == original);
  EXPECT_NE(r.err.find("2 of 3 archives restored, 1 failed: " + (dir / "missing.spikey").string()), std::string::npos) << r.err;
  r = run({"decompress", (dir / "rec.spikey").string(), (dir / "named.spikey").string(), "-o", (dir / "both").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(entries(dir / "both").size(), entries(dir / "original").size() + 1);
  r = run({"decompress", (dir / "rec.spikey").string(), (dir / "named.spikey").string(), "-o", "-"});
  EXPECT_EQ(r.code, 2) << "standard output takes one archive";
  r = run({"decompress", (dir / "rec.spikey").string(), (dir / "named.archive").string()});
  EXPECT_EQ(r.code, 2) << "a name without .spikey is refused before anything is restored";
}

// Inputs are never replaced, even with -f: not by name, through a symbolic link or a hard link,
// by compress, extract, decompress or salvage.
TEST(Cli, AnOutputThatIsAnInputIsRefusedEvenWithForce) {
  test::TempDir dir;
  const fs::path wav = dir / "x.wav";
  fs::copy_file(kSample / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav", wav);
  const auto original = test::read_file(wav);
  fs::create_symlink("x.wav", dir / "link.wav");
  fs::create_hard_link(wav, dir / "hard.wav");
  for (const char* name : {"x.wav", "link.wav", "hard.wav"}) {
    const auto r = run({"compress", wav.string(), "-o", (dir / name).string(), "-f", "-q"});
    EXPECT_EQ(r.code, 1) << name;
    EXPECT_NE(r.err.find("is the input"), std::string::npos) << r.err;
    EXPECT_EQ(test::read_file(wav), original) << name;
  }
  EXPECT_TRUE(fs::is_symlink(dir / "link.wav"));
  EXPECT_EQ(test::read_file(dir / "hard.wav"), original);

  const fs::path archive = dir / "a.spikey";
  ASSERT_EQ(run({"compress", wav.string(), "-o", archive.string(), "-q"}).code, 0);
  const auto archive_bytes = test::read_file(archive);
  fs::create_symlink("a.spikey", dir / "window.npy");
  auto r = run({"extract", archive.string(), "-o", (dir / "window.npy").string(), "-f"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is the input"), std::string::npos) << r.err;
  // decompress restores x.wav; in out/, x.wav is a hard link to the archive.
  fs::create_directories(dir / "out");
  fs::create_hard_link(archive, dir / "out" / "x.wav");
  r = run({"decompress", archive.string(), "-o", (dir / "out").string(), "-f", "-q"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is the input"), std::string::npos) << r.err;
  r = run({"salvage", archive.string(), "-o", (dir / "out" / "x.wav").string(), "-f"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("damaged archive itself"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_file(archive), archive_bytes);
  EXPECT_EQ(test::read_file(dir / "out" / "x.wav"), archive_bytes);
  EXPECT_EQ(test::read_file(wav), original);
}

// A file name near the file system's limit (255 bytes) still compresses, decompresses and
// extracts: the hidden temporary name is shortened to fit.
TEST(Cli, LongFileNamesRoundTrip) {
  test::TempDir dir;
  for (const std::size_t length : {std::size_t{230}, std::size_t{251}}) {
    const std::string stem(length - 4, 'N');
    const fs::path wav = dir / (stem + ".wav");
    fs::copy_file(kSample / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav", wav, fs::copy_options::overwrite_existing);
    const fs::path archive = dir / (std::string(length - 7, 'A') + ".spikey");
    auto r = run({"compress", wav.string(), "-o", archive.string(), "-q", "-f"});
    ASSERT_EQ(r.code, 0) << r.err;
    fs::create_directories(dir / "out");
    r = run({"decompress", archive.string(), "-o", (dir / "out").string(), "-q", "-f"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(test::read_file(dir / "out" / wav.filename()), test::read_file(wav));
    r = run({"extract", archive.string(), "-o", (dir / (std::string(length - 4, 'W') + ".npy")).string(), "-f"});
    EXPECT_EQ(r.code, 0) << r.err;
    for (const auto& name : entries(dir.path())) EXPECT_EQ(name.find("spikey-tmp"), std::string::npos) << name;
  }
}

// Temporaries a killed run left (SIGKILL gives no chance to clean up) are removed by the next
// run that writes into the same directory: those of this host whose process is gone. A live
// process's, and another host's (a directory shared by a cluster's nodes), are left alone.
TEST(Cli, StaleTemporariesOfKilledRunsAreRemoved) {
  test::TempDir dir;
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  std::string host_name = host;
  for (char& c : host_name)
    if (c == '/' || c == '.') c = '_';
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // a process number that is gone
  const std::string dead = ".x.spikey.spikey-tmp-" + host_name + "-" + std::to_string(child) + "-0";
  const std::string live = ".y.spikey.spikey-tmp-" + host_name + "-" + std::to_string(::getpid()) + "-3";
  const std::string other_host = ".z.spikey.spikey-tmp-elsewhere_node-" + std::to_string(child) + "-1";
  for (const auto& name : {dead, live, other_host}) test::write_file(dir / name, {1, 2, 3});
  const auto r = run({"compress", (kSample / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav").string(), "-o", (dir / "a.spikey").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir / dead));
  EXPECT_TRUE(fs::exists(dir / live));
  EXPECT_TRUE(fs::exists(dir / other_host));
}

TEST(Cli, BadInputsGiveOneClearLineAndNoOutput) {
  test::TempDir dir;
  test::write_file(dir / "notes.wav", {'n', 'o', 't', ' ', 'a', ' ', 'w', 'a', 'v', 'e', '!', '!'});
  auto r = run({"compress", (dir / "notes.wav").string(), "-o", (dir / "x.spikey").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not a WAV"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "x.spikey"));

  test::write_file(dir / "a.wav", test::make_wav(1, 1000, {1, 2, 3}));
  test::write_file(dir / "b.wav", test::make_wav(1, 2000, {1, 2, 3}));

  r = run({"compress", (dir / "missing.wav").string(), "-o", (dir / "x.spikey").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;

  r = run({"compress", (dir / "a.wav").string(), "-o", (dir / "no" / "such" / "x.spikey").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;

  EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"a.wav", "b.wav", "notes.wav"})) << "no partial or temporary files";
  for (const auto& e : entries(dir.path())) EXPECT_EQ(e.find("tmp"), std::string::npos);
}

// What a message says matches what is wrong: options out of range in plain words (usage,
// exit 2, NaN and inf alike), file names an archive cannot keep, an empty archive.
TEST(Cli, MessagesSayWhatIsWrong) {
  test::TempDir dir;
  const fs::path wav = kSample / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav";
  const fs::path out = dir / "x.spikey";
  for (const char* seconds : {"0.00001", "0.003", "inf", "nan", "0", "abc"}) {
    const auto r = run({"compress", wav.string(), "-o", out.string(), "--chunk-seconds", seconds, "-q"});
    EXPECT_EQ(r.code, 2) << seconds;
    EXPECT_LT(r.err.size(), 200u) << r.err;
    EXPECT_NE(r.err.find("--chunk-seconds"), std::string::npos) << r.err;
  }
  EXPECT_NE(run({"compress", wav.string(), "-o", out.string(), "--chunk-seconds", "0.00001"}).err.find("at least 64"), std::string::npos);
  test::write_file(dir / "raw.bin", std::vector<std::uint8_t>(4000, 1));
  for (const char* rate : {"1e-9", "nan", "inf", "0"}) {
    const auto r = run({"compress", (dir / "raw.bin").string(), "--raw-channels", "1", "--raw-rate", rate, "-o", out.string(), "-q"});
    EXPECT_EQ(r.code, 2) << rate;
    EXPECT_NE(r.err.find("--raw-rate"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(out));

  fs::copy_file(wav, dir / "a\\b.wav");
  auto r = run({"compress", (dir / "a\\b.wav").string(), "-o", out.string(), "-q"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("backslash"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("model"), std::string::npos) << r.err;

  auto empty = test::read_file(wav);
  empty.resize(44);
  empty[40] = empty[41] = empty[42] = empty[43] = 0;  // data size 0
  test::write_file(dir / "empty.wav", empty);
  ASSERT_EQ(run({"compress", (dir / "empty.wav").string(), "-o", out.string(), "-q"}).code, 0);
  r = run({"extract", out.string(), "-o", (dir / "w.npy").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no samples"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "w.npy"));

  // A file where decompress's directory should be.
  test::write_file(dir / "not_a_folder", {1});
  r = run({"decompress", out.string(), "-o", (dir / "not_a_folder").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot restore into " + (dir / "not_a_folder").string() + ": Not a directory"), std::string::npos) << r.err;
}

// An unfinalized WAV (data size 0, the samples after it, as a crashed recorder leaves it): a
// warning, and with --repair-wav-size the samples compressed as samples; both restore the file
// byte for byte.
TEST(Cli, UnfinalizedWavIsNamedAndRepairedOnRequest) {
  test::TempDir dir;
  auto bytes = test::read_file(kSample / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav");
  ASSERT_EQ(std::string(bytes.begin() + 36, bytes.begin() + 40), "data");
  bytes[40] = bytes[41] = bytes[42] = bytes[43] = 0;  // the data size a recorder writes first
  test::write_file(dir / "crashed.wav", bytes);
  auto r = run({"compress", (dir / "crashed.wav").string(), "-o", (dir / "a.spikey").string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("declares 0 frame(s)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--repair-wav-size"), std::string::npos) << r.err;
  const double kept_verbatim = json::parse(r.out)["ratio"].get<double>();
  r = run({"compress", (dir / "crashed.wav").string(), "-o", (dir / "b.spikey").string(), "--repair-wav-size", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto repaired = json::parse(r.out);
  EXPECT_GT(repaired["ratio"].get<double>(), kept_verbatim * 1.2);
  const auto info = json::parse(run({"info", (dir / "b.spikey").string(), "--json"}).out);
  EXPECT_EQ(info["total_samples"].get<std::uint64_t>(), (bytes.size() - 44) / 2);
  for (const char* archive : {"a.spikey", "b.spikey"}) {
    const fs::path out = dir / (std::string(archive) + ".out");
    ASSERT_EQ(run({"decompress", (dir / archive).string(), "-o", out.string(), "-q"}).code, 0);
    EXPECT_EQ(test::read_file(out / "crashed.wav"), bytes) << archive;
  }
}

// "-" is standard input for compress (a WAV, or raw int16 with --raw-*) and standard output for
// compress and extract (with --format); a FIFO or device as an output is refused, not replaced.
TEST(Cli, StandardStreamsAndSpecialFiles) {
  test::TempDir dir;
  const fs::path wav = kSample / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav";
  const std::string spikey = quote(SPIKEY_CLI_PATH);
  const auto shell = [](const std::string& command) {
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  };
  const fs::path piped = dir / "piped.spikey";
  ASSERT_EQ(shell(spikey + " compress - -o - -q < " + quote(wav.string()) + " > " + quote(piped.string())), 0);
  ASSERT_EQ(run({"verify", piped.string(), "-q"}).code, 0);
  ASSERT_EQ(run({"decompress", piped.string(), "-o", (dir / "out").string(), "-q"}).code, 0);
  EXPECT_EQ(test::read_file(dir / "out" / "stdin.wav"), test::read_file(wav));

  // Raw int16 on standard input.
  const fs::path raw = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  ASSERT_EQ(shell(spikey + " compress - --raw-channels 32 --raw-rate 30000 -q -o " + quote((dir / "raw.spikey").string()) + " < " + quote(raw.string())), 0);
  ASSERT_EQ(run({"decompress", (dir / "raw.spikey").string(), "-o", (dir / "raw_out").string(), "-q"}).code, 0);
  EXPECT_EQ(test::read_file(dir / "raw_out" / "stdin.raw"), test::read_file(raw));
  EXPECT_EQ(shell(spikey + " compress - -o x.spikey -q < " + quote(raw.string()) + " 2>/dev/null"), 2) << "raw input needs --raw-*";

  // extract to standard output: the same bytes as to a file.
  ASSERT_EQ(run({"extract", piped.string(), "-o", (dir / "w.npy").string(), "--end-sample", "1000", "-q"}).code, 0);
  ASSERT_EQ(shell(spikey + " extract " + quote(piped.string()) + " -o - --format npy --end-sample 1000 -q > " + quote((dir / "w2.npy").string())), 0);
  EXPECT_EQ(test::read_file(dir / "w2.npy"), test::read_file(dir / "w.npy"));
  EXPECT_EQ(run({"extract", piped.string(), "-o", "-"}).code, 2) << "standard output needs --format";
  EXPECT_EQ(run({"compress", wav.string(), "-o", "-", "--json"}).code, 2) << "--json and the archive would share standard output";
  EXPECT_FALSE(fs::exists("-"));

  // A FIFO is not replaced by a regular file, even with -f.
  ASSERT_EQ(::mkfifo((dir / "fifo.npy").c_str(), 0644), 0);
  const auto r = run({"extract", piped.string(), "-o", (dir / "fifo.npy").string(), "-f"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("FIFO"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_fifo(dir / "fifo.npy"));
}

// Archives read from standard input ("-") by every command that reads one, and a one-file
// archive restored to standard output; what goes wrong names the archive ("standard input").
TEST(Cli, ArchivesThroughStandardStreams) {
  test::TempDir dir;
  const fs::path wav = kSample / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav";
  const std::string spikey = quote(SPIKEY_CLI_PATH);
  const auto shell = [&](const std::string& command, std::string* err = nullptr) {
    const fs::path err_file = dir / "stderr.txt";
    const int status = std::system((command + " 2>" + quote(err_file.string())).c_str());
    if (err) {
      const auto bytes = test::read_file(err_file);
      err->assign(bytes.begin(), bytes.end());
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  };
  const fs::path archive = dir / "one.spikey";
  ASSERT_EQ(run({"compress", wav.string(), "-o", archive.string(), "-q"}).code, 0);
  const std::string from_archive = " < " + quote(archive.string());

  // A pipe end to end: compress to standard output, restore from standard input to standard output.
  const fs::path piped = dir / "piped.wav";
  ASSERT_EQ(shell(spikey + " compress - -o - -q < " + quote(wav.string()) + " | " + spikey + " decompress - -o - -q > " + quote(piped.string())), 0);
  EXPECT_EQ(test::read_file(piped), test::read_file(wav));

  ASSERT_EQ(shell(spikey + " verify - --json" + from_archive + " > " + quote((dir / "v.json").string())), 0);
  const auto verify_json = test::read_file(dir / "v.json");
  const json v = json::parse(std::string(verify_json.begin(), verify_json.end()));
  EXPECT_TRUE(v["ok"].get<bool>());
  EXPECT_EQ(v["archive_bytes"].get<std::uint64_t>(), fs::file_size(archive));
  ASSERT_EQ(shell(spikey + " info -" + from_archive + " > " + quote((dir / "info.txt").string())), 0);
  const auto info = test::read_file(dir / "info.txt");
  EXPECT_NE(std::string(info.begin(), info.end()).find("standard input"), std::string::npos);
  ASSERT_EQ(run({"extract", archive.string(), "-o", (dir / "w.npy").string(), "--end-sample", "700", "-q"}).code, 0);
  ASSERT_EQ(shell(spikey + " extract - -o - --format npy --end-sample 700 -q" + from_archive + " > " + quote((dir / "w2.npy").string())), 0);
  EXPECT_EQ(test::read_file(dir / "w2.npy"), test::read_file(dir / "w.npy"));

  // Damage read from standard input is named as such; nothing reaches standard output.
  auto bytes = test::read_file(archive);
  bytes[bytes.size() / 2] ^= 0x10;
  test::write_file(dir / "bad.spikey", bytes);
  std::string err;
  EXPECT_EQ(shell(spikey + " decompress - -o - < " + quote((dir / "bad.spikey").string()) + " > " + quote((dir / "bad.wav").string()), &err), 1);
  EXPECT_EQ(err.rfind("spikey: standard input: chunk", 0), 0u) << err;
  EXPECT_EQ(fs::file_size(dir / "bad.wav"), 0u) << "an unchecked file never reaches standard output";
  ASSERT_EQ(shell(spikey + " salvage - -o " + quote((dir / "saved.spikey").string()) + " -q < " + quote((dir / "bad.spikey").string())), 0);
  EXPECT_EQ(run({"verify", (dir / "saved.spikey").string(), "-q"}).code, 3) << "a salvage with a chunk lost";
  EXPECT_EQ(shell(spikey + " verify - < /dev/null", &err), 1);
  EXPECT_NE(err.find("standard input: not a Spikey archive"), std::string::npos) << err;

  // Standard output holds one file: an archive of several is refused before anything is decoded.
  ASSERT_EQ(run({"compress", kSample.string(), "-o", (dir / "many.spikey").string(), "-q"}).code, 0);
  const auto many = run({"decompress", (dir / "many.spikey").string(), "-o", "-"});
  EXPECT_EQ(many.code, 2);
  EXPECT_TRUE(many.out.empty());
  EXPECT_NE(many.err.find("files; standard output (-o -) takes an archive of one"), std::string::npos) << many.err;
  EXPECT_FALSE(fs::exists("-"));
}

// spikey verify *.spikey, spikey info *.spikey: every archive is checked and reported whatever
// the ones before it gave; the exit status is the worst (a failure, then a salvaged archive).
TEST(Cli, SeveralArchivesAreEachCheckedAndReported) {
  test::TempDir dir;
  const fs::path good = dir / "good.spikey", bad = dir / "bad.spikey", saved = dir / "saved.spikey";
  ASSERT_EQ(run({"compress", (kSample / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav").string(), "-o", good.string(), "-q"}).code, 0);
  auto bytes = test::read_file(good);
  bytes[bytes.size() / 2] ^= 0x10;
  test::write_file(bad, bytes);
  ASSERT_EQ(run({"salvage", bad.string(), "-o", saved.string(), "-q"}).code, 0);
  const fs::path missing = dir / "missing.spikey";

  auto r = run({"verify", good.string(), bad.string(), missing.string(), good.string()});
  EXPECT_EQ(r.code, 1);
  std::size_t ok_lines = 0;
  for (std::size_t at = r.out.find("OK "); at != std::string::npos; at = r.out.find("OK ", at + 1)) ++ok_lines;
  EXPECT_EQ(ok_lines, 2u) << "the archive after the failures is checked too: " << r.out;
  EXPECT_NE(r.err.find(bad.string() + ": chunk"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cannot open " + missing.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 of 4 archives OK, 2 failed: " + bad.string() + " " + missing.string()), std::string::npos) << r.err;

  r = run({"verify", good.string(), saved.string(), "-q"});
  EXPECT_EQ(r.code, 3) << "a salvaged archive and no failure";
  r = run({"verify", saved.string(), bad.string(), "-q"});
  EXPECT_EQ(r.code, 1) << "a failure outweighs a salvaged archive";

  r = run({"verify", good.string(), bad.string(), "--json"});
  EXPECT_EQ(r.code, 1);
  const json reports = json::parse(r.out);
  ASSERT_TRUE(reports.is_array());
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_TRUE(reports[0]["ok"].get<bool>());
  EXPECT_FALSE(reports[1]["ok"].get<bool>());
  EXPECT_EQ(reports[1]["archive"], bad.string());
  EXPECT_NE(reports[1]["error"].get<std::string>().find("chunk"), std::string::npos);
  EXPECT_TRUE(json::parse(run({"verify", good.string(), "--json"}).out).is_object()) << "one archive: one object, as before";

  r = run({"info", good.string(), missing.string(), saved.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("archive       " + good.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("archive       " + saved.string()), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("cannot open " + missing.string()), std::string::npos) << r.err;
  const json infos = json::parse(run({"info", good.string(), saved.string(), "--json"}).out);
  ASSERT_TRUE(infos.is_array());
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[1]["lost_chunks"].get<std::uint64_t>(), 1u);
  EXPECT_EQ(run({"verify", "-", "-"}).code, 2);
}

// Binary data is neither typed in nor printed on a terminal: "-" there is a usage error, and
// nothing is read or written.
TEST(Cli, StandardStreamsOnATerminalAreRefused) {
  test::TempDir dir;
  const fs::path wav = kSample / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav";
  const fs::path archive = dir / "one.spikey";
  ASSERT_EQ(run({"compress", wav.string(), "-o", archive.string(), "-q"}).code, 0);
  // Runs spikey with standard input or output (`terminal_fd`) on a pseudo-terminal.
  const auto on_terminal = [&](int terminal_fd, const std::vector<std::string>& args) {
    const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
    EXPECT_GE(master, 0);
    EXPECT_EQ(::grantpt(master), 0);
    EXPECT_EQ(::unlockpt(master), 0);
    const std::string terminal = ::ptsname(master);
    const fs::path err_file = dir / "stderr.txt";
    const pid_t child = ::fork();
    if (child == 0) {
      const int tty = ::open(terminal.c_str(), O_RDWR | O_NOCTTY);
      const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int null = ::open("/dev/null", O_RDWR);
      if (tty < 0 || err < 0 || null < 0) ::_exit(126);
      ::dup2(terminal_fd == STDIN_FILENO ? tty : null, STDIN_FILENO);
      ::dup2(terminal_fd == STDOUT_FILENO ? tty : null, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      std::vector<std::string> argv_text{SPIKEY_CLI_PATH};
      argv_text.insert(argv_text.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : argv_text) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    // Drain what reaches the terminal and stop a run that waits on it: a failure, not a hang.
    ::fcntl(master, F_SETFL, O_NONBLOCK);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    while (::waitpid(child, &status, WNOHANG) != child) {
      char drained[4096];
      while (::read(master, drained, sizeof drained) > 0) {
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(child, SIGKILL);
        ::waitpid(child, &status, 0);
        break;
      }
      ::usleep(5000);
    }
    ::close(master);
    const auto err = test::read_file(err_file);
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : 128, std::string(err.begin(), err.end()));
  };
  for (const auto& args : std::vector<std::vector<std::string>>{{"verify", "-"}, {"info", "-"}, {"decompress", "-", "-o", (dir / "out").string()},
                                                                {"extract", "-", "-o", (dir / "w.npy").string()}, {"compress", "-", "-o", (dir / "x.spikey").string()}}) {
    const auto [code, err] = on_terminal(STDIN_FILENO, args);
    EXPECT_EQ(code, 2) << args.front() << ": " << err;
    EXPECT_NE(err.find("standard input (-) is a terminal"), std::string::npos) << err;
  }
  for (const auto& args : std::vector<std::vector<std::string>>{{"decompress", archive.string(), "-o", "-"},
                                                                {"extract", archive.string(), "-o", "-", "--format", "bin"},
                                                                {"compress", wav.string(), "-o", "-"}}) {
    const auto [code, err] = on_terminal(STDOUT_FILENO, args);
    EXPECT_EQ(code, 2) << args.front() << ": " << err;
    EXPECT_NE(err.find("standard output (-o -) is a terminal"), std::string::npos) << err;
  }
  EXPECT_FALSE(fs::exists(dir / "out"));
  EXPECT_FALSE(fs::exists(dir / "x.spikey"));
}

TEST(Cli, WrongUsageExitsWithTwo) {
  test::TempDir dir;
  EXPECT_EQ(run({"compress"}).code, 2);
  EXPECT_EQ(run({"compress", kSample.string(), "--level", "ultra", "-o", (dir / "x.spikey").string()}).code, 2);
  EXPECT_EQ(run({"compress", kSample.string(), "--chunk-seconds", "-1", "-o", (dir / "x.spikey").string()}).code, 2);
  EXPECT_EQ(run({"compress", kSample.string(), kSample.string()}).code, 2);  // two inputs, no -o
  EXPECT_EQ(run({"compress", "x.bin", "--raw-channels", "4"}).code, 2);       // rate missing
  EXPECT_EQ(run({"frobnicate"}).code, 2);
  EXPECT_EQ(run({"--help"}).code, 0);
  ASSERT_EQ(run({"compress", kSample.string(), "-o", (dir / "s.spikey").string(), "-q"}).code, 0);
  auto r = run({"extract", (dir / "s.spikey").string(), "--channels", "3", "-o", (dir / "w.bin").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(run({"extract", (dir / "s.spikey").string(), "-o", (dir / "w.xyz").string()}).code, 2);
  EXPECT_EQ(run({"extract", (dir / "s.spikey").string(), "--start", "9", "-o", (dir / "w.bin").string()}).code, 2);
  EXPECT_FALSE(fs::exists(dir / "w.bin"));
}

TEST(Cli, BackendChoice) {
  test::TempDir dir;
  // cpu always works and says so in --json.
  auto r = run({"compress", kSample.string(), "-o", (dir / "cpu.spikey").string(), "--backend", "cpu", "--level", "fast", "--json", "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["backend"], "cpu");
  const char* require = std::getenv("SPIKEY_REQUIRE_GPU");
  if (require != nullptr && std::string(require) == "1") {
    r = run({"compress", kSample.string(), "-o", (dir / "gpu.spikey").string(), "--backend", "cuda", "--level", "fast", "--json", "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(test::read_file(dir / "gpu.spikey"), test::read_file(dir / "cpu.spikey")) << "GPU and CPU archives differ";
    return;
  }
  // Without a device (this machine): cuda is a clear error and writes nothing; auto falls back.
  r = run({"compress", kSample.string(), "-o", (dir / "gpu.spikey").string(), "--backend", "cuda"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--backend cuda"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "gpu.spikey"));
  r = run({"compress", kSample.string(), "-o", (dir / "auto.spikey").string(), "--level", "fast"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("compressing on the CPU"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_file(dir / "auto.spikey"), test::read_file(dir / "cpu.spikey"));
}

TEST(Cli, TopologyTrainAndModelReuse) {
  test::TempDir dir;
  const std::string cinpla = (test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat").string();
  const std::vector<std::string> raw = {"--raw-channels", "32", "--raw-rate", "30000"};
  const auto with_raw = [&](std::vector<std::string> args) {
    args.insert(args.begin() + 2, raw.begin(), raw.end());
    return run(args);
  };
  auto r = with_raw({"topology", cinpla, "-o", (dir / "topo.json").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const json topo = json::parse(test::read_file(dir / "topo.json"));
  EXPECT_EQ(topo["neighbours"].size(), 32u);
  r = with_raw({"train", cinpla, "-o", (dir / "m.spkm").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  // The model encodes the same recording to the same bytes as training it again does.
  r = with_raw({"compress", cinpla, "--model", (dir / "m.spkm").string(), "-o", (dir / "model.spikey").string(), "-q", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["codec"], "mt2") << "the network stage helps this recording";
  r = run({"info", (dir / "model.spikey").string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json info = json::parse(r.out);
  EXPECT_EQ(info["codec"]["network_hidden"], 16);
  std::size_t with_network = 0;
  for (const auto& c : info["channels"]) with_network += c["predictor"]["network"].get<bool>();
  EXPECT_GT(with_network, 0u);
  r = run({"info", (dir / "model.spikey").string()});
  EXPECT_NE(r.out.find("with the network stage (16 hidden units)"), std::string::npos) << r.out;
  r = with_raw({"compress", cinpla, "--topology", (dir / "topo.json").string(), "-o", (dir / "topo.spikey").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = run({"verify", (dir / "model.spikey").string()});
  EXPECT_EQ(r.code, 0) << r.err;
  // A model for 32 channels does not fit 3: a clear error, nothing written.
  r = run({"compress", kSample.string(), "--model", (dir / "m.spkm").string(), "-o", (dir / "wrong.spikey").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("model is for 32 channels"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "wrong.spikey"));
  // Architecture from a config file; unknown keys are rejected.
  test::write_file(dir / "cfg.json", {'{', '"', 'w', 'a', 'v', 'e', 'l', 'e', 't', '_', 'l', 'e', 'v', 'e', 'l', 's', '"', ':', '0', '}'});
  r = with_raw({"compress", cinpla, "--model-config", (dir / "cfg.json").string(), "-o", (dir / "cfg.spikey").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  test::write_text(dir / "nonet.json", std::string(R"({"network_hidden": 0, "network_seed": 3})"));
  r = with_raw({"compress", cinpla, "--model-config", (dir / "nonet.json").string(), "-o", (dir / "nonet.spikey").string(), "-q", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["codec"], "mt1") << "no network stage: the codec stays mt1";
  // The GRU projector (codec mt3 at level default), reported by info; its size and name are checked.
  test::write_text(dir / "gru.json", std::string(R"({"network_projector": "gru", "gru_hidden": 4, "network_min_saving": 0})"));
  r = with_raw({"compress", cinpla, "--model-config", (dir / "gru.json").string(), "-o", (dir / "gru.spikey").string(), "-q", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["codec"], "mt3");
  r = run({"info", (dir / "gru.spikey").string(), "--json"});
  EXPECT_EQ(json::parse(r.out)["codec"]["network_projector"], "gru");
  r = run({"info", (dir / "gru.spikey").string()});
  EXPECT_NE(r.out.find("with the network stage (4-unit GRU)"), std::string::npos) << r.out;
  test::write_text(dir / "gru_big.json", std::string(R"({"gru_hidden": 20, "network_projector": "gru"})"));
  r = with_raw({"compress", cinpla, "--model-config", (dir / "gru_big.json").string(), "-o", (dir / "gru_big.spikey").string(), "-q"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("gru_hidden must be an integer in 1..16"), std::string::npos) << r.err;
  test::write_text(dir / "lstm.json", std::string(R"({"network_projector": "lstm"})"));
  r = with_raw({"compress", cinpla, "--model-config", (dir / "lstm.json").string(), "-o", (dir / "lstm.spikey").string(), "-q"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("network_projector must be"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "lstm.spikey"));
  test::write_text(dir / "big.json", std::string(R"({"network_hidden": 33})"));
  r = with_raw({"compress", cinpla, "--model-config", (dir / "big.json").string(), "-o", (dir / "big.spikey").string(), "-q"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("network_hidden must be an integer in 0..32"), std::string::npos) << r.err;
  test::write_file(dir / "typo.json", {'{', '"', 'l', 'e', 'v', 'e', 'l', 's', '"', ':', '0', '}'});
  r = with_raw({"compress", cinpla, "--model-config", (dir / "typo.json").string(), "-o", (dir / "typo.spikey").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown key"), std::string::npos) << r.err;
  test::write_file(dir / "notmodel.spkm", {'{', '}'});
  r = run({"compress", kSample.string(), "--model", (dir / "notmodel.spkm").string(), "-o", (dir / "x.spikey").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not a spikey model"), std::string::npos) << r.err;
}

TEST(Cli, ModelTrainedOnOneRecordingEncodesAnother) {
  SPIKEY_REQUIRE_SHARED("tdc_locust/locust_trial_02.raw");
  test::TempDir dir;
  const auto trial = [](int i) { return (test::shared_data_dir() / "tdc_locust" / ("locust_trial_0" + std::to_string(i) + ".raw")).string(); };
  auto r = run({"train", trial(1), "--raw-channels", "4", "--raw-rate", "15000", "-o", (dir / "locust.spkm").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = run({"compress", trial(2), "--raw-channels", "4", "--raw-rate", "15000", "--model", (dir / "locust.spkm").string(), "-o",
           (dir / "t2.spikey").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;  // verify-after-compress checked every byte
  r = run({"decompress", (dir / "t2.spikey").string(), "-o", (dir / "out").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(test::read_file(dir / "out" / "locust_trial_02.raw"), test::read_file(trial(2)));
}

TEST(Cli, CorruptArchivesAreReportedWithChunkAndOffset) {
  test::TempDir dir;
  ASSERT_EQ(run({"compress", kSample.string(), "-o", (dir / "s.spikey").string(), "-q"}).code, 0);
  auto bytes = test::read_file(dir / "s.spikey");
  bytes[bytes.size() / 2] ^= 0x04;  // inside a chunk payload
  test::write_file(dir / "bad.spikey", bytes);
  auto r = run({"verify", (dir / "bad.spikey").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.spikey: chunk"), std::string::npos) << "the message names the archive: " << r.err;
  EXPECT_NE(r.err.find("byte"), std::string::npos) << r.err;
  r = run({"verify", (dir / "bad.spikey").string(), "--json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(json::parse(r.out)["ok"].get<bool>());
  r = run({"decompress", (dir / "bad.spikey").string(), "-o", (dir / "out").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(!fs::exists(dir / "out") || fs::is_empty(dir / "out")) << "no partial files";

  bytes = test::read_file(dir / "s.spikey");
  bytes.resize(bytes.size() - 100);
  test::write_file(dir / "short.spikey", bytes);
  r = run({"info", (dir / "short.spikey").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("short.spikey: archive is truncated"), std::string::npos) << r.err;
}

// A folder's side files are not in the metadata copy (format 11): with the metadata section
// damaged, decompress refuses before writing anything and names one; verify fails listing
// them; salvage names them as lost and writes an archive of the rest.
TEST(Cli, SideFilesOnlyInADamagedMetadataSectionAreNamed) {
  test::TempDir dir;
  const fs::path folder = test::samples_dir() / "open_ephys" / "Record Node 101";
  ASSERT_EQ(run({"compress", folder.string(), "-o", (dir / "oe.spikey").string(), "--chunk-seconds", "0.05", "-q"}).code, 0);
  auto bytes = test::read_file(dir / "oe.spikey");
  bytes[60] ^= 0x08;
  test::write_file(dir / "bad.spikey", bytes);
  auto r = run({"decompress", (dir / "bad.spikey").string(), "-o", (dir / "out").string(), "-q"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("timestamps.npy: not in this archive's metadata copy"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out" / "settings.xml"));
  EXPECT_FALSE(fs::exists(dir / "out" / "experiment1"));
  r = run({"verify", (dir / "bad.spikey").string(), "--json"});
  EXPECT_EQ(r.code, 1);
  const json v = json::parse(r.out);
  EXPECT_EQ(v["missing_files"].size(), 3u);
  r = run({"salvage", (dir / "bad.spikey").string(), "-o", (dir / "saved.spikey").string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["lost_files"].size(), 3u);
  EXPECT_EQ(run({"verify", (dir / "saved.spikey").string(), "-q"}).code, 0);
}

TEST(Cli, SalvageKeepsIntactChunksAndReportsWhatWasLost) {
  test::TempDir dir;
  ASSERT_EQ(run({"compress", kSample.string(), "-o", (dir / "s.spikey").string(), "--chunk-seconds", "0.5", "-q"}).code, 0);
  auto bytes = test::read_file(dir / "s.spikey");
  bytes.resize(bytes.size() * 2 / 3);  // cut in the middle of the chunk records
  test::write_file(dir / "cut.spikey", bytes);

  auto r = run({"salvage", (dir / "cut.spikey").string(), "-o", (dir / "saved.spikey").string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("lost: chunks"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("of channels 0-2"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_file(dir / "cut.spikey"), bytes) << "the damaged input is never modified";

  r = run({"salvage", (dir / "cut.spikey").string(), "-o", (dir / "saved.spikey").string()});
  EXPECT_EQ(r.code, 1) << "an existing output needs -f";
  r = run({"salvage", (dir / "cut.spikey").string(), "-o", (dir / "saved2.spikey").string(), "--json"});
  ASSERT_EQ(r.code, 0);
  const auto j = json::parse(r.out);
  EXPECT_GT(j["lost_chunks"].get<int>(), 0);
  EXPECT_EQ(j["recovered_chunks"].get<int>() + j["lost_chunks"].get<int>(), j["chunks"].get<int>());
  EXPECT_EQ(j["lost"][0]["channels"], "0-2");

  // verify checks what was kept and says, in its exit status too, that data is missing;
  // decompress needs --fill-lost.
  r = run({"verify", (dir / "saved.spikey").string()});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.out.find("INCOMPLETE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("salvaged archive"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("ratio"), std::string::npos) << "no ratio for an archive that lost data: " << r.out;
  r = run({"verify", (dir / "saved.spikey").string(), "--json"});
  EXPECT_EQ(r.code, 3);
  const auto v = json::parse(r.out);
  EXPECT_GT(v["lost_chunks"].get<int>(), 0);
  EXPECT_FALSE(v["complete"].get<bool>());
  EXPECT_TRUE(v["ratio"].is_null());
  EXPECT_TRUE(v["ok"].get<bool>());
  r = run({"verify", (dir / "s.spikey").string(), "--json"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(json::parse(r.out)["complete"].get<bool>());
  r = run({"decompress", (dir / "saved.spikey").string(), "-o", (dir / "out").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("lost"), std::string::npos) << r.err;
  EXPECT_TRUE(!fs::exists(dir / "out") || fs::is_empty(dir / "out")) << "nothing written";
  r = run({"decompress", (dir / "saved.spikey").string(), "-o", (dir / "out").string(), "--fill-lost"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("written as zeros"), std::string::npos) << r.err;
  EXPECT_EQ(entries(dir / "out").size(), 3u);

  // Every chunk damaged: a salvage that keeps nothing fails and writes nothing.
  bytes = test::read_file(dir / "s.spikey");
  const std::vector<std::uint8_t> magic = {'S', 'P', 'K', 'C'};
  int damaged = 0;
  for (auto it = std::search(bytes.begin(), bytes.end(), magic.begin(), magic.end()); it != bytes.end();
       it = std::search(it + 1, bytes.end(), magic.begin(), magic.end())) {
    ASSERT_LT(static_cast<std::size_t>(it - bytes.begin()) + 48, bytes.size());
    *(it + 20) ^= 0xff;  // the payload's first stream size: its stream directory no longer parses
    ++damaged;
  }
  ASSERT_GE(damaged, 2);
  test::write_file(dir / "dead.spikey", bytes);
  r = run({"salvage", (dir / "dead.spikey").string(), "-o", (dir / "dead_saved.spikey").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("nothing to salvage"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "dead_saved.spikey"));

  // Damaged metadata: salvage reads its copy before the index (format version 10) and keeps
  // everything; with the copy damaged too, nothing can be salvaged: exit 1, no output.
  bytes = test::read_file(dir / "s.spikey");
  bytes[50] ^= 0xff;
  test::write_file(dir / "meta.spikey", bytes);
  r = run({"salvage", (dir / "meta.spikey").string(), "-o", (dir / "m.spikey").string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("metadata copy"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was lost"), std::string::npos) << r.err;
  EXPECT_EQ(run({"verify", (dir / "m.spikey").string()}).code, 0);
  std::uint64_t index_offset = 0, metadata_size = 0;
  std::memcpy(&index_offset, bytes.data() + bytes.size() - format::kFooterSize, 8);
  std::memcpy(&metadata_size, bytes.data() + 16, 8);
  bytes[index_offset - format::kMetadataTrailerSize - metadata_size + 10] ^= 0xff;
  test::write_file(dir / "meta2.spikey", bytes);
  r = run({"salvage", (dir / "meta2.spikey").string(), "-o", (dir / "m2.spikey").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("metadata"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "m2.spikey"));
}

// One change in each region of an archive: verify and decompress both exit 1, name the byte
// offset (and the chunk, for chunk damage) and write nothing. Damage to the header, the metadata
// section or its copy (format version 10) is worked around: verify still exits 1 and names it,
// decompress restores every file exactly and warns.
TEST(Cli, DamageInEveryRegionIsNamedByVerifyAndDecompress) {
  test::TempDir dir;
  ASSERT_EQ(run({"compress", kSample.string(), "-o", (dir / "s.spikey").string(), "--chunk-seconds", "1", "-q"}).code, 0);
  const auto original = test::read_file(dir / "s.spikey");
  const format::ArchiveReader reader(dir / "s.spikey");
  const std::uint64_t frame = reader.index()[2].record_offset;
  const std::uint64_t copy = reader.index().back().record_offset + format::kChunkFrameSize + reader.index().back().payload_size;
  struct Region {
    const char* name;
    std::uint64_t offset;
    bool names_chunk;
    bool worked_around = false;
  };
  for (const Region& region : {Region{"header", 12, false, true}, Region{"metadata", 45, false, true}, Region{"chunk frame", frame + 9, true},
                               Region{"payload", frame + format::kChunkFrameSize + 30, true},
                               Region{"metadata copy", copy + 20, false, true},
                               Region{"index", original.size() - format::kFooterSize - 5, false},
                               Region{"footer", original.size() - 20, false}}) {
    SCOPED_TRACE(region.name);
    auto bytes = original;
    bytes[region.offset] ^= 0x10;
    test::write_file(dir / "bad.spikey", bytes);
    for (const char* command : {"verify", "decompress"}) {
      SCOPED_TRACE(command);
      fs::remove_all(dir / "out");
      const auto r = std::string(command) == "verify" ? run({command, (dir / "bad.spikey").string()})
                                                       : run({command, (dir / "bad.spikey").string(), "-o", (dir / "out").string()});
      if (region.worked_around && std::string(command) == "decompress") {
        const auto info = run({"info", (dir / "bad.spikey").string(), "--json"});
        EXPECT_EQ(info.code, 0) << info.err;
        EXPECT_EQ(json::parse(info.out)["damage"].size(), 1u) << info.out;
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_NE(r.err.find("warning"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("byte"), std::string::npos) << r.err;
        for (const auto& e : fs::directory_iterator(kSample))
          if (e.path().extension() == ".wav") EXPECT_EQ(test::read_file(dir / "out" / e.path().filename()), test::read_file(e.path()));
        continue;
      }
      EXPECT_EQ(r.code, 1);
      EXPECT_TRUE(r.err.find("byte") != std::string::npos || r.err.find("truncated") != std::string::npos) << r.err;
      if (region.names_chunk) EXPECT_NE(r.err.find("chunk 2"), std::string::npos) << r.err;
      EXPECT_TRUE(!fs::exists(dir / "out") || fs::is_empty(dir / "out")) << "no partial files";
    }
  }
}

namespace {

// A WAV header with the given format fields and `data_bytes` of data.
std::vector<std::uint8_t> wav_with(std::uint16_t tag, std::uint16_t channels, std::uint16_t bits, std::uint32_t data_bytes,
                                   std::uint32_t fmt_size = 16) {
  std::vector<std::uint8_t> b;
  const auto u16 = [&](std::uint32_t v) { b.push_back(static_cast<std::uint8_t>(v)), b.push_back(static_cast<std::uint8_t>(v >> 8)); };
  const auto u32 = [&](std::uint32_t v) { u16(v & 0xffff), u16(v >> 16); };
  const auto tag4 = [&](const char* t) {
    for (int k = 0; k < 4; ++k) b.push_back(static_cast<std::uint8_t>(t[k]));  // not insert: GCC 12 warns of an overflow that cannot happen
  };
  tag4("RIFF"), u32(36 + data_bytes), tag4("WAVE"), tag4("fmt "), u32(fmt_size);
  u16(tag), u16(channels), u32(19531), u32(19531u * channels * bits / 8), u16(channels * bits / 8), u16(bits);
  tag4("data"), u32(data_bytes);
  for (std::uint32_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<std::uint8_t>(i * 37));
  return b;
}

}  // namespace

// Each bad input: exit 1, one line naming the file and the reason, no output or temporary
// file, the input untouched.
TEST(Cli, BadInputFilesAreRefusedClearly) {
  struct Bad {
    const char* file;
    std::vector<std::uint8_t> bytes;
    const char* reason;
  };
  const std::vector<Bad> cases = {
      {"nothing.wav", {}, "empty (0 bytes)"},
      {"eight.wav", wav_with(1, 1, 8, 100), "8-bit"},
      {"twentyfour.wav", wav_with(1, 1, 24, 99), "24-bit"},
      {"thirtytwo.wav", wav_with(1, 1, 32, 100), "32-bit"},
      {"float.wav", wav_with(3, 1, 32, 100), "floating-point"},
      {"hugefmt.wav", wav_with(1, 1, 16, 100, 0xfffffff0u), "fmt"},
      {"truncated.wav", [] { auto b = wav_with(1, 1, 16, 0); b.resize(30); return b; }(), "fmt"},
      {"text.wav", {'#', ' ', 'n', 'o', 't', 'e', 's', '\n'}, "not a WAV"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    test::TempDir dir;
    test::write_file(dir / c.file, c.bytes);
    const auto r = run({"compress", (dir / c.file).string(), "-o", (dir / "x.spikey").string()});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find(c.file), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.reason), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(entries(dir.path()), std::vector<std::string>{c.file}) << "no output, no temporary file";
    EXPECT_EQ(test::read_file(dir / c.file), c.bytes);
  }
}

TEST(Cli, UnreadableInputIsRefused) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: file permissions do not stop reads";
  test::TempDir dir;
  test::write_file(dir / "a.wav", test::make_wav(1, 1000, {1, 2, 3}));
  fs::permissions(dir / "a.wav", fs::perms::none);
  const auto r = run({"compress", (dir / "a.wav").string(), "-o", (dir / "x.spikey").string()});
  fs::permissions(dir / "a.wav", fs::perms::owner_all);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("a.wav"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "x.spikey"));
}

// A full disk, simulated with a file size limit (ulimit -f): every command that writes fails
// with a clear message, removes its temporary file and leaves inputs and earlier outputs alone.
TEST(Cli, FullDiskLeavesNoPartialOutput) {
  test::TempDir dir;
  ASSERT_EQ(run({"compress", kSample.string(), "-o", (dir / "s.spikey").string(), "-q"}).code, 0);
  const auto archive = test::read_file(dir / "s.spikey");
  const auto limited = [&](const std::string& args) {
    // 64 blocks of 512 bytes: far less than any output below.
    const std::string command = "ulimit -f 64; exec " + quote(SPIKEY_CLI_PATH) + " " + args + " 2>&1";
    FILE* pipe = ::popen(("sh -c " + quote(command)).c_str(), "r");
    std::string out;
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    const int status = ::pclose(pipe);
    return std::pair{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
  };
  const std::string in = quote(kSample.string()), a = quote((dir / "s.spikey").string());
  for (const std::string& args : {"compress " + in + " -o " + quote((dir / "new.spikey").string()),
                                  "decompress " + a + " -o " + quote((dir / "restored").string()),
                                  "extract " + a + " -o " + quote((dir / "window.npy").string()),
                                  "salvage " + a + " -o " + quote((dir / "saved.spikey").string())}) {
    SCOPED_TRACE(args);
    const auto [code, message] = limited(args);
    EXPECT_EQ(code, 1) << message;
    EXPECT_NE(message.find("File too large"), std::string::npos) << message;
    for (const auto& e : entries(dir.path())) EXPECT_TRUE(e == "s.spikey" || e == "restored") << "left behind: " << e;  // an empty directory at most
  }
  EXPECT_EQ(test::read_file(dir / "s.spikey"), archive);

  // Files a failed decompress already finished are taken back: the run leaves nothing and can
  // be run again without -f. a.wav (8 KB) is finished before b.wav (197 KB) passes the limit.
  fs::create_directories(dir / "two");
  auto small = test::read_file(kSample / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav");
  test::write_file(dir / "two" / "a.wav", test::make_wav(1, 19531, std::vector<std::int16_t>(4000, 7)));
  test::write_file(dir / "two" / "b.wav", small);
  ASSERT_EQ(run({"compress", (dir / "two" / "a.wav").string(), (dir / "two" / "b.wav").string(), "-o", (dir / "two.spikey").string(), "-q"}).code, 0);
  const auto [code, message] = limited("decompress " + quote((dir / "two.spikey").string()) + " -o " + quote((dir / "out").string()));
  EXPECT_EQ(code, 1) << message;
  EXPECT_TRUE(!fs::exists(dir / "out") || fs::is_empty(dir / "out")) << "a.wav was finished, then taken back";
  const auto again = run({"decompress", (dir / "two.spikey").string(), "-o", (dir / "out").string(), "-q"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(test::read_file(dir / "out" / "b.wav"), small);
}

// spikey batch without Slurm: every shard's entries archived once, per-entry reports, a failed
// entry reported and the rest done, and a second run a no-op on finished work.
TEST(Cli, BatchArchivesShardsResumesAndReportsFailures) {
  test::TempDir dir;
  const std::string n1 = (kSample / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav").string();
  const std::string rails = (kSample / "3830d316-1af4-4496-be1a-553298450516.wav").string();
  const std::string cinpla = (test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat").string();
  const std::string manifest = "# test\n" + n1 + "\n" + rails + " --level fast\n\"" + cinpla +
                               "\" --raw-channels 32 --raw-rate 30000 --chunk-seconds 0.05\n" + (dir / "missing.wav").string() + "\n";
  test::write_file(dir / "m.txt", std::vector<std::uint8_t>(manifest.begin(), manifest.end()));
  const fs::path out = dir / "out";
  const auto archive_of = [&](const std::string& input) { return fs::path(out.string() + fs::absolute(input).lexically_normal().string() + ".spikey"); };

  auto r0 = run({"batch", (dir / "m.txt").string(), "-o", out.string(), "--shard", "0/2", "-q"});
  auto r1 = run({"batch", (dir / "m.txt").string(), "-o", out.string(), "--shard", "1/2", "-q", "--json"});
  EXPECT_EQ(r0.code, 0) << r0.err;   // entries 0 and 2
  EXPECT_EQ(r1.code, 1) << r1.err;   // entries 1 and 3: the missing file fails, the other is done
  EXPECT_NE(r0.out.find("shard 0/2: 2 entries, 2 compressed, 0 skipped"), std::string::npos) << r0.out;
  const auto summary = json::parse(r1.out);
  EXPECT_EQ(summary["compressed"], 1);
  EXPECT_EQ(summary["failed"], 1);
  EXPECT_NE(r1.err.find("missing.wav"), std::string::npos) << r1.err;
  for (const auto& input : {n1, rails, cinpla}) {
    SCOPED_TRACE(input);
    ASSERT_TRUE(fs::exists(archive_of(input)));
    EXPECT_EQ(run({"verify", archive_of(input).string(), "-q"}).code, 0);
    const auto report = json::parse(test::read_file(fs::path(archive_of(input).string() + ".json")));
    EXPECT_EQ(report["status"], "compressed");
    EXPECT_GT(report["ratio"].get<double>(), 1.0);
    EXPECT_EQ(report["backend"], "cpu");
    EXPECT_EQ(report["archive_checksum"].get<std::string>().size(), 16u);
  }
  EXPECT_EQ(json::parse(test::read_file(fs::path(archive_of(rails).string() + ".json")))["codec"], "lpc1");  // --level fast
  const auto failed = json::parse(test::read_file(fs::path(archive_of((dir / "missing.wav").string()).string() + ".json")));
  EXPECT_EQ(failed["status"], "failed");

  // Resume: finished entries are skipped untouched; only the failing one is tried again.
  const auto before = fs::last_write_time(archive_of(n1));
  const auto r2 = run({"batch", (dir / "m.txt").string(), "-o", out.string(), "--json"});
  EXPECT_EQ(json::parse(r2.out)["skipped"], 3);
  EXPECT_EQ(json::parse(r2.out)["compressed"], 0);
  EXPECT_EQ(fs::last_write_time(archive_of(n1)), before);

  // A damaged archive does not verify, so the next run replaces it.
  auto bytes = test::read_file(archive_of(rails));
  bytes[bytes.size() / 2] ^= 1;
  test::write_file(archive_of(rails), bytes);
  const auto r3 = run({"batch", (dir / "m.txt").string(), "-o", out.string(), "--json"});
  EXPECT_EQ(json::parse(r3.out)["compressed"], 1);
  EXPECT_EQ(run({"verify", archive_of(rails).string(), "-q"}).code, 0);

  EXPECT_EQ(run({"batch", (dir / "m.txt").string(), "-o", out.string(), "--shard", "2/2"}).code, 2);
}

TEST(Cli, AcquisitionFoldersRoundTripByteIdentical) {
  // An Open Ephys recording folder and a SpikeGLX .bin/.meta pair, as a lab would pass them.
  const fs::path open_ephys = test::samples_dir() / "open_ephys" / "Record Node 101";
  const fs::path spikeglx = test::samples_dir() / "spikeglx";
  for (const auto& [input, name] : {std::pair{open_ephys, "oe"}, std::pair{spikeglx / "run_g0_t0.imec0.ap.bin", "sglx"}}) {
    test::TempDir dir;
    const fs::path archive = dir / (std::string(name) + ".spikey");
    auto r = run({"compress", input.string(), "-o", archive.string(), "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
    r = run({"decompress", archive.string(), "-o", (dir / "out").string(), "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
    const fs::path original_root = fs::is_directory(input) ? input : input.parent_path();
    std::size_t compared = 0;
    for (const auto& e : fs::recursive_directory_iterator(original_root)) {
      if (!e.is_regular_file()) continue;
      EXPECT_TRUE(test::read_file(e.path()) == test::read_file(dir / "out" / e.path().lexically_relative(original_root))) << e.path();
      ++compared;
    }
    EXPECT_EQ(compared, fs::is_directory(input) ? 4u : 2u);
    r = run({"info", archive.string(), "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const json info = json::parse(r.out);
    if (fs::is_directory(input)) {
      EXPECT_EQ(info["channels"][0]["name"], "CH1");
      EXPECT_EQ(info["channels"][0]["units"], "uV");
      EXPECT_EQ(info["sources"][0]["kind"], "open_ephys");
    } else {
      EXPECT_EQ(info["channels"][32]["name"], "SY0");
      EXPECT_EQ(info["channels"][32]["sync"], true);
      EXPECT_EQ(info["sources"][0]["kind"], "spikeglx");
      EXPECT_EQ(info["sources"][1]["kind"], "side_file");
    }
    r = run({"verify", archive.string()});
    EXPECT_EQ(r.code, 0) << r.err;
  }
}

TEST(Cli, StreamsAtDifferentRatesShareAnArchive) {
  // Two recordings at 1000 and 2000 Hz: one archive, each keeps its rate; a window's seconds
  // count at its channels' rate, and a window mixing the rates is refused.
  test::TempDir dir;
  std::vector<std::int16_t> slow(100), fast(200);
  for (std::size_t i = 0; i < slow.size(); ++i) slow[i] = static_cast<std::int16_t>(3 * i);
  for (std::size_t i = 0; i < fast.size(); ++i) fast[i] = static_cast<std::int16_t>(1000 - 5 * i);
  test::write_file(dir / "slow.wav", test::make_wav(1, 1000, slow));
  test::write_file(dir / "fast.wav", test::make_wav(1, 2000, fast));
  const std::string archive = (dir / "x.spikey").string();
  auto r = run({"compress", (dir / "slow.wav").string(), (dir / "fast.wav").string(), "-o", archive, "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = run({"info", archive, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json info = json::parse(r.out);
  EXPECT_EQ(info["sample_rate"], 2000);
  EXPECT_EQ(info["channels"][0]["sample_rate"], 1000);
  EXPECT_EQ(info["channels"][1]["sample_rate"], 2000);
  EXPECT_DOUBLE_EQ(info["duration_seconds"].get<double>(), 0.1);
  r = run({"info", archive});
  EXPECT_NE(r.out.find("1 channel(s) at 1000 Hz"), std::string::npos) << r.out;

  for (const auto& [channel, expected] : {std::pair{"0", std::vector<std::int16_t>(slow.begin() + 10, slow.begin() + 20)},
                                          std::pair{"1", std::vector<std::int16_t>(fast.begin() + 20, fast.begin() + 40)}}) {
    const fs::path out = dir / (std::string("w") + channel + ".bin");
    r = run({"extract", archive, "--channels", channel, "--start", "0.01", "--end", "0.02", "-o", out.string(), "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto bytes = test::read_file(out);
    ASSERT_EQ(bytes.size(), expected.size() * 2) << channel;
    EXPECT_EQ(std::memcmp(bytes.data(), expected.data(), bytes.size()), 0) << channel;
  }
  r = run({"extract", archive, "-o", (dir / "all.bin").string()});
  EXPECT_EQ(r.code, 2);  // a usage error, like any channel list that cannot be read
  EXPECT_NE(r.err.find("different sample rates"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "all.bin"));
  r = run({"decompress", archive, "-o", (dir / "restored").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(test::read_file(dir / "restored" / "slow.wav") == test::read_file(dir / "slow.wav"));
  EXPECT_TRUE(test::read_file(dir / "restored" / "fast.wav") == test::read_file(dir / "fast.wav"));
}

// The default chunk length is one second and at least 4096 samples (host::kDefaultMinChunkSamples):
// the cinpla slice read at 1 kHz (6000 frames) and a real Spike2 file (200.8 Hz) get chunks of
// 4096 samples from compress, batch and the training commands alike, at 30 kHz a second stays a
// second, and a --chunk-seconds the user gives is kept exactly, on the command line or in a
// manifest line.
TEST(Cli, LowRateRecordingsGetChunksOfAtLeast4096SamplesUnlessChosen) {
  test::TempDir dir;
  const std::string cinpla = (test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat").string();
  const std::string smr = (test::samples_dir() / "spike2" / "File_spike2_1.smr").string();
  const auto chunk_samples = [&](const fs::path& archive) {
    const auto r = run({"info", archive.string(), "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out)["chunk_samples"].get<std::uint64_t>();
  };
  const auto compress = [&](std::vector<std::string> args, const std::string& name) {
    args.insert(args.begin(), "compress");
    args.insert(args.end(), {"-q", "-o", (dir / name).string()});
    const auto r = run(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return chunk_samples(dir / name);
  };
  EXPECT_EQ(compress({cinpla, "--raw-channels", "32", "--raw-rate", "1000"}, "a.spikey"), 4096u);
  EXPECT_EQ(compress({cinpla, "--raw-channels", "32", "--raw-rate", "1000", "--chunk-seconds", "1"}, "b.spikey"), 1000u);
  EXPECT_EQ(compress({cinpla, "--raw-channels", "32", "--raw-rate", "30000"}, "c.spikey"), 30000u);
  EXPECT_EQ(compress({cinpla, "--raw-channels", "32", "--raw-rate", "30000", "--chunk-seconds", "0.05"}, "d.spikey"), 1500u);
  EXPECT_EQ(compress({smr}, "e.spikey"), 4096u);
  EXPECT_LT(fs::file_size(dir / "e.spikey"), 120000u);  // 131,748 bytes in 1-second chunks of 201 samples
  ASSERT_EQ(run({"decompress", (dir / "e.spikey").string(), "-o", (dir / "out").string(), "-q"}).code, 0);
  EXPECT_EQ(test::read_file(dir / "out" / "File_spike2_1.smr"), test::read_file(smr));

  const std::string manifest = "\"" + cinpla + "\" --raw-channels 32 --raw-rate 1000\n\"" + smr + "\" --chunk-seconds 2\n";
  test::write_file(dir / "m.txt", std::vector<std::uint8_t>(manifest.begin(), manifest.end()));
  const auto r = run({"batch", (dir / "m.txt").string(), "-o", (dir / "batch").string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto archive_of = [&](const std::string& input) { return fs::path((dir / "batch").string() + fs::absolute(input).lexically_normal().string() + ".spikey"); };
  EXPECT_EQ(chunk_samples(archive_of(cinpla)), 4096u);
  EXPECT_EQ(chunk_samples(archive_of(smr)), 402u);  // 2 s at 200.8 Hz, as the line asks
}
