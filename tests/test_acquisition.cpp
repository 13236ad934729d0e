// Acquisition systems' layouts (SPEC.md §4.1, §4.2, §6.10): Open Ephys recording folders and
// SpikeGLX .bin/.meta pairs archive as one unit and restore byte-identical; side files keep
// every other file; sync channels are coded as runs; the .meta's checks refuse altered data.
#include <gtest/gtest.h>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/format/sync_runs.hpp"
#include "spikey/host/acquisition.hpp"
#include "spikey/host/batch_encoder.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/window.hpp"
#include "test_support.hpp"

using namespace spikey;
namespace fs = std::filesystem;

namespace {

const fs::path kOpenEphys = test::samples_dir() / "open_ephys" / "Record Node 101";
const fs::path kSpikeGlx = test::samples_dir() / "spikeglx";

host::Recording open_inputs(const std::vector<fs::path>& inputs) {
  return host::Recording::open(inputs, {}, [](const std::string&) {});
}

// Compresses `inputs` at `level`, restores into a fresh folder, and returns the archive path.
fs::path round_trip(const std::vector<fs::path>& inputs, const std::string& level, const test::TempDir& dir,
                    const fs::path& restored, host::EncodeOptions options = {}) {
  const fs::path archive = dir / (level + ".spikey");
  options.level = level;
  options.overwrite = true;
  options.threads = 2;
  host::compress(open_inputs(inputs), archive, options);
  EXPECT_TRUE(test::restore_into(archive, restored).mismatched_files.empty());
  return archive;
}

// A copy of the bundled SpikeGLX pair in `dir`.
fs::path copy_spikeglx_pair(const fs::path& dir) {
  fs::create_directories(dir);
  for (const char* ext : {".bin", ".meta"}) fs::copy_file(kSpikeGlx / (std::string("run_g0_t0.imec0.ap") + ext), dir / (std::string("run_g0_t0.imec0.ap") + ext));
  return dir / "run_g0_t0.imec0.ap.bin";
}

}  // namespace

TEST(Acquisition, Sha1MatchesKnownVectors) {
  const std::string abc = "abc";
  EXPECT_EQ(host::sha1_hex({reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()}), "A9993E364706816ABA3E25717850C26C9CD0D89D");
  EXPECT_EQ(host::sha1_hex({}), "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
}

TEST(Acquisition, SyncRunsRoundTripAndRejectMalformedStreams) {
  std::mt19937 rng(7);
  for (const std::size_t alignment : {std::size_t{1}, std::size_t{4}}) {
    for (const std::size_t n : {1u, 2u, 3u, 257u, 30000u}) {
      std::vector<std::int16_t> samples(n);
      std::int16_t value = -32768;
      for (auto& s : samples) {
        if (rng() % 97 == 0) value = static_cast<std::int16_t>(rng() % 2 ? 32767 : rng() & 0xffff);
        s = value;
      }
      const auto stream = format::encode_sync_runs(samples, alignment);
      EXPECT_EQ(stream.size() % alignment, 0u);
      std::vector<std::int16_t> decoded(n);
      ASSERT_TRUE(format::decode_sync_runs(stream, alignment, decoded));
      EXPECT_EQ(decoded, samples);
      // One sample more or fewer than the runs cover, a cut stream, junk padding: all refused.
      std::vector<std::int16_t> longer(n + 1);
      EXPECT_FALSE(format::decode_sync_runs(stream, alignment, longer));
      if (n > 1) {
        std::vector<std::int16_t> shorter(n - 1);
        EXPECT_FALSE(format::decode_sync_runs(stream, alignment, shorter));
      }
      EXPECT_FALSE(format::decode_sync_runs(std::span(stream).first(stream.size() - 1), alignment, decoded));
      auto padded = stream;
      padded.insert(padded.end(), alignment, 0);
      EXPECT_FALSE(format::decode_sync_runs(padded, alignment, decoded));
      if (alignment == 4 && padded.size() > stream.size()) {
        auto junk = stream;
        junk.resize(stream.size() + 4, 0);
        junk.back() = 1;
        EXPECT_FALSE(format::decode_sync_runs(junk, alignment, decoded));
      }
    }
  }
  // A constant chunk is one run: a few bytes whatever its length.
  const std::vector<std::int16_t> constant(30000, 64);
  EXPECT_LE(format::encode_sync_runs(constant, 4).size(), 8u);
}

TEST(Acquisition, Delta64SideFilesRestoreExactly) {
  // An .npy of float64 timestamps (Open Ephys 0.6 and later) with a trailing odd byte.
  std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000,), }";
  dict.resize(117, ' ');
  dict += '\n';
  std::string header = "\x93NUMPY";
  header += {'\x01', '\x00', static_cast<char>(dict.size()), '\x00'};  // version 1.0, header length
  header += dict;
  std::vector<std::uint8_t> file(header.begin(), header.end());
  for (int i = 0; i < 1000; ++i) {
    const double t = 1045248.0 / 30000.0 + i / 30000.0;
    std::uint8_t b[8];
    std::memcpy(b, &t, 8);
    file.insert(file.end(), b, b + 8);
  }
  file.push_back(0x5a);
  test::TempDir dir;
  test::write_file(dir / "timestamps.npy", file);
  const host::InputSource side = host::open_side_file(dir / "timestamps.npy", "timestamps.npy");
  EXPECT_EQ(side.delta64_offset, header.size());
  EXPECT_EQ(side.delta64_count, 1000u);
  format::SourceFile source;
  source.kind = format::SourceKind::side_file;
  source.size = file.size();
  source.prefix = {0, file.size()};
  source.delta64_offset = side.delta64_offset;
  source.delta64_count = side.delta64_count;
  const auto stored = format::delta64_encode(file, side.delta64_offset, side.delta64_count);
  EXPECT_NE(stored, file);
  EXPECT_EQ(format::side_file_bytes(source, stored), file);
}

