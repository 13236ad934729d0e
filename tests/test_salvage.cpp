// Salvage (SPEC.md §8) and lost chunks (§3.5): truncated and damaged real archives give back
// every intact chunk, report exactly what was lost, and the result is a valid archive whose
// kept samples equal the originals.
#include <gtest/gtest.h>

#include <cstring>

#include "spikey/format/archive_reader.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/salvage.hpp"
#include "spikey/host/window.hpp"
#include "test_support.hpp"

using namespace spikey;
namespace fs = std::filesystem;

namespace {

// Two real N1 files of different lengths (2000 and 1300 samples) in 0.01 s chunks (195 samples):
// 11 chunks, the last 4 hold channel 0 only.
struct SmallArchive {
  fs::path path;
  std::vector<std::int16_t> a, b;  // the originals' samples
};

SmallArchive make_archive(const test::TempDir& dir, const std::string& level = "default") {
  const auto wav = test::read_file(test::samples_dir() / "neuralink" / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav");
  const auto* samples = reinterpret_cast<const std::int16_t*>(wav.data() + 44);
  SmallArchive s;
  s.a.assign(samples, samples + 2000);
  s.b.assign(samples + 40000, samples + 41300);
  test::write_file(dir / "a.wav", test::make_wav(1, 19531, s.a));
  test::write_file(dir / "b.wav", test::make_wav(1, 19531, s.b));
  const auto rec = host::Recording::open({dir / "a.wav", dir / "b.wav"}, {}, [](const std::string&) {});
  host::EncodeOptions options;
  options.chunk_seconds = 0.01;
  options.level = level;
  s.path = dir / ("small-" + level + ".spikey");
  host::compress(rec, s.path, options);
  return s;
}

// Every channel's samples as decoded with lost chunks as zeros, next to what the originals
// give with the same chunks zeroed.
void expect_kept_samples_equal_originals(const fs::path& salvaged, const SmallArchive& s) {
  const format::ArchiveReader reader(salvaged);
  const auto& meta = reader.metadata();
  std::vector<std::vector<std::int16_t>> expected{s.a, s.b};
  for (const auto chunk : host::lost_chunks(reader))
    for (auto& channel : expected)
      for (std::uint64_t t = meta.chunk_first_sample(chunk); t < std::min<std::uint64_t>(channel.size(), meta.chunk_first_sample(chunk + 1)); ++t)
        channel[t] = 0;
  for (std::uint64_t chunk = 0; chunk < reader.index().size(); ++chunk) {
    if (reader.index()[chunk].lost()) {
      EXPECT_THROW(host::decode_chunk(reader, chunk), format::LostChunkError);
      continue;
    }
    const auto decoded = host::decode_chunk(reader, chunk);
    for (std::uint32_t c = 0; c < 2; ++c) {
      const auto got = decoded.channel_samples(c);
      for (std::size_t t = 0; t < got.size(); ++t)
        ASSERT_EQ(got[t], expected[c][decoded.first_sample + t]) << "chunk " << chunk << " channel " << c;
    }
  }
}

std::uint64_t salvaged_lost(const fs::path& salvaged) { return host::lost_chunks(format::ArchiveReader(salvaged)).size(); }

}  // namespace

TEST(Salvage, IntactArchiveLosesNothingAndRestoresExactly) {
  test::TempDir dir;
  const auto s = make_archive(dir);
  const auto before = test::read_file(s.path);
  const auto report = host::salvage_archive(s.path, dir / "out.spikey", {});
  EXPECT_EQ(test::read_file(s.path), before) << "the input is never modified";
  EXPECT_EQ(report.chunks, 11u);
  EXPECT_EQ(report.recovered, 11u);
  EXPECT_EQ(report.lost, 0u);
  EXPECT_TRUE(report.notes.empty());
  const format::ArchiveReader reader(dir / "out.spikey");
  EXPECT_EQ(reader.format_version(), format::kFormatVersion);
  const auto restored = host::restore_sources(reader, {dir / "restored", false, 1, {}});
  EXPECT_TRUE(restored.mismatched_files.empty());
  EXPECT_EQ(test::read_file(dir / "restored" / "a.wav"), test::read_file(dir / "a.wav"));
  EXPECT_EQ(test::read_file(dir / "restored" / "b.wav"), test::read_file(dir / "b.wav"));
}

// Every truncation point after the metadata: the chunks whose records are complete survive.
TEST(Salvage, EveryTruncationKeepsEveryCompleteChunk) {
  test::TempDir dir;
  for (const char* level : {"fast", "default", "max"}) {
    SCOPED_TRACE(level);
    const auto s = make_archive(dir, level);
    const auto bytes = test::read_file(s.path);
    const format::ArchiveReader intact(s.path);
    const std::uint64_t metadata_end = intact.index()[0].record_offset;
    for (std::uint64_t length = metadata_end; length < bytes.size(); length += 7) {
      test::write_file(dir / "cut.spikey", std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length)));
      std::uint64_t complete = 0;
      for (const auto& e : intact.index()) complete += e.record_offset + format::kChunkFrameSize + e.payload_size <= length;
      if (complete == 0) {  // nothing intact: no salvage, and no output
        fs::remove(dir / "out.spikey");
        EXPECT_THROW(host::salvage_archive(dir / "cut.spikey", dir / "out.spikey", {true, 1}), format::ArchiveError) << "truncated to " << length;
        ASSERT_FALSE(fs::exists(dir / "out.spikey"));
        continue;
      }
      const auto report = host::salvage_archive(dir / "cut.spikey", dir / "out.spikey", {true, 1});
      ASSERT_EQ(report.recovered, complete) << "truncated to " << length;
      ASSERT_EQ(report.lost, 11 - complete);
      ASSERT_EQ(salvaged_lost(dir / "out.spikey"), 11 - complete);
      if (length % 49 == 0 || complete == 10) expect_kept_samples_equal_originals(dir / "out.spikey", s);
    }
  }
}