TEST(Acquisition, OpenEphysFolderRestoresEveryFileAtEveryLevel) {
  const auto originals = test::files_under(kOpenEphys);
  ASSERT_EQ(originals.size(), 4u);
  for (const std::string level : {"fast", "default", "max"}) {
    test::TempDir dir;
    const fs::path archive = round_trip({kOpenEphys}, level, dir, dir / "restored");
    EXPECT_TRUE(test::files_under(dir / "restored") == originals) << level;
    const format::ArchiveReader reader(archive);
    const format::Metadata& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 32u);
    EXPECT_EQ(m.sample_rate, 30000);
    // Names and bit_volts from the structure.oebin.
    EXPECT_EQ(m.channels[0].name, "CH1");
    EXPECT_NEAR(*m.channels[0].bit_volts, 0.195, 1e-6);
    EXPECT_EQ(m.channels[0].units, "uV");
    std::map<std::string, format::SourceKind> kinds;
    for (const auto& s : m.sources) kinds[s.path] = s.kind;
    EXPECT_EQ(kinds["experiment1/recording1/continuous/Rhythm_FPGA-100.0/continuous.dat"], format::SourceKind::open_ephys);
    EXPECT_EQ(kinds["experiment1/recording1/structure.oebin"], format::SourceKind::side_file);
    EXPECT_EQ(kinds["settings.xml"], format::SourceKind::side_file);
    for (const auto& s : m.sources)
      if (s.path.ends_with("timestamps.npy")) EXPECT_EQ(s.delta64_count, 6000u);
  }
}

TEST(Acquisition, OpenEphysSideFilesCostLittle) {
  // The sample numbers are 8 bytes a frame; delta64 coding makes them nearly free, so the whole
  // folder archives within 1% of its continuous.dat alone plus the text files' zstd size.
  test::TempDir dir;
  const fs::path folder_archive = round_trip({kOpenEphys}, "fast", dir, dir / "restored");
  const fs::path dat = kOpenEphys / "experiment1/recording1/continuous/Rhythm_FPGA-100.0/continuous.dat";
  host::EncodeOptions options;
  options.level = "fast";
  options.overwrite = true;
  options.threads = 2;
  host::compress(host::Recording::open({dat}, {32u, 30000.0}, [](const std::string&) {}), dir / "dat.spikey", options);
  const auto folder_bytes = fs::file_size(folder_archive), dat_bytes = fs::file_size(dir / "dat.spikey");
  EXPECT_LT(folder_bytes, dat_bytes + 40000) << "side files cost " << folder_bytes - dat_bytes << " bytes";
}

TEST(Acquisition, OpenEphysRecordingFromSharedDataRoundTrips) {
  SPIKEY_REQUIRE_SHARED("cinpla_oebin32/structure.oebin");
  const fs::path shared = test::shared_data_dir() / "cinpla_oebin32";
  test::TempDir dir;
  const fs::path node = dir / "Record Node 101";
  const fs::path stream = node / "experiment1" / "recording1" / "continuous" / "Rhythm_FPGA-100.0";
  fs::create_directories(stream);
  fs::copy_file(shared / "settings.xml", node / "settings.xml");
  fs::copy_file(shared / "structure.oebin", node / "experiment1" / "recording1" / "structure.oebin");
  fs::copy_file(shared / "continuous.dat", stream / "continuous.dat");
  fs::copy_file(shared / "timestamps.npy", stream / "timestamps.npy");
  const fs::path archive = round_trip({node}, "default", dir, dir / "restored");
  EXPECT_TRUE(test::files_under(dir / "restored") == test::files_under(node));
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.metadata().total_samples, 49408u);
}

TEST(Acquisition, SpikeGlxPairRestoresWithNamesGainsAndSyncRuns) {
  for (const std::string level : {"fast", "default", "max"}) {
    test::TempDir dir;
    const fs::path archive = round_trip({kSpikeGlx / "run_g0_t0.imec0.ap.bin"}, level, dir, dir / "restored");
    EXPECT_TRUE(test::files_under(dir / "restored") == test::files_under(kSpikeGlx)) << level;
    const format::ArchiveReader reader(archive);
    const format::Metadata& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 33u);
    EXPECT_EQ(m.channels[0].name, "AP0");
    EXPECT_EQ(m.channels[32].name, "SY0");
    EXPECT_FALSE(m.channels[0].sync);
    EXPECT_TRUE(m.channels[32].sync);
    // µV per bit = imAiRangeMax / imMaxInt / apgain = 0.6 V / 512 / 500.
    EXPECT_NEAR(*m.channels[0].bit_volts, 0.6 / 512 / 500 * 1e6, 1e-9);
    EXPECT_FALSE(m.channels[32].bit_volts.has_value());
    for (const auto& c : m.channels)
      for (const auto& s : c.predictor.sources) EXPECT_NE(s.channel, 32) << "predicted from the sync channel";
    // The sync channel's stream in every chunk is a handful of runs.
    for (std::uint64_t chunk = 0; chunk < reader.index().size(); ++chunk) {
      const auto payload = reader.read_payload(chunk);
      const auto present = format::channels_in_chunk(m, m.chunk_first_sample(chunk), m.chunk_sample_count(chunk));
      const auto directory = format::parse_payload_directory(payload, present.channel.size(), chunk, 0);
      EXPECT_LE(directory.stream_size[32], 16u) << level << " chunk " << chunk;
    }
  }
}

// Sync runs in words (fast: lpc1) and in bytes (default: mt), one chunk per batch and all the
// chunks in one batch (assembled on several threads).
TEST(Acquisition, SyncChannelsInTheBatchPipelineGiveTheSameBytes) {
  for (const std::string level : {"fast", "default"}) {
    test::TempDir dir;
    host::EncodeOptions options;
    options.chunk_seconds = 0.02;  // several chunks, sync runs in each
    round_trip({kSpikeGlx}, level, dir, dir / "a", options);
    options.batch_executor = [](host::BatchPlan& plan, std::span<const std::int16_t> samples) { return host::run_batch_on_cpu(plan, samples, 2); };
    for (const std::uint64_t batch_bytes : {std::uint64_t{1}, std::uint64_t{64} << 20}) {
      options.batch_memory_bytes = batch_bytes;
      test::TempDir batched;
      round_trip({kSpikeGlx}, level, batched, batched / "a", options);
      EXPECT_TRUE(test::read_file(dir / (level + ".spikey")) == test::read_file(batched / (level + ".spikey"))) << level << ", " << batch_bytes;
    }
  }
}