TEST(Salvage, DamagedStreamDirectoryLosesThatChunkOnlyAndReportsItsRange) {
  test::TempDir dir;
  const auto s = make_archive(dir);
  auto bytes = test::read_file(s.path);
  const format::ArchiveReader intact(s.path);
  bytes[intact.payload_offset(3)] ^= 0x20;       // chunk 3's stream directory: both channels
  bytes[intact.payload_offset(8) + 2] ^= 0x01;   // chunk 8: channel 0 only (b.wav has ended)
  bytes[bytes.size() - 60] ^= 0x40;              // and the index
  test::write_file(dir / "bad.spikey", bytes);
  const auto report = host::salvage_archive(dir / "bad.spikey", dir / "out.spikey", {});
  EXPECT_EQ(report.recovered, 9u);
  ASSERT_EQ(report.lost_ranges.size(), 2u);
  EXPECT_EQ(report.lost_ranges[0].first_chunk, 3u);
  EXPECT_EQ(report.lost_ranges[0].end_chunk, 4u);
  const std::uint64_t chunk_samples = intact.metadata().chunk_samples;  // 195
  EXPECT_EQ(report.lost_ranges[0].first_sample, 3 * chunk_samples);
  EXPECT_EQ(report.lost_ranges[0].end_sample, 4 * chunk_samples);
  EXPECT_EQ(report.lost_ranges[0].channels, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(report.lost_ranges[1].first_chunk, 8u);
  EXPECT_EQ(report.lost_ranges[1].channels, (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(report.incomplete_files, (std::vector<std::string>{"a.wav", "b.wav"}));
  expect_kept_samples_equal_originals(dir / "out.spikey", s);

  // A window over a lost chunk is refused, one beside it is served.
  const format::ArchiveReader reader(dir / "out.spikey");
  EXPECT_THROW(host::read_window(reader, host::resolve_window(reader.metadata(), 600, 700, {0}), 1), format::LostChunkError);
  const auto window = host::read_window(reader, host::resolve_window(reader.metadata(), 800, 900, {0, 1}), 1);
  for (std::size_t t = 0; t < 100; ++t) {
    EXPECT_EQ(window[2 * t], s.a[800 + t]);
    EXPECT_EQ(window[2 * t + 1], s.b[800 + t]);
  }
  // A full restore refuses unless lost samples may be zeros; both files had samples there.
  EXPECT_THROW(host::restore_sources(reader, {dir / "r1", false, 1, {}}), format::LostChunkError);
  EXPECT_FALSE(fs::exists(dir / "r1" / "a.wav"));
  host::RestoreOptions fill{dir / "r2", false, 1, {}};
  fill.fill_lost = true;
  const auto restored = host::restore_sources(reader, fill);
  EXPECT_EQ(restored.lost_chunks, 2u);
  EXPECT_EQ(restored.incomplete_files.size(), 2u);
  EXPECT_TRUE(restored.mismatched_files.empty());
  EXPECT_EQ(test::read_file(dir / "r2" / "a.wav").size(), test::read_file(dir / "a.wav").size());

  // Salvaging a salvaged archive keeps what it has and still knows what was lost.
  const auto again = host::salvage_archive(dir / "out.spikey", dir / "again.spikey", {});
  EXPECT_EQ(again.recovered, 9u);
  EXPECT_EQ(again.lost, 2u);
  EXPECT_EQ(test::read_file(dir / "again.spikey"), test::read_file(dir / "out.spikey"));
}

TEST(Salvage, DamagedHeaderIsWorkedAroundWhenTheMetadataChecksumStillMatches) {
  test::TempDir dir;
  const auto s = make_archive(dir);
  auto bytes = test::read_file(s.path);
  bytes[10] ^= 0x01;  // reserved field: the header checksum fails
  bytes[1] ^= 0x01;   // and the magic
  test::write_file(dir / "bad.spikey", bytes);
  {  // version 10: the reader falls back to the metadata copy and says so
    const format::ArchiveReader reader(dir / "bad.spikey");
    ASSERT_EQ(reader.damage().size(), 1u);
    EXPECT_NE(reader.damage()[0].find("header"), std::string::npos) << reader.damage()[0];
    EXPECT_TRUE(host::restore_sources(reader, {}).mismatched_files.empty());
  }
  const auto report = host::salvage_archive(dir / "bad.spikey", dir / "out.spikey", {});
  EXPECT_EQ(report.lost, 0u);
  ASSERT_FALSE(report.notes.empty());
  EXPECT_NE(report.notes[0].find("header"), std::string::npos);
  expect_kept_samples_equal_originals(dir / "out.spikey", s);
  EXPECT_TRUE(format::ArchiveReader(dir / "out.spikey").damage().empty());
}

// Version 10 keeps a copy of the metadata before the index (SPEC.md §3.7): damage to the
// metadata section, or to the header and the metadata section together, costs nothing.
TEST(Salvage, DamagedMetadataIsReadFromItsCopy) {
  test::TempDir dir;
  const auto s = make_archive(dir);
  const auto original = test::read_file(s.path);
  std::uint64_t metadata_size = 0, index_offset = 0;
  std::memcpy(&metadata_size, original.data() + 16, 8);
  std::memcpy(&index_offset, original.data() + original.size() - format::kFooterSize, 8);
  std::uint64_t copy_size = 0;  // version 11: the copy's own size, in its trailer
  std::memcpy(&copy_size, original.data() + index_offset - format::kMetadataTrailerSize, 8);
  EXPECT_GE(copy_size, metadata_size);  // no side files: the same metadata, plus the section's size
  const std::uint64_t copy_at = index_offset - format::kMetadataTrailerSize - copy_size;
  for (const bool header_too : {false, true}) {
    SCOPED_TRACE(header_too ? "header and metadata" : "metadata");
    auto bytes = original;
    bytes[60] ^= 0x08;
    if (header_too) bytes[20] ^= 0x01;  // the header's metadata size
    test::write_file(dir / "bad.spikey", bytes);
    const format::ArchiveReader reader(dir / "bad.spikey");
    ASSERT_EQ(reader.damage().size(), 1u);
    EXPECT_NE(reader.damage()[0].find("copy"), std::string::npos) << reader.damage()[0];
    const auto restored = host::restore_sources(reader, {dir / "r", true, 1, {}});
    EXPECT_TRUE(restored.mismatched_files.empty());
    EXPECT_EQ(test::read_file(dir / "r" / "a.wav"), test::read_file(dir / "a.wav"));
    const auto report = host::salvage_archive(dir / "bad.spikey", dir / "out.spikey", {true, 1});
    EXPECT_EQ(report.recovered, 11u);
    ASSERT_FALSE(report.notes.empty());
    EXPECT_NE(report.notes[0].find("metadata copy"), std::string::npos) << report.notes[0];
    EXPECT_TRUE(format::ArchiveReader(dir / "out.spikey").damage().empty());
    expect_kept_samples_equal_originals(dir / "out.spikey", s);
  }
  // Without a usable footer, salvage finds the copy by its trailer's magic.
  auto bytes = original;
  bytes[60] ^= 0x08;
  bytes[bytes.size() - 10] ^= 0x01;
  test::write_file(dir / "bad.spikey", bytes);
  EXPECT_THROW(format::ArchiveReader(dir / "bad.spikey"), format::ArchiveError);
  EXPECT_EQ(host::salvage_archive(dir / "bad.spikey", dir / "out.spikey", {true, 1}).recovered, 11u);
  // A damaged copy alone is reported, and the archive still reads.
  bytes = original;
  bytes[copy_at + 3] ^= 0x04;
  const format::ArchiveReader reader(bytes, "copy.spikey");
  ASSERT_EQ(reader.damage().size(), 1u);
  EXPECT_NE(reader.damage()[0].find("metadata copy damaged"), std::string::npos) << reader.damage()[0];
}

// Version 11's metadata copy leaves out the side files' bytes (SPEC.md §3.7), so a folder's
// large side files are stored once. With the metadata section damaged, the recording's files
// still restore from the copy; the side files cannot: decompress refuses naming one, verify
// lists them, and salvage writes an archive of everything else and names them as lost.
TEST(Salvage, SideFilesAreNotInTheMetadataCopy) {
  test::TempDir dir;
  const fs::path folder = test::samples_dir() / "open_ephys" / "Record Node 101";
  const fs::path archive = dir / "oe.spikey";
  host::EncodeOptions options;
  options.chunk_seconds = 0.05;
  host::compress(host::Recording::open({folder}, {}, [](const std::string&) {}), archive, options);
  const auto original = test::read_file(archive);
  std::uint64_t metadata_size = 0, index_offset = 0, copy_size = 0;
  std::memcpy(&metadata_size, original.data() + 16, 8);
  std::memcpy(&index_offset, original.data() + original.size() - format::kFooterSize, 8);
  std::memcpy(&copy_size, original.data() + index_offset - format::kMetadataTrailerSize, 8);
  EXPECT_LT(copy_size * 2, metadata_size) << "the structure.oebin and settings.xml are most of the metadata";
  auto bytes = original;
  bytes[60] ^= 0x08;  // inside the metadata section
  test::write_file(dir / "bad.spikey", bytes);
  const format::ArchiveReader reader(dir / "bad.spikey");
  ASSERT_EQ(reader.damage().size(), 2u);
  EXPECT_NE(reader.damage()[1].find("3 side file(s) cannot be restored"), std::string::npos) << reader.damage()[1];
  const auto restored = host::restore_sources(reader, {{}, false, 1, {}});
  EXPECT_TRUE(restored.mismatched_files.empty());
  EXPECT_EQ(restored.missing_files.size(), 3u);
  EXPECT_EQ(restored.files, 1u);  // continuous.dat rebuilt and checked
  EXPECT_THROW(format::side_file_bytes(reader.metadata().sources[1], reader.verbatim()), format::ArchiveError);  // timestamps.npy
  const auto report = host::salvage_archive(dir / "bad.spikey", dir / "out.spikey", {true, 1});
  EXPECT_EQ(report.lost_files.size(), 3u);
  const format::ArchiveReader out(dir / "out.spikey");
  EXPECT_TRUE(out.damage().empty());
  ASSERT_EQ(out.metadata().sources.size(), 1u);
  test::TempDir restored_dir;
  EXPECT_TRUE(host::restore_sources(out, {restored_dir.path(), false, 1, {}}).mismatched_files.empty());
  const std::string dat = "experiment1/recording1/continuous/Rhythm_FPGA-100.0/continuous.dat";
  EXPECT_EQ(test::read_file(restored_dir / dat), test::read_file(folder / dat));
}

TEST(Salvage, DamagedMetadataAndCopyCannotBeSalvagedAndWritesNothing) {
  test::TempDir dir;
  const auto s = make_archive(dir);
  auto bytes = test::read_file(s.path);
  std::uint64_t metadata_size = 0, index_offset = 0;
  std::memcpy(&metadata_size, bytes.data() + 16, 8);
  std::memcpy(&index_offset, bytes.data() + bytes.size() - format::kFooterSize, 8);
  bytes[60] ^= 0x08;
  bytes[index_offset - format::kMetadataTrailerSize - metadata_size + 20] ^= 0x08;
  test::write_file(dir / "bad.spikey", bytes);
  try {
    host::salvage_archive(dir / "bad.spikey", dir / "out.spikey", {});
    FAIL() << "salvaged without metadata";
  } catch (const format::ArchiveError& e) {
    EXPECT_NE(std::string(e.what()).find("metadata"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "out.spikey"));
  for (const auto& e : fs::directory_iterator(dir.path())) EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);
}

TEST(Salvage, GoldenArchivesOfVersion4AreSalvagedAndOlderOnesRefused) {
  test::TempDir dir;
  const auto report = host::salvage_archive(test::golden_dir() / "v4" / "cinpla32.spikey", dir / "out.spikey", {});
  EXPECT_EQ(report.lost, 0u);
  const auto restored = host::restore_sources(format::ArchiveReader(dir / "out.spikey"), {dir / "r", false, 2, {}});
  EXPECT_TRUE(restored.mismatched_files.empty());
  EXPECT_EQ(test::read_file(dir / "r" / "cinpla32_30kHz_first6000.dat"),
            test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat"));
  EXPECT_THROW(host::salvage_archive(test::golden_dir() / "v3" / "cinpla32.spikey", dir / "v3.spikey", {}), format::ArchiveError);
}