TEST(Acquisition, MetaChecksRefuseAlteredBinariesAndKeepTruncatedOnes) {
  test::TempDir dir;
  const fs::path bin = copy_spikeglx_pair(dir / "pair");
  auto bytes = test::read_file(bin);
  bytes[1000] ^= 1;
  test::write_file(bin, bytes);
  try {
    open_inputs({bin});
    FAIL() << "an altered .bin was accepted";
  } catch (const host::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fileSHA1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--raw-channels 33"), std::string::npos) << e.what();
  }
  // A .bin shorter than its .meta says (a run cut short, a truncated copy) is archived as it is,
  // with a warning, and restores byte for byte.
  bytes = test::read_file(kSpikeGlx / "run_g0_t0.imec0.ap.bin");
  bytes.resize(bytes.size() - 66);
  test::write_file(bin, bytes);
  std::vector<std::string> notes;
  const auto cut = host::Recording::open({bin}, {}, [&](const std::string& n) { notes.push_back(n); });
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("fileSizeBytes"), std::string::npos) << notes[0];
  EXPECT_EQ(cut.channel_length(0), bytes.size() / 66);
  const fs::path archive = dir / "cut.spikey";
  host::EncodeOptions options;
  options.overwrite = true;
  host::compress(cut, archive, options);
  const format::ArchiveReader reader(archive);
  host::RestoreOptions restore;
  restore.output_directory = dir / "restored";
  EXPECT_TRUE(host::restore_sources(reader, restore).mismatched_files.empty());
  EXPECT_EQ(test::read_file(dir / "restored" / bin.filename()), bytes);
  // Without its .meta a .bin is not guessed at.
  fs::remove(spikey::host::spikeglx_meta_of(bin));
  try {
    open_inputs({bin});
    FAIL() << "a .bin without .meta was accepted";
  } catch (const host::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(".meta"), std::string::npos) << e.what();
  }
}

TEST(Acquisition, PairNamedTwiceIsArchivedOnce) {
  const auto recording = open_inputs({kSpikeGlx / "run_g0_t0.imec0.ap.bin", kSpikeGlx / "run_g0_t0.imec0.ap.meta"});
  ASSERT_EQ(recording.sources().size(), 2u);
  EXPECT_EQ(recording.sources()[0].kind, format::SourceKind::spikeglx);
  EXPECT_EQ(recording.sources()[1].kind, format::SourceKind::side_file);
  EXPECT_EQ(recording.channel_count(), 33u);
}

TEST(Acquisition, ApAndLfStreamsArchiveTogetherAtTheirOwnRates) {
  // A SpikeGLX probe folder: the AP pair and an LF pair at 2500 Hz (the AP samples, every 12th
  // frame, as the LF band's rate; the .meta says so and carries the LF file's own SHA-1).
  test::TempDir dir;
  const fs::path ap = copy_spikeglx_pair(dir / "run");
  const auto ap_bytes = test::read_file(ap);
  std::vector<std::uint8_t> lf;
  for (std::size_t frame = 0; frame * 66 < ap_bytes.size(); frame += 12)
    lf.insert(lf.end(), ap_bytes.begin() + static_cast<std::ptrdiff_t>(frame * 66), ap_bytes.begin() + static_cast<std::ptrdiff_t>(frame * 66 + 66));
  test::write_file(dir / "run" / "run_g0_t0.imec0.lf.bin", lf);
  auto meta = test::read_file(fs::path(ap).replace_extension(".meta"));
  std::string text(meta.begin(), meta.end());
  const auto set = [&](const std::string& key, const std::string& value) {
    const auto at = text.find(key + "=");
    text.replace(at, text.find('\r', at) - at, key + "=" + value);
  };
  set("imSampRate", "2500");
  set("fileSizeBytes", std::to_string(lf.size()));
  set("fileSHA1", host::sha1_hex(lf));
  set("snsApLfSy", "0,32,1");
  test::write_file(dir / "run" / "run_g0_t0.imec0.lf.meta", std::vector<std::uint8_t>(text.begin(), text.end()));

  const fs::path archive = round_trip({dir / "run"}, "default", dir, dir / "restored");
  EXPECT_TRUE(test::files_under(dir / "restored") == test::files_under(dir / "run"));
  const format::ArchiveReader reader(archive);
  const format::Metadata& m = reader.metadata();
  ASSERT_EQ(m.channels.size(), 66u);
  EXPECT_EQ(m.sample_rate, 30000);  // the fastest stream's
  // Sources in path order: ap.bin, ap.meta, lf.bin, lf.meta.
  EXPECT_EQ(m.channel_rate(0), 30000);
  EXPECT_EQ(m.channel_rate(33), 2500);
  EXPECT_EQ(m.sources[2].sample_rate, 2500);
  EXPECT_NEAR(m.duration_seconds(), 167.0 / 2500, 1e-9);  // the longest at its own rate: LF's 167 frames
  // No channel is predicted from a channel of the other clock.
  for (std::size_t c = 0; c < m.channels.size(); ++c)
    for (const auto& s : m.channels[c].predictor.sources) EXPECT_EQ(m.channel_rate(c), m.channel_rate(static_cast<std::size_t>(s.channel)));
  // Windows: one clock at a time.
  const std::vector<std::uint32_t> lf_channels = {33, 65}, mixed = {0, 33};
  EXPECT_EQ(host::window_rate(m, lf_channels), 2500);
  EXPECT_THROW(host::window_rate(m, mixed), std::invalid_argument);
  EXPECT_THROW(host::window_rate(m, {}), std::invalid_argument);
}

TEST(Acquisition, BrokenOpenEphysFoldersAreRefusedClearly) {
  test::TempDir dir;
  // A structure.oebin naming a stream whose continuous.dat is missing.
  const fs::path node = dir / "node";
  fs::create_directories(node);
  fs::copy_file(kOpenEphys / "experiment1" / "recording1" / "structure.oebin", node / "structure.oebin");
  try {
    open_inputs({node});
    FAIL() << "a missing continuous.dat was accepted";
  } catch (const host::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("continuous.dat"), std::string::npos) << e.what();
  }
  test::write_file(node / "structure.oebin", {'{', 'x'});
  EXPECT_THROW(open_inputs({node}), host::InputError);
}

TEST(Acquisition, SyncChannelRulesAreValidated) {
  test::TempDir dir;
  const fs::path archive = round_trip({kSpikeGlx}, "fast", dir, dir / "restored");
  const format::ArchiveReader reader(archive);
  format::MetadataSection section{reader.metadata(), reader.verbatim()};
  section.metadata.channels[32].value_map = {format::ValueMapKind::affine, 64, 0};
  EXPECT_THROW(format::parse_metadata_section(format::serialize(section)), format::ArchiveError);
  section.metadata.channels[32].value_map = {};
  section.metadata.channels[0].predictor.sources = {{32, {1}}};
  EXPECT_THROW(format::parse_metadata_section(format::serialize(section)), format::ArchiveError);
}

TEST(Acquisition, SideFilesOverTheMetadataLimitAreRefusedUpFront) {
  // A video (here a sparse 3200 MiB file, over the 3 GiB for side files) in an Open Ephys
  // folder: named, before any work.
  test::TempDir dir;
  const fs::path node = dir / "node";
  fs::create_directories(node / "continuous" / "s");
  const std::string oebin = R"({"continuous": [{"folder_name": "s/", "sample_rate": 30000, "num_channels": 2}]})";
  test::write_file(node / "structure.oebin", std::vector<std::uint8_t>(oebin.begin(), oebin.end()));
  test::write_file(node / "continuous" / "s" / "continuous.dat", std::vector<std::uint8_t>(400, 1));
  test::write_file(node / "video.avi", {0});
  fs::resize_file(node / "video.avi", 3200ull << 20);
  try {
    open_inputs({node});
    FAIL() << "3200 MiB of side files were accepted";
  } catch (const host::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("video.avi"), std::string::npos) << e.what();
  }
}

TEST(Acquisition, NonsenseGainsInTheMetaAreLeftUnset) {
  // imMaxInt=0 would make the gain infinite: no bit_volts rather than an unreadable archive.
  test::TempDir dir;
  const fs::path bin = copy_spikeglx_pair(dir / "pair");
  const fs::path meta = fs::path(bin).replace_extension(".meta");
  auto bytes = test::read_file(meta);
  std::string text(bytes.begin(), bytes.end());
  text.replace(text.find("imMaxInt=512"), 12, "imMaxInt=0");
  test::write_file(meta, std::vector<std::uint8_t>(text.begin(), text.end()));
  const fs::path restored = dir / "restored";
  const fs::path archive = round_trip({bin}, "fast", dir, restored);
  const format::ArchiveReader reader(archive);
  EXPECT_FALSE(reader.metadata().channels[0].bit_volts.has_value());
  EXPECT_TRUE(test::read_file(restored / "run_g0_t0.imec0.ap.meta") == test::read_file(meta));
}
