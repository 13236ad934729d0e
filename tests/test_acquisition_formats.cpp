// Acquisition systems' own files (format versions 11 to 14): Neuralynx .ncs and Open Ephys legacy
// .continuous (samples in records, SPEC.md §4.2), Blackrock NSx and NEV and Intan RHD folders restore
// byte for byte, a window reads the samples the documented layout holds, partial last records
// are kept and damaged files are refused with the file and byte named; the framing's field
// coding round-trips.
#include <gtest/gtest.h>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/text.hpp"
#include "spikey/host/acquisition.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/salvage.hpp"
#include "spikey/host/window.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>

#if defined(SPIKEY_WITH_HDF5)
#include <hdf5.h>
#endif

using namespace spikey;
namespace fs = std::filesystem;

namespace {

// The data files of a shared format folder (not its SOURCE.md), copied into `to` with their
// subfolders.
fs::path copy_format_folder(const std::string& name, const fs::path& to) {
  const fs::path from = test::shared_data_dir() / "formats" / name;
  for (const auto& e : fs::recursive_directory_iterator(from)) {
    if (!e.is_regular_file() || e.path().filename() == "SOURCE.md") continue;
    const fs::path target = to / e.path().lexically_relative(from);
    fs::create_directories(target.parent_path());
    fs::copy_file(e.path(), target);
  }
  return to;
}

struct Archived {
  fs::path archive;
  std::vector<std::string> notes;
};

Archived compress_inputs(const std::vector<fs::path>& inputs, const fs::path& archive, const std::string& level = "default") {
  Archived out{archive, {}};
  host::EncodeOptions options;
  options.level = level;
  options.overwrite = true;
  options.threads = 2;
  host::compress(host::Recording::open(inputs, {}, [&](const std::string& n) { out.notes.push_back(n); }), archive, options);
  return out;
}

void expect_restores_exactly(const fs::path& archive, const fs::path& original, const fs::path& restored) {
  EXPECT_TRUE(test::restore_into(archive, restored).mismatched_files.empty());
  EXPECT_TRUE(test::files_under(restored) == test::files_under(original)) << archive;
}

// A channel's samples read from the file by the documented layout: `records` records of
// `frames` samples after `header` bytes, each record `before` bytes, the samples, `after` bytes.
std::vector<std::int16_t> samples_by_layout(const std::vector<std::uint8_t>& file, std::size_t header, std::size_t before, std::size_t frames,
                                            std::size_t after, bool big_endian) {
  std::vector<std::int16_t> out;
  const std::size_t record = before + 2 * frames + after;
  for (std::size_t at = header; at + record <= file.size(); at += record)
    for (std::size_t i = 0; i < frames; ++i) {
      const std::uint8_t a = file[at + before + 2 * i], b = file[at + before + 2 * i + 1];
      out.push_back(static_cast<std::int16_t>(big_endian ? (a << 8 | b) : (b << 8 | a)));
    }
  return out;
}

// The archive's samples of the channel named `name`, samples [start, end).
std::vector<std::int16_t> window_of(const fs::path& archive, const std::string& name, std::uint64_t start, std::uint64_t end) {
  const format::ArchiveReader reader(archive);
  std::vector<std::string> names;
  for (const auto& c : reader.metadata().channels) names.push_back(c.name);
  const host::Window window = host::resolve_window(reader.metadata(), start, end, host::parse_channel_list(name, names));
  return host::read_window(reader, window, 2);
}

// The message opening `file` (written with `bytes`) is refused with, or "accepted".
std::string refusal_of(const fs::path& file, const std::vector<std::uint8_t>& bytes) {
  test::write_file(file, bytes);
  try {
    host::Recording::open({file}, {}, [](const std::string&) {});
  } catch (const host::InputError& e) {
    return e.what();
  }
  return "accepted";
}

// Whether a metadata section of `m` and `verbatim` passes the reader's checks.
bool metadata_parses(const format::Metadata& m, const std::vector<std::uint8_t>& verbatim) {
  try {
    format::parse_metadata_section(format::serialize(format::MetadataSection{m, verbatim}));
    return true;
  } catch (const format::ArchiveError&) {
    return false;
  }
}

std::vector<std::int16_t> slice(const std::vector<std::int16_t>& v, std::size_t start, std::size_t end) {
  return {v.begin() + static_cast<std::ptrdiff_t>(start), v.begin() + static_cast<std::ptrdiff_t>(std::min(end, v.size()))};
}

}  // namespace

TEST(AcquisitionFormats, FramingFieldsRoundTripModuloTheirWidth) {
  format::SourceRecords records;
  records.count = 3;
  records.header = 12;
  records.trailer = 2;
  records.fields = {{0, 8}, {8, 2}, {10, 4}};
  std::vector<std::uint8_t> framing(3 * 14);
  for (std::size_t i = 0; i < framing.size(); ++i) framing[i] = static_cast<std::uint8_t>(i * 37 + 11);
  framing[8] = 0xff, framing[9] = 0xff;  // a 16-bit field that wraps
  const auto stored = format::framing_encode(framing, records);
  EXPECT_NE(stored, framing);
  EXPECT_EQ(std::vector<std::uint8_t>(stored.begin(), stored.begin() + 14), std::vector<std::uint8_t>(framing.begin(), framing.begin() + 14));
  EXPECT_EQ(format::framing_decode(stored, records), framing);
  // Timestamps that advance by the same step store the same bytes in every record after the first.
  records.fields = {{0, 8}};
  std::vector<std::uint8_t> regular(3 * 14, 0);
  for (std::uint64_t r = 0; r < 3; ++r)
    for (int b = 0; b < 8; ++b) regular[r * 14 + b] = static_cast<std::uint8_t>((1000000 + 16000 * r) >> (8 * b));
  const auto coded = format::framing_encode(regular, records);
  EXPECT_TRUE(std::equal(coded.begin() + 14, coded.begin() + 28, coded.begin() + 28));
  // Snippets' framing (format 14) is stored byte position by byte position: byte j of record r
  // at j * count + r, after the differences.
  const auto by_position = format::framing_encode(framing, records, true);
  const auto by_record = format::framing_encode(framing, records);
  for (std::uint64_t r = 0; r < 3; ++r)
    for (std::uint64_t j = 0; j < 14; ++j) EXPECT_EQ(by_position[j * 3 + r], by_record[r * 14 + j]);
  EXPECT_EQ(format::framing_decode(by_position, records, true), framing);
}

TEST(AcquisitionFormats, NeuralynxFoldersRestoreByteForByteWithNamesRatesAndGains) {
  SPIKEY_REQUIRE_SHARED("formats/neuralynx_v641_truncated/CSC1_truncated.ncs");
  test::TempDir dir;
  const fs::path folder = copy_format_folder("neuralynx_v641_truncated", dir / "in");
  for (const std::string level : {"fast", "default", "max"}) {
    const auto a = compress_inputs({folder}, dir / (level + ".spikey"), level);
    expect_restores_exactly(a.archive, folder, dir / ("out_" + level));
  }
  const format::ArchiveReader reader(dir / "default.spikey");
  const auto& m = reader.metadata();
  ASSERT_EQ(m.channels.size(), 3u);  // CSC1, LFP4, WE1 (README.txt is a side file)
  EXPECT_EQ(m.channels[0].name, "CSC1");
  EXPECT_EQ(m.sources[m.channels[0].source].kind, format::SourceKind::neuralynx);
  EXPECT_EQ(m.sources[m.channels[0].source].records.count, 31u);
  EXPECT_DOUBLE_EQ(m.sample_rate, 32000);
  EXPECT_NEAR(m.sources[m.channels[1].source].sample_rate, 2666.67, 0.01);
  EXPECT_EQ(m.channels[1].length, 1024u);
  ASSERT_TRUE(m.channels[0].bit_volts.has_value());
  EXPECT_NEAR(*m.channels[0].bit_volts, 0.061035, 1e-6);
  EXPECT_EQ(m.channels[0].units, "uV");
  // A window across a record boundary equals the samples of the documented layout.
  const auto reference = samples_by_layout(test::read_file(folder / "CSC1_truncated.ncs"), 16384, 20, 512, 0, false);
  ASSERT_EQ(reference.size(), 31u * 512);
  EXPECT_EQ(window_of(dir / "default.spikey", "CSC1", 500, 1700), slice(reference, 500, 1700));
}

// Records through the metadata copy (SPEC §3.7): with the metadata section damaged, the .ncs
// files' framing comes from the copy, and salvage gives them back byte for byte without the
// folder's side file.
TEST(AcquisitionFormats, RecordFilesRestoreFromTheMetadataCopy) {
  test::TempDir dir;
  fs::create_directories(dir / "in");
  for (const auto& e : fs::directory_iterator(test::samples_dir() / "neuralynx")) fs::copy_file(e.path(), dir / "in" / e.path().filename());
  const auto a = compress_inputs({dir / "in"}, dir / "a.spikey");
  auto bytes = test::read_file(a.archive);
  bytes[70] ^= 0x10;  // inside the metadata section
  test::write_file(dir / "bad.spikey", bytes);
  const auto report = host::salvage_archive(dir / "bad.spikey", dir / "saved.spikey", {true, 1});
  EXPECT_EQ(report.lost_files, (std::vector<std::string>{"README.txt"}));
  fs::remove(dir / "in" / "README.txt");
  expect_restores_exactly(dir / "saved.spikey", dir / "in", dir / "out");
}

// Format 15 (SPEC §3.3): the metadata section and its copy in several zstd frames. The
// Neuralynx sample folder's verbatim bytes (three 16 KiB headers, the record framing, a side
// file) split into frames of a few KiB: the archive restores byte for byte, its chunks are the
// one-frame archive's, a reader parses only the first frame to open it, and salvage finds the
// frames behind a damaged file header and reads the copy's frames behind a damaged section.
TEST(AcquisitionFormats, MetadataInSeveralFramesRestoresAndSalvages) {
  test::TempDir dir;
  fs::create_directories(dir / "in");
  for (const auto& e : fs::directory_iterator(test::samples_dir() / "neuralynx")) fs::copy_file(e.path(), dir / "in" / e.path().filename());
  host::EncodeOptions options;
  options.overwrite = true;
  options.threads = 2;
  const host::Recording recording = host::Recording::open({dir / "in"}, {}, [](const std::string&) {});
  host::compress(recording, dir / "one.spikey", options);
  const format::ArchiveReader one(dir / "one.spikey");
  const std::uint64_t verbatim = one.verbatim().size();
  ASSERT_GT(verbatim, 40000u);
  options.metadata_frames = {100, (verbatim - 100 + 2) / 3};  // the first frame's 100 bytes, then three
  host::compress(recording, dir / "frames.spikey", options);
  expect_restores_exactly(dir / "frames.spikey", dir / "in", dir / "out");
  const format::ArchiveReader frames(dir / "frames.spikey");
  EXPECT_EQ(frames.format_version(), format::kFormatVersion);
  EXPECT_EQ(frames.verbatim(), one.verbatim());
  ASSERT_EQ(frames.index().size(), one.index().size());
  for (std::size_t i = 0; i < one.index().size(); ++i) EXPECT_EQ(frames.read_payload(i), one.read_payload(i));
  const auto bytes = test::read_file(dir / "frames.spikey");
  const format::FileHeader header = format::parse_file_header(std::span(bytes).first(format::kFileHeaderSize));
  // One frame when the verbatim bytes fit the first (64 MiB by default); a reader of version 14
  // takes one frame only.
  const auto one_bytes = test::read_file(dir / "one.spikey");
  const format::FileHeader one_header = format::parse_file_header(std::span(one_bytes).first(format::kFileHeaderSize));
  EXPECT_EQ(format::parse_metadata_head(std::span(one_bytes).subspan(format::kFileHeaderSize, one_header.metadata_size)).section.verbatim.size(), verbatim);
  const auto stored = std::span(bytes).subspan(format::kFileHeaderSize, header.metadata_size);
  try {
    format::parse_metadata_section(stored, 14);
    ADD_FAILURE() << "several frames read as version 14";
  } catch (const format::ArchiveError& e) {
    EXPECT_NE(std::string(e.what()).find("not a single zstd frame"), std::string::npos) << e.what();
  }
  const format::MetadataHead head = format::parse_metadata_head(stored, header.format_version);
  EXPECT_EQ(head.section.verbatim.size(), 100u);
  EXPECT_EQ(head.verbatim_size, verbatim);

  // The last frame's declared content size one more than it holds, the header's checksum made
  // to agree: opening and reading a window decompress the first frame only; restoring reads the
  // last and fails.
  {
    auto forged = bytes;
    const std::array<std::uint8_t, 4> zstd_magic = {0x28, 0xb5, 0x2f, 0xfd};
    const auto last = std::find_end(forged.begin() + format::kFileHeaderSize, forged.begin() + format::kFileHeaderSize + header.metadata_size,
                                    zstd_magic.begin(), zstd_magic.end());
    ASSERT_GT(last - forged.begin(), static_cast<std::ptrdiff_t>(format::kFileHeaderSize));
    const std::uint8_t descriptor = last[4];  // RFC 8878: the frame header descriptor
    const int size_field = descriptor >> 6, single_segment = (descriptor >> 5) & 1, dictionary_id = descriptor & 3;
    ASSERT_TRUE(size_field == 1 || size_field == 2);  // a content size of 2 or 4 bytes
    auto* content_size = &last[5 + (single_segment ? 0 : 1) + (dictionary_id == 3 ? 4 : dictionary_id)];
    content_size[0]++;  // the sizes here are far from a carry's edge
    ASSERT_NE(content_size[0], 0);
    format::FileHeader h = header;
    h.metadata_checksum = format::checksum64(std::span(forged).subspan(format::kFileHeaderSize, header.metadata_size));
    const auto h_bytes = format::serialize(h);
    std::copy(h_bytes.begin(), h_bytes.end(), forged.begin());
    test::write_file(dir / "forged.spikey", forged);
    const format::ArchiveReader reader(dir / "forged.spikey");
    EXPECT_TRUE(reader.damage().empty());
    EXPECT_EQ(window_of(dir / "forged.spikey", "CSC1", 100, 900), window_of(dir / "one.spikey", "CSC1", 100, 900));
    try {
      test::restore_into(dir / "forged.spikey", dir / "forged_out");
      ADD_FAILURE() << "restored";
    } catch (const format::ArchiveError& e) {
      EXPECT_NE(std::string(e.what()).find("(frame 3, bytes "), std::string::npos) << e.what();  // the last frame, named
    }
  }
  // The file header damaged: salvage finds the section's frames after it by their checksum.
  {
    auto damaged = bytes;
    damaged[1] ^= 0x01;  // the magic
    test::write_file(dir / "bad_header.spikey", damaged);
    const auto report = host::salvage_archive(dir / "bad_header.spikey", dir / "saved_header.spikey", {true, 1});
    EXPECT_TRUE(report.lost_files.empty());
    expect_restores_exactly(dir / "saved_header.spikey", dir / "in", dir / "out_header");
  }
  // The section damaged in its second frame: the copy (in frames too) gives the .ncs files.
  {
    auto damaged = bytes;
    damaged[format::kFileHeaderSize + header.metadata_size / 2] ^= 0x10;
    test::write_file(dir / "bad_section.spikey", damaged);
    const format::ArchiveReader reader(dir / "bad_section.spikey");
    ASSERT_FALSE(reader.damage().empty());
    EXPECT_NE(reader.damage().front().find("the metadata copy before the index was used"), std::string::npos) << reader.damage().front();
    const auto report = host::salvage_archive(dir / "bad_section.spikey", dir / "saved_section.spikey", {true, 1});
    EXPECT_EQ(report.lost_files, (std::vector<std::string>{"README.txt"}));
    fs::remove(dir / "in" / "README.txt");
    expect_restores_exactly(dir / "saved_section.spikey", dir / "in", dir / "out_section");
  }
}

TEST(AcquisitionFormats, NeuralynxGapAndSideFilesRestoreExactly) {
  SPIKEY_REQUIRE_SHARED("formats/neuralynx_v551_tetrode/Tet3a.ncs");
  test::TempDir dir;
  const fs::path folder = copy_format_folder("neuralynx_v551_tetrode", dir / "in");
  const auto a = compress_inputs({folder}, dir / "a.spikey");
  expect_restores_exactly(a.archive, folder, dir / "out");
  const auto reference = samples_by_layout(test::read_file(folder / "Tet3b.ncs"), 16384, 20, 512, 0, false);
  // Records 2497 and 2498 lie on either side of the 203.85 s gap: the channel runs on.
  EXPECT_EQ(window_of(a.archive, "Tet3b", 2497 * 512 - 300, 2498 * 512 + 300), slice(reference, 2497 * 512 - 300, 2498 * 512 + 300));
  // The 20-byte record headers (timestamps across the gap included) cost almost nothing: the
  // .ncs files compress better than their samples alone would allow if the headers were raw.
  const format::ArchiveReader reader(a.archive);
  for (const auto& s : reader.metadata().sources)
    if (s.kind == format::SourceKind::neuralynx) EXPECT_EQ(s.records.count, 3332u);
}

TEST(AcquisitionFormats, OpenEphysLegacyFolderRestoresByteForByte) {
  SPIKEY_REQUIRE_SHARED("formats/openephys_legacy_1/101_CH0.continuous");
  test::TempDir dir;
  const fs::path folder = copy_format_folder("openephys_legacy_1", dir / "in");
  const auto a = compress_inputs({folder}, dir / "a.spikey");
  expect_restores_exactly(a.archive, folder, dir / "out");
  const format::ArchiveReader reader(a.archive);
  const auto& m = reader.metadata();
  ASSERT_EQ(m.channels.size(), 2u);
  EXPECT_EQ(m.channels[1].name, "CH1");
  EXPECT_DOUBLE_EQ(m.sample_rate, 40000);
  const auto& source = m.sources[m.channels[1].source];
  EXPECT_EQ(source.kind, format::SourceKind::open_ephys_legacy);
  EXPECT_TRUE(source.big_endian);
  EXPECT_EQ(source.records.count, 414u);
  ASSERT_TRUE(m.channels[1].bit_volts.has_value());
  EXPECT_DOUBLE_EQ(*m.channels[1].bit_volts, 0.05);
  const auto reference = samples_by_layout(test::read_file(folder / "101_CH1.continuous"), 1024, 12, 1024, 10, true);
  ASSERT_EQ(reference.size(), 414u * 1024);
  EXPECT_EQ(window_of(a.archive, "CH1", 40000 * 3 - 5, 40000 * 3 + 3000), slice(reference, 40000 * 3 - 5, 40000 * 3 + 3000));
  // One file given alone is a recording too.
  const auto one = compress_inputs({folder / "101_CH0.continuous"}, dir / "one.spikey", "fast");
  fs::create_directories(dir / "one_in");
  fs::copy_file(folder / "101_CH0.continuous", dir / "one_in" / "101_CH0.continuous");
  expect_restores_exactly(one.archive, dir / "one_in", dir / "one_out");
  // A recording restarted in the same folder: the GUI writes continuation files (<name>_2.continuous),
  // each a header and its own records (here the real header and the last 100 records).
  for (const char* ch : {"101_CH0", "101_CH1"}) {
    const auto file = test::read_file(folder / (std::string(ch) + ".continuous"));
    std::vector<std::uint8_t> second(file.begin(), file.begin() + 1024);
    second.insert(second.end(), file.begin() + 1024 + 314 * 2070, file.begin() + 1024 + 414 * 2070);
    test::write_file(folder / (std::string(ch) + "_2.continuous"), second);
  }
  const auto both = compress_inputs({folder}, dir / "both.spikey");
  expect_restores_exactly(both.archive, folder, dir / "both_out");
  const format::ArchiveReader r2(both.archive);
  ASSERT_EQ(r2.metadata().channels.size(), 4u);
  const auto& continued = r2.metadata().sources[r2.metadata().channels[1].source];
  EXPECT_EQ(continued.path, "101_CH0_2.continuous");
  EXPECT_EQ(continued.records.count, 100u);
}

TEST(AcquisitionFormats, PartialLastRecordsAreKeptWithAWarning) {
  SPIKEY_REQUIRE_SHARED("formats/neuralynx_v641_truncated/CSC1_truncated.ncs");
  SPIKEY_REQUIRE_SHARED("formats/openephys_legacy_1/101_CH0.continuous");
  test::TempDir dir;
  fs::create_directories(dir / "in");
  auto ncs = test::read_file(test::shared_data_dir() / "formats/neuralynx_v641_truncated/CSC1_truncated.ncs");
  ncs.resize(16384 + 5 * 1044 + 300);  // an acquisition that stopped in the middle of record 5
  test::write_file(dir / "in" / "CSC1.ncs", ncs);
  auto continuous = test::read_file(test::shared_data_dir() / "formats/openephys_legacy_1/101_CH0.continuous");
  continuous.resize(1024 + 7 * 2070 + 2065);  // the marker of record 7 cut short
  test::write_file(dir / "in" / "100_CH0.continuous", continuous);
  const auto a = compress_inputs({dir / "in"}, dir / "a.spikey", "fast");
  std::size_t warnings = 0;
  for (const auto& n : a.notes) warnings += n.find("the last record is partial") != std::string::npos;
  EXPECT_EQ(warnings, 2u);
  expect_restores_exactly(a.archive, dir / "in", dir / "out");
  const format::ArchiveReader reader(a.archive);
  EXPECT_EQ(reader.metadata().channels[0].length, 7u * 1024);
  EXPECT_EQ(reader.metadata().channels[1].length, 5u * 512);
}

TEST(AcquisitionFormats, DamagedFilesAreRefusedNamingTheFileAndByte) {
  test::TempDir dir;
  const auto refused = [&](const std::string& name, const std::vector<std::uint8_t>& bytes) { return refusal_of(dir / name, bytes); };
  const std::string short_ncs = refused("short.ncs", std::vector<std::uint8_t>(1000, 0));
  EXPECT_NE(short_ncs.find("short.ncs"), std::string::npos);
  EXPECT_NE(short_ncs.find("16384"), std::string::npos);
  std::vector<std::uint8_t> not_ncs(16384 + 1044, 'x');
  EXPECT_NE(refused("x.ncs", not_ncs).find("byte 0"), std::string::npos);
  SPIKEY_REQUIRE_SHARED("formats/openephys_legacy_1/101_CH0.continuous");
  auto continuous = test::read_file(test::shared_data_dir() / "formats/openephys_legacy_1/101_CH0.continuous");
  continuous[1024 + 3 * 2070 + 8] = 7;  // record 3 claims 7 samples
  const std::string bad_count = refused("bad.continuous", continuous);
  EXPECT_NE(bad_count.find("bad.continuous: byte " + std::to_string(1024 + 3 * 2070 + 8)), std::string::npos) << bad_count;
  EXPECT_NE(bad_count.find("record 3"), std::string::npos);
}

TEST(AcquisitionFormats, MetadataRejectsRecordLayoutsThatDoNotFitTheFile) {
  SPIKEY_REQUIRE_SHARED("formats/neuralynx_v641_truncated/WE1_truncated.ncs");
  test::TempDir dir;
  const auto a = compress_inputs({test::shared_data_dir() / "formats/neuralynx_v641_truncated/WE1_truncated.ncs"}, dir / "a.spikey", "fast");
  const format::ArchiveReader reader(a.archive);
  const std::uint64_t verbatim = reader.verbatim().size();
  const auto rejects = [&](const std::function<void(format::SourceFile&)>& change) {
    format::Metadata m = reader.metadata();
    change(m.sources[0]);
    EXPECT_ANY_THROW(format::parse_metadata_section(format::serialize(format::MetadataSection{m, reader.verbatim()})));
  };
  { // unchanged, it parses
    const format::Metadata m = reader.metadata();
    EXPECT_NO_THROW(format::parse_metadata_section(format::serialize(format::MetadataSection{m, reader.verbatim()})));
  }
  rejects([](format::SourceFile& s) { s.records.frames = 256; });
  rejects([](format::SourceFile& s) { s.records.header = 24; });
  rejects([](format::SourceFile& s) { s.records.fields = {{16, 8}}; });
  rejects([](format::SourceFile& s) { s.records.fields = {{0, 3}}; });
  rejects([&](format::SourceFile& s) { s.records.framing.offset = verbatim; });
  rejects([](format::SourceFile& s) { s.records.framing.size += 1; });
  // Records of unequal lengths (format 13): the same records given as lengths parse and round
  // trip; lengths that do not add up to the frames, or disagree with the records, do not.
  const auto as_lengths = [](format::SourceFile& s) {
    for (std::uint64_t r = 1; r <= s.records.count; ++r) s.records.ends.push_back(r * s.records.frames);
    s.records.frames = 0;
  };
  {
    format::Metadata m = reader.metadata();
    ASSERT_GE(m.sources[0].records.count, 1u);
    as_lengths(m.sources[0]);
    const auto parsed = format::parse_metadata_section(format::serialize(format::MetadataSection{m, reader.verbatim()}));
    EXPECT_EQ(parsed.metadata.sources[0].records.ends, m.sources[0].records.ends);
  }
  rejects([&](format::SourceFile& s) { as_lengths(s), s.records.ends.back() -= 1; });
  rejects([&](format::SourceFile& s) { as_lengths(s), s.records.ends.pop_back(); });
  rejects([&](format::SourceFile& s) { as_lengths(s), s.records.frames = 512; });
  rejects([&](format::SourceFile& s) { as_lengths(s), s.records.planar = true; });
  rejects([&](format::SourceFile& s) { as_lengths(s), s.records.ends.push_back(s.records.ends.back() + 1), s.records.count += 1; });
}

namespace {

// A Blackrock NEURALCD file (file spec `major`.x) around real int16 frames: `packets` data
// packets of the given frame counts, cut from `frames` in order.
std::vector<std::uint8_t> neuralcd_file(unsigned major, std::uint32_t channels, const std::vector<std::uint8_t>& frames,
                                        const std::vector<std::uint32_t>& packets) {
  std::vector<std::uint8_t> out;
  const auto put = [&](std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  const auto text = [&](const std::string& s, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) out.push_back(i < s.size() ? static_cast<std::uint8_t>(s[i]) : 0);
  };
  text("NEURALCD", 8);
  put(major, 1), put(major >= 3 ? 0 : 3, 1);
  put(314 + 66 * channels, 4);
  text("1 kS/s", 16), text("", 256);
  put(30, 4), put(major >= 3 ? 1000000000 : 30000, 4);
  for (int i = 0; i < 8; ++i) put(2020 + i, 2);
  put(channels, 4);
  for (std::uint32_t c = 0; c < channels; ++c) {
    text("CC", 2), put(c + 1, 2), text("ainp" + std::to_string(c + 1), 16), put(1, 1), put(c, 1);
    put(static_cast<std::uint16_t>(-32764), 2), put(32764, 2), put(static_cast<std::uint16_t>(-5000), 2), put(5000, 2);
    text("mV", 16), put(0, 4), put(0, 4), put(0, 2), put(0, 4), put(0, 4), put(0, 2);
  }
  std::size_t at = 0;
  std::uint64_t timestamp = 123456;
  for (std::uint32_t n : packets) {
    put(1, 1), put(timestamp, major >= 3 ? 8 : 4), put(n, 4);
    out.insert(out.end(), frames.begin() + static_cast<std::ptrdiff_t>(at), frames.begin() + static_cast<std::ptrdiff_t>(at + 2ull * channels * n));
    at += 2ull * channels * n;
    timestamp += major >= 3 ? 1000000ull * n : 30ull * n;
  }
  return out;
}

}  // namespace

TEST(AcquisitionFormats, BlackrockNsxOfEveryFileSpecRestoresByteForByte) {
  const fs::path ns2 = test::samples_dir() / "blackrock" / "l101210-001.ns2";
  const auto file = test::read_file(ns2);
  test::TempDir dir;
  {  // file spec 2.1: 6 analog inputs at 1 kHz, channel IDs as names
    fs::create_directories(dir / "in21");
    fs::copy_file(ns2, dir / "in21" / "l101210-001.ns2");
    const auto a = compress_inputs({dir / "in21" / "l101210-001.ns2"}, dir / "a21.spikey");
    expect_restores_exactly(a.archive, dir / "in21", dir / "out21");
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 6u);
    EXPECT_EQ(m.channels[0].name, "ch137");
    EXPECT_EQ(m.channels[5].name, "ch143");
    EXPECT_DOUBLE_EQ(m.sample_rate, 1000);
    EXPECT_EQ(m.sources[0].kind, format::SourceKind::blackrock);
    EXPECT_EQ(m.channels[0].length, (file.size() - 56) / 12);
    // Channel 141 (column 4), samples 990-2100: the documented layout read directly.
    std::vector<std::int16_t> reference;
    for (std::size_t t = 990; t < 2100; ++t) reference.push_back(static_cast<std::int16_t>(file[56 + 12 * t + 8] | file[56 + 12 * t + 9] << 8));
    EXPECT_EQ(window_of(a.archive, "ch141", 990, 2100), reference);
  }
  const std::vector<std::uint8_t> frames(file.begin() + 56, file.begin() + 56 + 12 * 3600);
  for (const auto& [name, major, packets] : {std::tuple{"one_packet.ns2", 2u, std::vector<std::uint32_t>{3600}},
                                              std::tuple{"frame_packets.ns2", 3u, std::vector<std::uint32_t>(3600, 1)},
                                              std::tuple{"paused.ns2", 2u, std::vector<std::uint32_t>{2000, 1000, 600}}}) {
    SCOPED_TRACE(name);
    const fs::path in = dir / (std::string(name) + "_in");
    fs::create_directories(in);
    auto bytes = neuralcd_file(major, 6, frames, packets);
    test::write_file(in / name, bytes);
    const auto a = compress_inputs({in}, dir / (std::string(name) + ".spikey"));
    expect_restores_exactly(a.archive, in, dir / (std::string(name) + "_out"));
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 6u);
    EXPECT_EQ(m.channels[2].name, "ainp3");
    EXPECT_EQ(m.channels[2].units, "mV");
    ASSERT_TRUE(m.channels[2].bit_volts.has_value());
    EXPECT_DOUBLE_EQ(*m.channels[2].bit_volts, 10000.0 / 65528);
    // Every packet's samples compressed: alike packets as records of one length, a paused
    // recording's as records of their own lengths (format 13).
    EXPECT_EQ(m.channels[0].length, 3600u);
    EXPECT_EQ(m.sources[0].records.count, packets.size() == 1 ? 0u : packets.size());
    const std::vector<std::uint64_t> ends = packets.size() == 3 ? std::vector<std::uint64_t>{2000, 3000, 3600} : std::vector<std::uint64_t>{};
    EXPECT_EQ(m.sources[0].records.ends, ends);
    EXPECT_TRUE(a.notes.empty());
    std::vector<std::int16_t> reference;  // across both pauses
    for (std::size_t t = 100; t < 3500; ++t) reference.push_back(static_cast<std::int16_t>(frames[12 * t + 4] | frames[12 * t + 5] << 8));
    EXPECT_EQ(window_of(a.archive, "ainp3", 100, 3500), reference);
  }
  // A paused recording whose last packet is cut short, and one with an empty packet among others
  // (its first packet compressed, the rest kept byte for byte, with a note): restored exactly.
  for (const auto& [name, packets, cut_bytes, length] : {std::tuple{"paused_cut.ns6", std::vector<std::uint32_t>{1500, 2100}, 1001, 3516u},
                                                          std::tuple{"empty_packet.ns6", std::vector<std::uint32_t>{1500, 0, 2100}, 0, 1500u}}) {
    SCOPED_TRACE(name);
    const fs::path in = dir / (std::string(name) + "_in");
    fs::create_directories(in);
    auto bytes = neuralcd_file(3, 6, frames, packets);
    bytes.resize(bytes.size() - cut_bytes);
    test::write_file(in / name, bytes);
    const auto a = compress_inputs({in}, dir / (std::string(name) + ".spikey"));
    EXPECT_EQ(a.notes.size(), 1u);
    expect_restores_exactly(a.archive, in, dir / (std::string(name) + "_out"));
    const format::ArchiveReader reader(a.archive);
    EXPECT_EQ(reader.metadata().channels[0].length, length);
  }
  // A packet that declares more frames than the file holds: a warning, restored exactly.
  auto cut = neuralcd_file(2, 6, frames, {3600});
  cut.resize(cut.size() - 1000);
  fs::create_directories(dir / "cut");
  test::write_file(dir / "cut" / "cut.ns5", cut);
  const auto a = compress_inputs({dir / "cut"}, dir / "cut.spikey");
  EXPECT_EQ(a.notes.size(), 1u);
  expect_restores_exactly(a.archive, dir / "cut", dir / "cut_out");
  // Damaged headers name the file and byte.
  auto bad = neuralcd_file(2, 6, frames, {100});
  bad[314 + 66] = 'X';  // the second extended header
  test::write_file(dir / "bad.ns2", bad);
  try {
    host::Recording::open({dir / "bad.ns2"}, {}, [](const std::string&) {});
    ADD_FAILURE() << "accepted";
  } catch (const host::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.ns2: byte 380"), std::string::npos) << e.what();
  }
}

TEST(AcquisitionFormats, IntanFoldersOfBothLayoutsRestoreByteForByte) {
  SPIKEY_REQUIRE_SHARED("formats/intan_fpc/info.rhd");
  test::TempDir dir;
  const fs::path fpc = copy_format_folder("intan_fpc", dir / "fpc");
  const auto a = compress_inputs({fpc}, dir / "fpc.spikey");
  expect_restores_exactly(a.archive, fpc, dir / "fpc_out");
  {
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 64u + 6 + 1 + 1 + 2);  // amplifier, aux, ADC, digital in, time.dat's two halves
    EXPECT_EQ(m.channels[0].name, "A-000");
    EXPECT_EQ(m.channels[0].units, "uV");
    EXPECT_DOUBLE_EQ(*m.channels[0].bit_volts, 0.195);
    const auto& aux = m.sources[m.channels[64].source];
    EXPECT_EQ(m.channels[64].name, "A-AUX1");
    EXPECT_TRUE(aux.unsigned_samples);
    EXPECT_EQ(aux.kind, format::SourceKind::intan);
    EXPECT_EQ(m.channels[71].name, "DIGITAL-IN-01");
    EXPECT_TRUE(m.channels[71].sync);
    EXPECT_EQ(m.channels[73].name, "time_high16");
    EXPECT_TRUE(m.channels[73].sync);
    EXPECT_EQ(m.channels[72].units, "samples");
    EXPECT_DOUBLE_EQ(*m.channels[73].bit_volts, 65536);
    EXPECT_DOUBLE_EQ(m.sample_rate, 30000);
  }
  // The same recording saved as one file per signal type: amplifier.dat interleaves the 64
  // amplifier channels (int16), auxiliary.dat the 6 aux inputs, analogin.dat and digitalin.dat
  // one channel each (uint16), with the same info.rhd and time.dat.
  const fs::path fps = dir / "fps";
  fs::create_directories(fps);
  for (const char* f : {"info.rhd", "time.dat", "settings.xml"}) fs::copy_file(fpc / f, fps / f);
  const auto interleave = [&](const std::vector<std::string>& names, const fs::path& out) {
    std::vector<std::vector<std::uint8_t>> files;
    for (const auto& n : names) files.push_back(test::read_file(fpc / n));
    std::vector<std::uint8_t> bytes;
    for (std::size_t t = 0; t < files[0].size(); t += 2)
      for (const auto& f : files) bytes.push_back(f[t]), bytes.push_back(f[t + 1]);
    test::write_file(out, bytes);
    return bytes;
  };
  std::vector<std::string> amps, aux;
  for (const char* port : {"A", "B"}) {
    for (int c = 0; c < 32; ++c) {
      char name[32];
      std::snprintf(name, sizeof name, "amp-%s-%03d.dat", port, c);
      amps.push_back(name);
    }
    for (int c = 1; c <= 3; ++c) aux.push_back(std::string("aux-") + port + "-AUX" + std::to_string(c) + ".dat");
  }
  const auto amplifier = interleave(amps, fps / "amplifier.dat");
  interleave(aux, fps / "auxiliary.dat");
  interleave({"board-ANALOG-IN-1.dat"}, fps / "analogin.dat");
  interleave({"board-DIGITAL-IN-01.dat"}, fps / "digitalin.dat");
  const auto b = compress_inputs({fps}, dir / "fps.spikey");
  expect_restores_exactly(b.archive, fps, dir / "fps_out");
  const format::ArchiveReader reader(b.archive);
  const auto& m = reader.metadata();
  ASSERT_EQ(m.channels.size(), 64u + 1 + 6 + 1 + 2);  // amplifier, analogin, auxiliary, digitalin, time
  EXPECT_EQ(m.channels[0].name, "A-000");
  EXPECT_EQ(m.channels[32].name, "B-000");
  EXPECT_EQ(m.channels[64].name, "ANALOG-IN-1");
  EXPECT_EQ(m.channels[65].name, "A-AUX1");
  EXPECT_EQ(m.channels[71].name, "DIGITAL-IN");
  // Channel B-005 (column 37 of amplifier.dat), samples 1000-3000: the file read directly.
  std::vector<std::int16_t> reference;
  for (std::size_t t = 1000; t < 3000; ++t) reference.push_back(static_cast<std::int16_t>(amplifier[128 * t + 74] | amplifier[128 * t + 75] << 8));
  EXPECT_EQ(window_of(b.archive, "B-005", 1000, 3000), reference);
  // A damaged info.rhd names the file and byte.
  auto info = test::read_file(fps / "info.rhd");
  info[0] ^= 0xff;
  test::write_file(fps / "info.rhd", info);
  try {
    host::Recording::open({fps}, {}, [](const std::string&) {});
    ADD_FAILURE() << "accepted";
  } catch (const host::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("info.rhd: byte 0"), std::string::npos) << e.what();
  }
  info = test::read_file(fpc / "info.rhd");
  info.resize(3000);
  test::write_file(fps / "info.rhd", info);
  try {
    host::Recording::open({fps}, {}, [](const std::string&) {});
    ADD_FAILURE() << "accepted";
  } catch (const host::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("info.rhd: byte 3000: the RHD header ends early"), std::string::npos) << e.what();
  }
}

// SpikeGLX runs with a probe and the NI-DAQ stream (their .bin files shorter than their .meta
// says: archived with a warning), and an Open Ephys binary folder mixing neural and ADC
// channels: whole folders, byte for byte, each stream at its own rate.
TEST(AcquisitionFormats, SpikeGlxRunsAndMixedOpenEphysFoldersRestoreByteForByte) {
  SPIKEY_REQUIRE_SHARED("formats/spikeglx_np2/all_chan_g0_t0.nidq.bin");
  SPIKEY_REQUIRE_SHARED("formats/spikeglx_noise4sam/Noise4Sam_g0_t0.nidq.bin");
  SPIKEY_REQUIRE_SHARED("formats/openephys_binary_mixed/settings.xml");
  for (const auto& [name, channels, slow_rate] : {std::tuple{"spikeglx_np2", 387u, 25000.0}, std::tuple{"spikeglx_noise4sam", 394u, 11574.1},
                                                  std::tuple{"openephys_binary_mixed", 6u, 0.0}}) {
    SCOPED_TRACE(name);
    test::TempDir dir;
    const fs::path folder = copy_format_folder(name, dir / "in");
    const auto a = compress_inputs({folder}, dir / "a.spikey");
    expect_restores_exactly(a.archive, folder, dir / "out");
    const format::ArchiveReader reader(a.archive);
    EXPECT_EQ(reader.metadata().channels.size(), channels);
    EXPECT_DOUBLE_EQ(reader.metadata().sample_rate, 30000);
    if (slow_rate > 0) {
      bool found = false;
      for (const auto& s : reader.metadata().sources) found = found || std::abs(s.sample_rate - slow_rate) < 0.1;
      EXPECT_TRUE(found) << "the NI-DAQ stream keeps its own rate";
      EXPECT_FALSE(a.notes.empty());  // the stale fileSizeBytes
    }
  }
}

#if defined(SPIKEY_WITH_HDF5)
namespace {

// An NWB-shaped HDF5 file: /acquisition/<name> groups with neurodata_type ElectricalSeries,
// their `data` (time, channels) and `starting_time` with a `rate` attribute.
class NwbWriter {
 public:
  explicit NwbWriter(const fs::path& path) {
    file_ = H5Fcreate(path.string().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    acquisition_ = H5Gcreate2(file_, "/acquisition", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  }
  ~NwbWriter() {
    H5Gclose(acquisition_);
    H5Fclose(file_);
  }
  // `type` is the file's element type; `chunked` stores the data in gzip-compressed chunks.
  template <typename T>
  void series(const std::string& name, hid_t type, const std::vector<T>& values, hsize_t channels, double rate, bool chunked = false,
              double conversion = 1.95e-7) {
    const hid_t group = H5Gcreate2(acquisition_, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    string_attribute(group, "neurodata_type", "ElectricalSeries");
    const hsize_t dims[2] = {values.size() / channels, channels};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    const hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked) {
      const hsize_t chunk[2] = {256, channels};
      H5Pset_chunk(plist, 2, chunk);
      H5Pset_deflate(plist, 4);
    }
    const hid_t data = H5Dcreate2(group, "data", type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    H5Dwrite(data, std::is_same_v<T, double> ? H5T_NATIVE_DOUBLE : std::is_same_v<T, float> ? H5T_NATIVE_FLOAT : H5T_NATIVE_SHORT, H5S_ALL, H5S_ALL,
             H5P_DEFAULT, values.data());
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(data, "conversion", H5T_IEEE_F32LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, H5T_NATIVE_DOUBLE, &conversion);
    const hid_t start = H5Dcreate2(group, "starting_time", H5T_IEEE_F64LE, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const double zero = 0;
    H5Dwrite(start, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &zero);
    const hid_t rate_attr = H5Acreate2(start, "rate", H5T_IEEE_F32LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(rate_attr, H5T_NATIVE_DOUBLE, &rate);
    for (hid_t id : {rate_attr, attr}) H5Aclose(id);
    for (hid_t id : {start, data}) H5Dclose(id);
    H5Sclose(scalar), H5Sclose(space), H5Pclose(plist), H5Gclose(group);
  }

 private:
  static void string_attribute(hid_t object, const char* name, const std::string& value) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, value.size());
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const hid_t attr = H5Acreate2(object, name, type, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, type, value.data());
    H5Aclose(attr), H5Sclose(scalar), H5Tclose(type);
  }
  hid_t file_ = -1, acquisition_ = -1;
};

}  // namespace

TEST(AcquisitionFormats, NwbSeriesAreChannelsAndTheFileRestoresByteForByte) {
  test::TempDir dir;
  const auto raw = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  std::vector<std::int16_t> samples(raw.size() / 2);
  std::memcpy(samples.data(), raw.data(), raw.size());
  fs::create_directories(dir / "in");
  {
    NwbWriter nwb(dir / "in" / "session.nwb");
    nwb.series("ElectricalSeries", H5T_STD_I16LE, samples, 32, 30000.0);
    std::vector<double> lfp(samples.begin(), samples.begin() + 3200);
    nwb.series("LFP", H5T_IEEE_F64LE, lfp, 32, 1000.0);  // floats on a grid, but the smaller series: kept verbatim
    std::vector<std::int16_t> compressed(samples.begin(), samples.begin() + 32 * 1000);
    nwb.series("Compressed", H5T_STD_I16LE, compressed, 32, 30000.0, true);  // chunked and gzip: kept verbatim
  }
  std::vector<std::string> notes;
  host::EncodeOptions options;
  options.threads = 2;
  const fs::path archive = dir / "nwb.spikey";
  host::compress(host::Recording::open({dir / "in" / "session.nwb"}, {}, [&](const std::string& n) { notes.push_back(n); }), archive, options);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].find("Compressed is kept verbatim: its data are stored chunked or compressed"), std::string::npos) << notes[0];
  EXPECT_NE(notes[1].find("LFP is kept verbatim (a larger series is compressed)"), std::string::npos) << notes[1];
  expect_restores_exactly(archive, dir / "in", dir / "out");
  const format::ArchiveReader reader(archive);
  const auto& m = reader.metadata();
  ASSERT_EQ(m.channels.size(), 32u);
  EXPECT_EQ(m.sources[0].kind, format::SourceKind::nwb);
  EXPECT_EQ(m.channels[7].name, "ElectricalSeries:7");
  EXPECT_DOUBLE_EQ(m.sample_rate, 30000);
  EXPECT_NEAR(*m.channels[7].bit_volts, 0.195, 1e-6);
  std::vector<std::int16_t> reference;
  for (std::size_t t = 2000; t < 5000; ++t) reference.push_back(samples[32 * t + 7]);
  EXPECT_EQ(window_of(archive, "ElectricalSeries:7", 2000, 5000), reference);
  // Floats that are int16 codes times a gain (µV in float32, computed in float32 arithmetic;
  // volts in float64, big-endian) become channels of those codes and restore bit for bit.
  std::vector<float> microvolts;
  std::vector<double> volts;
  for (std::size_t i = 0; i < 32 * 3000; ++i) microvolts.push_back(static_cast<float>(samples[i]) * 0.195f);
  for (std::size_t i = 0; i < 4 * 3000; ++i) volts.push_back(samples[i] * 1.95e-7);
  for (const auto& [name, big] : {std::pair{"uv32", false}, std::pair{"volts64", true}}) {
    SCOPED_TRACE(name);
    const fs::path folder = dir / name;
    fs::create_directories(folder);
    {
      NwbWriter nwb(folder / "session.nwb");
      if (big)
        nwb.series("ElectricalSeries", H5T_IEEE_F64BE, volts, 4, 30000.0, false, 1.0);
      else
        nwb.series("ElectricalSeries", H5T_IEEE_F32LE, microvolts, 32, 30000.0, false, 1e-6);
    }
    notes.clear();
    options.overwrite = true;
    host::compress(host::Recording::open({folder / "session.nwb"}, {}, [&](const std::string& n) { notes.push_back(n); }), dir / "f.spikey", options);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find(big ? "64-bit floats that are all whole multiples of 1.95e-07" : "32-bit floats that are all whole multiples of 0.19"),
              std::string::npos) << notes[0];
    expect_restores_exactly(dir / "f.spikey", folder, dir / (std::string(name) + "_out"));
    const format::ArchiveReader f(dir / "f.spikey");
    EXPECT_EQ(f.metadata().sources[0].float_bytes, big ? 8u : 4u);
    EXPECT_EQ(f.metadata().sources[0].big_endian, big);
    EXPECT_NEAR(*f.metadata().channels[2].bit_volts, 0.195, 1e-6);
    for (const auto& change : std::vector<std::function<void(format::SourceFile&)>>{
             [](format::SourceFile& x) { x.sample_step = 0; }, [](format::SourceFile& x) { x.float_bytes = 12 - x.float_bytes; }}) {
      format::Metadata m = f.metadata();
      change(m.sources[0]);
      EXPECT_ANY_THROW(format::parse_metadata_section(format::serialize(format::MetadataSection{m, f.verbatim()})));
    }
    std::vector<std::int16_t> codes;
    const std::size_t k = big ? 4 : 32;
    for (std::size_t t = 100; t < 2900; ++t) codes.push_back(samples[k * t + 2]);
    EXPECT_EQ(window_of(dir / "f.spikey", "ElectricalSeries:2", 100, 2900), codes);
  }
  // Floats off any grid (noise): the file alone makes an archive of one side file, said so.
  fs::create_directories(dir / "noise");
  {
    NwbWriter nwb(dir / "noise" / "noise.nwb");
    std::vector<double> noise;
    for (std::size_t i = 0; i < 2000; ++i) noise.push_back(std::sin(0.37 * static_cast<double>(i)) * 1e-4);
    nwb.series("ElectricalSeries", H5T_IEEE_F64LE, noise, 2, 1000.0);
  }
  notes.clear();
  host::compress(host::Recording::open({dir / "noise" / "noise.nwb"}, {}, [&](const std::string& n) { notes.push_back(n); }), dir / "noise.spikey", options);
  EXPECT_NE(notes.back().find("the file is kept whole (zstd) and restores byte for byte"), std::string::npos);
  EXPECT_NE(notes.front().find("its float values are not all whole multiples of one step"), std::string::npos) << notes.front();
  expect_restores_exactly(dir / "noise.spikey", dir / "noise", dir / "noise_out");
  EXPECT_TRUE(format::ArchiveReader(dir / "noise.spikey").metadata().channels.empty());
  // Files that are not HDF5 are refused naming the file.
  test::write_file(dir / "not.nwb", std::vector<std::uint8_t>(100, 7));
  try {
    host::Recording::open({dir / "not.nwb"}, {}, [](const std::string&) {});
    ADD_FAILURE() << "accepted";
  } catch (const host::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not.nwb: byte 0: no HDF5 signature"), std::string::npos) << e.what();
  }
  // A truncated one says so.
  const auto whole = test::read_file(dir / "in" / "session.nwb");
  EXPECT_NE(refusal_of(dir / "cut.nwb", {whole.begin(), whole.begin() + 3000}).find("cut.nwb: an HDF5 file that libhdf5 cannot open (3000 bytes: truncated"),
            std::string::npos);
}
#endif

namespace {

// Little-endian bytes in the order Intan's headers and data blocks hold them.
struct IntanBytes {
  std::vector<std::uint8_t> b;
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof v);
  }
  void qstring(const std::string& s) {
    put<std::uint32_t>(static_cast<std::uint32_t>(2 * s.size()));
    for (char c : s) put<std::uint16_t>(static_cast<std::uint16_t>(c));
  }
};

struct IntanTestChannel {
  std::string name;
  std::int16_t type;  // the file's signal type number
};

// An RHD (1.3 or 3.x) or RHS header as the application notes lay it out, all channels in one
// enabled signal group.
std::vector<std::uint8_t> intan_header(bool rhs, std::int16_t major, std::int16_t minor, const std::vector<IntanTestChannel>& channels,
                                       std::int16_t temperature_sensors, bool dc_saved) {
  IntanBytes h;
  h.put<std::uint32_t>(rhs ? 0xd69127acu : 0xc6912702u);
  h.put(major), h.put(minor);
  h.put(30000.0f);
  h.put<std::int16_t>(1);
  for (int i = 0; i < (rhs ? 8 : 6); ++i) h.put(100.0f);
  h.put<std::int16_t>(0);
  h.put(1000.0f), h.put(1000.0f);
  if (rhs) h.put<std::int16_t>(0), h.put<std::int16_t>(1), h.put(1.0f), h.put(1.0f), h.put(0.0f);
  h.qstring("a note"), h.qstring(""), h.qstring("");
  if (rhs) {
    h.put<std::int16_t>(dc_saved ? 1 : 0), h.put<std::int16_t>(0), h.qstring("Hardware");
  } else {
    h.put(temperature_sensors), h.put<std::int16_t>(0);
    if (major > 1) h.qstring("Hardware");
  }
  h.put<std::int16_t>(1);
  h.qstring("Port A"), h.qstring("A");
  h.put<std::int16_t>(1), h.put(static_cast<std::int16_t>(channels.size())), h.put<std::int16_t>(0);
  for (std::size_t i = 0; i < channels.size(); ++i) {
    h.qstring(channels[i].name), h.qstring(channels[i].name);
    h.put(static_cast<std::int16_t>(i)), h.put(static_cast<std::int16_t>(i)), h.put(channels[i].type), h.put<std::int16_t>(1);
    for (int k = 0; k < (rhs ? 7 : 6); ++k) h.put<std::int16_t>(0);  // chip channel, (command stream,) board stream, triggers
    h.put(0.0f), h.put(0.0f);
  }
  return h.b;
}

}  // namespace

// A traditional .rhd file (samples/intan_rhd: the real RHX 3.3 header, port B switched off,
// around real amplifier samples): the full-rate channels as planar records, the auxiliary
// inputs a gap of framing, a partial last block kept; windows equal the block layout read
// directly; damaged headers are named by file and byte.
TEST(AcquisitionFormats, IntanRhdFilesRestoreByteForByteAsPlanarRecords) {
  test::TempDir dir;
  const fs::path rhd = test::samples_dir() / "intan_rhd" / "intan_rhd_231117_052630.rhd";
  const auto a = compress_inputs({rhd}, dir / "rhd.spikey");
  bool warned = false;
  for (const auto& n : a.notes) warned = warned || n.find("the last data block is partial (1000 of 9408 bytes") != std::string::npos;
  EXPECT_TRUE(warned);
  expect_restores_exactly(a.archive, rhd.parent_path(), dir / "out");
  const format::ArchiveReader reader(a.archive);
  const auto& m = reader.metadata();
  ASSERT_EQ(m.channels.size(), 32u + 1 + 1);  // A-000..A-031, the ADC input, the digital-input word
  EXPECT_EQ(m.channels[0].name, "A-000");
  EXPECT_DOUBLE_EQ(*m.channels[0].bit_volts, 0.195);
  EXPECT_EQ(m.channels[32].name, "ANALOG-IN-1");
  EXPECT_DOUBLE_EQ(*m.channels[32].bit_volts, 312.5);  // board mode 13
  EXPECT_EQ(m.channels[33].name, "DIGITAL-IN");
  EXPECT_TRUE(m.channels[33].sync);
  const auto& s = m.sources[0];
  EXPECT_EQ(s.kind, format::SourceKind::intan);
  EXPECT_TRUE(s.unsigned_samples);
  EXPECT_TRUE(s.records.planar);
  EXPECT_EQ(s.records.count, 46u);
  EXPECT_EQ(s.records.frames, 128u);
  EXPECT_EQ(s.records.header, 512u);
  EXPECT_EQ(s.records.fields.size(), 128u);
  EXPECT_EQ(s.records.gaps, (std::vector<format::RecordGap>{{32, 3 * 32 * 2}}));
  // Gaps must lie inside planar records, after channels 1 .. k-1 in ascending order, and add up
  // to the file's size with everything else.
  const auto parses = [&](const std::function<void(format::SourceFile&)>& change) {
    format::Metadata changed = m;
    change(changed.sources[0]);
    try {
      format::parse_metadata_section(format::serialize(format::MetadataSection{changed, reader.verbatim()}));
      return true;
    } catch (const format::ArchiveError&) {
      return false;
    }
  };
  EXPECT_TRUE(parses([](format::SourceFile&) {}));
  EXPECT_FALSE(parses([](format::SourceFile& x) { x.records.planar = false; }));
  EXPECT_FALSE(parses([](format::SourceFile& x) { x.records.gaps[0].after = 0; }));
  EXPECT_FALSE(parses([](format::SourceFile& x) { x.records.gaps[0].after = 34; }));
  EXPECT_FALSE(parses([](format::SourceFile& x) { x.records.gaps[0].bytes += 2; }));
  EXPECT_FALSE(parses([](format::SourceFile& x) { x.records.gaps = {{20, 96}, {10, 96}}; }));
  EXPECT_TRUE(parses([](format::SourceFile& x) { x.records.gaps = {{10, 96}, {20, 96}}; }));  // the same sizes: a valid layout
  // The amplifier values are the cinpla slice's (uint16 offset binary in the file); the ADC
  // channel is read from each block: 8082 header bytes, blocks of 9408 bytes, its samples after
  // the timestamps (512), 32 amplifier channels (8192) and the auxiliary gap (192).
  const auto cinpla = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto file = test::read_file(rhd);
  std::vector<std::int16_t> a7, adc;
  for (std::size_t t = 0; t < 46 * 128; ++t) {
    a7.push_back(static_cast<std::int16_t>(cinpla[64 * t + 14] | cinpla[64 * t + 15] << 8));
    const std::size_t at = 8082 + t / 128 * 9408 + 512 + 8192 + 192 + 2 * (t % 128);
    adc.push_back(static_cast<std::int16_t>((file[at] | file[at + 1] << 8) - 32768));
  }
  EXPECT_EQ(window_of(a.archive, "A-007", 1000, 4000), slice(a7, 1000, 4000));
  EXPECT_EQ(window_of(a.archive, "ANALOG-IN-1", 100, 5888), slice(adc, 100, 5888));

  const auto refused = [&](const std::string& name, const std::vector<std::uint8_t>& bytes) { return refusal_of(dir / name, bytes); };
  EXPECT_NE(refused("short.rhd", {file.begin(), file.begin() + 5000}).find("short.rhd: byte 5000: the RHD header ends early"), std::string::npos);
  auto bad = file;
  bad[0] ^= 1;
  EXPECT_NE(refused("bad.rhd", bad).find("bad.rhd: byte 0: no Intan magic number"), std::string::npos);
  EXPECT_NE(refused("rhd_named.rhs", file).find("an RHD header in a file named .rhs"), std::string::npos);
  // The header alone (as info.rhd is) is a side file beside the recording.
  test::write_file(dir / "both" / "header.rhd", {file.begin(), file.begin() + 8082});
  fs::copy_file(rhd, dir / "both" / rhd.filename());
  const auto both = compress_inputs({dir / "both"}, dir / "both.spikey");
  expect_restores_exactly(both.archive, dir / "both", dir / "both_out");
  EXPECT_EQ(format::ArchiveReader(both.archive).metadata().sources[0].kind, format::SourceKind::side_file);
}

// An RHD 1.3 file (60-frame blocks, a supply voltage and a temperature sensor once a block, an
// auxiliary input at a quarter rate, a digital-output word) and an RHS file (128-frame blocks,
// DC amplifier and stimulation words for each amplifier channel, ADC, DAC, digital in and out),
// written by the application notes' layouts around real amplifier samples: byte for byte, and
// each channel's window equals the samples placed in the blocks.
TEST(AcquisitionFormats, IntanRhdVersion1AndRhsFilesRestoreByteForByte) {
  test::TempDir dir;
  const auto cinpla = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto amp = [&](std::size_t c, std::size_t t) { return static_cast<std::uint16_t>((cinpla[64 * t + 2 * c] | cinpla[64 * t + 2 * c + 1] << 8) + 32768); };
  std::map<std::string, std::vector<std::int16_t>> expected;  // each channel's archive values
  const auto block_of = [&](IntanBytes& f, std::size_t n, std::size_t k, const std::vector<std::pair<std::string, std::function<std::uint16_t(std::size_t)>>>& runs) {
    for (const auto& [name, value] : runs)
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint16_t v = value(k * n + i);
        f.put(v);
        if (!name.empty()) expected[name].push_back(static_cast<std::int16_t>(v - 32768));
      }
  };
  // RHD 1.3: 4 amplifiers, AUX1, VDD1, a temperature sensor, a digital output; 50 blocks of 60.
  IntanBytes rhd;
  rhd.b = intan_header(false, 1, 3, {{"A-000", 0}, {"A-001", 0}, {"A-002", 0}, {"A-003", 0}, {"A-AUX1", 1}, {"A-VDD1", 2}, {"DOUT-00", 5}}, 1, false);
  const std::size_t rhd_header = rhd.b.size();
  for (std::size_t k = 0; k < 50; ++k) {
    for (std::size_t i = 0; i < 60; ++i) rhd.put(static_cast<std::int32_t>(k * 60 + i + 7));
    block_of(rhd, 60, k, {{"A-000", [&](std::size_t t) { return amp(0, t); }}, {"A-001", [&](std::size_t t) { return amp(1, t); }},
                          {"A-002", [&](std::size_t t) { return amp(2, t); }}, {"A-003", [&](std::size_t t) { return amp(3, t); }}});
    block_of(rhd, 15, k, {{"", [&](std::size_t t) { return static_cast<std::uint16_t>(40000 + t % 97); }}});  // AUX1 at a quarter rate
    rhd.put<std::uint16_t>(static_cast<std::uint16_t>(44000 + k)), rhd.put<std::int16_t>(static_cast<std::int16_t>(2500 + k % 3));  // VDD1, temperature
    block_of(rhd, 60, k, {{"DIGITAL-OUT", [&](std::size_t t) { return static_cast<std::uint16_t>((t / 700) % 2); }}});
  }
  test::write_file(dir / "rhd" / "old.rhd", rhd.b);
  const auto a = compress_inputs({dir / "rhd" / "old.rhd"}, dir / "old.spikey");
  expect_restores_exactly(a.archive, dir / "rhd", dir / "rhd_out");
  {
    const format::ArchiveReader reader(a.archive);
    const auto& s = reader.metadata().sources[0];
    EXPECT_EQ(s.records.frames, 60u);
    EXPECT_EQ(s.records.count, 50u);
    EXPECT_EQ(s.records.gaps, (std::vector<format::RecordGap>{{4, 15 * 2 + 2 + 2}}));
    EXPECT_EQ(reader.metadata().channels.size(), 5u);
    EXPECT_EQ(s.prefix.size, rhd_header);
  }
  for (const char* name : {"A-002", "DIGITAL-OUT"}) EXPECT_EQ(window_of(a.archive, name, 0, 3000), expected[name]) << name;

  // RHS: 3 amplifiers with DC amplifier and stimulation words, ANALOG-IN-1, ANALOG-OUT-1, DIGITAL-IN-01, DIGITAL-OUT-01; 20 blocks of 128.
  expected.clear();
  IntanBytes rhs;
  rhs.b = intan_header(true, 1, 0, {{"A-000", 0}, {"A-001", 0}, {"A-002", 0}, {"ANALOG-IN-1", 3}, {"ANALOG-OUT-1", 4}, {"DIGITAL-IN-01", 5}, {"DIGITAL-OUT-01", 6}}, 0, true);
  for (std::size_t k = 0; k < 20; ++k) {
    for (std::size_t i = 0; i < 128; ++i) rhs.put(static_cast<std::int32_t>(k * 128 + i));
    std::vector<std::pair<std::string, std::function<std::uint16_t(std::size_t)>>> runs;
    for (std::size_t c = 0; c < 3; ++c) runs.emplace_back("A-00" + std::to_string(c), [&, c](std::size_t t) { return amp(c + 4, t); });
    for (std::size_t c = 0; c < 3; ++c) runs.emplace_back("A-00" + std::to_string(c) + ":DC", [c](std::size_t t) { return static_cast<std::uint16_t>(512 + (t / 50 + c) % 9); });
    for (std::size_t c = 0; c < 3; ++c) runs.emplace_back("A-00" + std::to_string(c) + ":STIM", [c](std::size_t t) { return static_cast<std::uint16_t>(t % 1000 < 20 && c == 1 ? 0x0105 : 0); });
    runs.emplace_back("ANALOG-IN-1", [&](std::size_t t) { return amp(9, t); });
    runs.emplace_back("ANALOG-OUT-1", [](std::size_t t) { return static_cast<std::uint16_t>(32768 + (t % 400) * 10); });
    runs.emplace_back("DIGITAL-IN", [](std::size_t t) { return static_cast<std::uint16_t>(t / 300 % 3); });
    runs.emplace_back("DIGITAL-OUT", [](std::size_t t) { return static_cast<std::uint16_t>(t / 900 % 2 * 4); });
    block_of(rhs, 128, k, runs);
  }
  test::write_file(dir / "rhs" / "stim.rhs", rhs.b);
  const auto b = compress_inputs({dir / "rhs" / "stim.rhs"}, dir / "stim.spikey", "max");
  expect_restores_exactly(b.archive, dir / "rhs", dir / "rhs_out");
  const format::ArchiveReader reader(b.archive);
  const auto& m = reader.metadata();
  ASSERT_EQ(m.channels.size(), 3u * 3 + 4);
  EXPECT_EQ(m.channels[3].name, "A-000:DC");
  EXPECT_EQ(m.channels[7].name, "A-001:STIM");
  EXPECT_TRUE(m.channels[7].sync);
  EXPECT_DOUBLE_EQ(*m.channels[10].bit_volts, 312.5);  // ANALOG-OUT-1
  EXPECT_TRUE(m.sources[0].records.gaps.empty());
  for (const auto& [name, values] : expected)
    if (name.find("A-00") != 0 || name.size() > 5 || name == "A-001") EXPECT_EQ(window_of(b.archive, name, 0, 2560), values) << name;
}

// One SpikeGLX session as a lab keeps it: two triggers of gate 0, a second gate, a second probe, the NI-DAQ
// stream, and CatGT's output folder (the triggers concatenated, its .meta rewritten with CatGT's
// keys) from the real Noise4Sam run: one archive, every file byte for byte, each stream at its
// own rate, every .bin a source of its own.
TEST(AcquisitionFormats, SpikeGlxGatesTriggersAndCatGtOutputsAreOneArchive) {
  SPIKEY_REQUIRE_SHARED("formats/spikeglx_noise4sam/Noise4Sam_g0_t0.nidq.bin");
  test::TempDir dir;
  const fs::path from = test::shared_data_dir() / "formats" / "spikeglx_noise4sam";
  const auto bin = test::read_file(from / "Noise4Sam_g0_imec0" / "Noise4Sam_g0_t0.imec0.ap.bin");
  const auto meta_text = test::read_file(from / "Noise4Sam_g0_imec0" / "Noise4Sam_g0_t0.imec0.ap.meta");
  const std::size_t frame = 385 * 2, frames = bin.size() / frame;
  // The .meta for a .bin of `bytes`, without the original's SHA-1, with `extra` lines.
  const auto meta_for = [&](std::size_t bytes, const std::string& extra) {
    std::string text(meta_text.begin(), meta_text.end()), out;
    std::size_t at = 0;
    while (at < text.size()) {
      const std::size_t end = std::min(text.find('\n', at), text.size() - 1) + 1;
      const std::string line = text.substr(at, end - at);
      if (line.rfind("fileSizeBytes=", 0) == 0) out += "fileSizeBytes=" + std::to_string(bytes) + "\n";
      else if (line.rfind("fileSHA1=", 0) != 0) out += line;
      at = end;
    }
    out += extra;
    return std::vector<std::uint8_t>(out.begin(), out.end());
  };
  const fs::path run = dir / "session";
  const auto put = [&](const fs::path& stem, std::size_t first, std::size_t count, const std::string& extra = {}) {
    const std::vector<std::uint8_t> part(bin.begin() + static_cast<std::ptrdiff_t>(first * frame), bin.begin() + static_cast<std::ptrdiff_t>((first + count) * frame));
    test::write_file(run / (stem.string() + ".bin"), part);
    test::write_file(run / (stem.string() + ".meta"), meta_for(part.size(), extra));
  };
  put("Noise4Sam_g0_imec0/Noise4Sam_g0_t0.imec0.ap", 0, frames / 2);
  put("Noise4Sam_g0_imec0/Noise4Sam_g0_t1.imec0.ap", frames / 2, frames - frames / 2);
  put("Noise4Sam_g1_imec0/Noise4Sam_g1_t0.imec0.ap", 100, frames / 3);
  put("Noise4Sam_g0_imec1/Noise4Sam_g0_t0.imec1.ap", 7, frames / 4);  // a second probe
  put("catgt_Noise4Sam_g0/Noise4Sam_g0_imec0/Noise4Sam_g0_tcat.imec0.ap", 0, frames,
      "catGTCmdline=<CatGT -dir=. -run=Noise4Sam -g=0 -t=0,1 -prb=0 -ap>\ncatGTVersion=4.4\nfirstSample=0\n");
  for (const char* f : {"Noise4Sam_g0_t0.nidq.bin", "Noise4Sam_g0_t0.nidq.meta"}) fs::copy_file(from / f, run / f);
  const auto a = compress_inputs({run}, dir / "a.spikey");
  expect_restores_exactly(a.archive, run, dir / "out");
  const format::ArchiveReader reader(a.archive);
  std::size_t probes = 0, nidq = 0;
  for (const auto& s : reader.metadata().sources) {
    if (s.kind != format::SourceKind::spikeglx) continue;
    EXPECT_NE(s.path.find(".bin"), std::string::npos);
    if (s.path.find(".ap.bin") != std::string::npos) {
      ++probes;
      EXPECT_EQ(s.channel_count, 385u);
    }
    if (s.path.find("nidq") != std::string::npos) {
      ++nidq;
      EXPECT_NEAR(s.sample_rate, 11574.1, 0.1);
    }
  }
  EXPECT_EQ(probes, 5u);
  EXPECT_EQ(nidq, 1u);
  EXPECT_DOUBLE_EQ(reader.metadata().sample_rate, 30000);
  // CatGT's concatenation holds the two triggers' samples: a window across their join reads the same as the triggers.
  std::size_t cat = 0;
  while (reader.metadata().sources[reader.metadata().channels[cat].source].path.find("tcat") == std::string::npos) ++cat;
  const std::string cat_name = std::to_string(cat + 5);  // by number: every probe file has an AP5
  std::vector<std::int16_t> reference;
  for (std::size_t t = frames / 2 - 300; t < frames / 2 + 300; ++t) reference.push_back(static_cast<std::int16_t>(bin[t * frame + 10] | bin[t * frame + 11] << 8));
  EXPECT_EQ(window_of(a.archive, cat_name, frames / 2 - 300, frames / 2 + 300), reference);
}

// Bytes kept verbatim (headers, record framing, side files) live in the metadata section, which
// the encoder holds in memory: inputs with more than 4 GiB of them are refused before any work,
// naming the file that holds the most (a sparse file with a 4,400,000,000-byte header before its
// samples). Format 15 archives between 1 and 4 GiB (SPEC §3.3; the limit was 1 GiB before).
TEST(AcquisitionFormats, InputsWhoseVerbatimBytesPassTheMetadataLimitAreRefused) {
  test::TempDir dir;
  const fs::path big = dir / "long_header.dat";
  test::write_file(big, std::vector<std::uint8_t>(16, 1));
  fs::resize_file(big, 4'400'000'000ull + 4000);  // sparse
  host::InputOptions options;
  options.raw_channels = 1;
  options.raw_rate = 1000;
  options.raw_offset = 4'400'000'000ull;
  try {
    host::Recording::open({big}, options, [](const std::string&) {});
    ADD_FAILURE() << "accepted";
  } catch (const host::InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("not samples (headers, record framing, side files) add up to 4196 MiB"), std::string::npos) << what;
    EXPECT_NE(what.find("over the archive's 4096 MiB"), std::string::npos) << what;
    EXPECT_NE(what.find("long_header.dat holds 4196 MiB"), std::string::npos) << what;
  }
}

// Side files (every file of an acquisition folder that is not a recording) up to 3 GiB in all:
// a folder with more is refused before any work, naming the largest (a sparse 3.3 GB video
// beside the Neuralynx sample files).
TEST(AcquisitionFormats, SideFilesPastTheirLimitAreRefusedNamingTheLargest) {
  test::TempDir dir;
  fs::create_directories(dir / "in");
  for (const auto& e : fs::directory_iterator(test::samples_dir() / "neuralynx")) fs::copy_file(e.path(), dir / "in" / e.path().filename());
  test::write_file(dir / "in" / "session.avi", std::vector<std::uint8_t>(16, 1));
  fs::resize_file(dir / "in" / "session.avi", 3'300'000'000ull);  // sparse
  try {
    host::Recording::open({dir / "in"}, {}, [](const std::string&) {});
    ADD_FAILURE() << "accepted";
  } catch (const host::InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("add up to 3147 MiB, over the archive's 3072 MiB"), std::string::npos) << what;
    EXPECT_NE(what.find("the largest is " + (dir / "in" / "session.avi").string() + " (3147 MiB)"), std::string::npos) << what;
  }
  fs::resize_file(dir / "in" / "session.avi", 3'000'000'000ull);  // within the limit: accepted
  EXPECT_NO_THROW(host::Recording::open({dir / "in"}, {}, [](const std::string&) {}));
}

// A chunk gathered in parts (the batch pipeline's time slices of one chunk on several threads)
// is the chunk gathered whole, for every kind of source the bundled samples hold: WAVs, raw
// interleaved samples (little- and big-endian, signed and unsigned), records (Neuralynx, Blackrock
// with a pause, Open Ephys legacy's big-endian records), planar records (Intan RHD), one file per
// channel (Intan), floats on a grid (NWB), Open Ephys binary and SpikeGLX (several rates).
TEST(AcquisitionFormats, ChunksGatheredInPartsEqualChunksGatheredWhole) {
  const fs::path samples = test::samples_dir();
  std::vector<std::pair<fs::path, host::InputOptions>> inputs;
  for (const char* name : {"neuralink", "blackrock", "blackrock_paused", "intan", "intan_rhd", "neuralynx", "open_ephys", "open_ephys_legacy",
                           "plexon", "spike2", "spikeglx"})
    inputs.emplace_back(samples / name, host::InputOptions{});
#if defined(SPIKEY_WITH_HDF5)  // NWB files are read through libhdf5
  inputs.emplace_back(samples / "nwb_float", host::InputOptions{});
#endif
  for (const auto [unsigned_samples, big_endian] : {std::pair{false, false}, {true, false}, {false, true}, {true, true}}) {
    host::InputOptions raw;
    raw.raw_channels = 32, raw.raw_rate = 30000.0, raw.raw_unsigned = unsigned_samples, raw.raw_big_endian = big_endian;
    inputs.emplace_back(samples / "cinpla32" / "cinpla32_30kHz_first6000.dat", raw);
  }
  for (const auto& [input, options] : inputs) {
    SCOPED_TRACE(input.string());
    const auto recording = host::Recording::open({input}, options, [](const std::string&) {});
    host::EncodeOptions encode;
    encode.chunk_seconds = 200 / recording.sample_rate();  // chunks of 200 samples: several (but in the shortest), a partial last one
    const format::Metadata meta = host::survey_recording(recording, encode).metadata;
    for (const std::uint64_t chunk : {std::uint64_t{0}, meta.chunk_count() / 2, meta.chunk_count() - 1}) {
      const auto present = format::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
      std::vector<std::int16_t> whole;
      recording.gather(meta.chunk_first_sample(chunk), present, whole);
      host::GatheredSamples uninitialized;  // resized like a vector, not taken as a span of no samples
      recording.gather(meta.chunk_first_sample(chunk), present, uninitialized);
      ASSERT_TRUE(std::equal(whole.begin(), whole.end(), uninitialized.begin(), uninitialized.end()));
      for (const std::size_t parts : {std::size_t{2}, std::size_t{3}, std::size_t{7}, std::size_t{64}}) {
        std::vector<std::int16_t> pieced(whole.size(), 0x5a5a);  // every sample must be written by one part
        for (std::size_t part = 0; part < parts; ++part) recording.gather(meta.chunk_first_sample(chunk), present, pieced, part, parts);
        ASSERT_EQ(pieced, whole) << "chunk " << chunk << " in " << parts << " parts";
      }
    }
  }
}

// Channel names and units from headers in another encoding (Latin-1, as software on Windows
// writes them) become UTF-8 in the metadata, and the file still restores byte for byte; a file
// name that is not UTF-8 is refused naming the file (its name could not come back). Well-formed
// UTF-8 is kept as it is, and malformed sequences are not taken for it.
TEST(AcquisitionFormats, TextInAnotherEncodingBecomesUtf8AndFileNamesMustBeUtf8) {
  EXPECT_TRUE(format::is_utf8("CSC1 \xc2\xb5V \xe2\x82\xac \xf0\x9f\xa7\xa0"));
  for (const char* bad : {"\xb5V", "\xc2", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "a\x80"})
    EXPECT_FALSE(format::is_utf8(bad)) << bad;
  EXPECT_EQ(format::utf8_text("\xb5V"), "\xc2\xb5V");
  EXPECT_EQ(format::utf8_text("CSC\xe9 \xff"), "CSC\xc3\xa9 \xc3\xbf");
  EXPECT_EQ(format::utf8_text("\xc2\xb5V"), "\xc2\xb5V");

  test::TempDir dir;
  fs::create_directories(dir / "in");
  for (const auto& e : fs::directory_iterator(test::samples_dir() / "neuralynx")) fs::copy_file(e.path(), dir / "in" / e.path().filename());
  auto header = test::read_file(dir / "in" / "CSC1_truncated.ncs");
  const std::string field = "-AcqEntName CSC1";
  const auto at = std::search(header.begin(), header.end(), field.begin(), field.end());
  ASSERT_NE(at, header.end());
  *(at + static_cast<std::ptrdiff_t>(field.size()) - 2) = 0xe9;  // "CS\xe9" "1": Latin-1 for "CSé1"
  test::write_file(dir / "in" / "CSC1_truncated.ncs", header);
  const auto a = compress_inputs({dir / "in"}, dir / "a.spikey");
  expect_restores_exactly(a.archive, dir / "in", dir / "out");
  const format::ArchiveReader reader(a.archive);
  EXPECT_EQ(reader.metadata().channels[0].name, "CS\xc3\xa9" "1");
  EXPECT_EQ(window_of(a.archive, "CS\xc3\xa9" "1", 0, 100).size(), 100u);  // --channels finds it by its UTF-8 name

  const fs::path misnamed = dir / "bad\xff.wav";
  test::write_file(misnamed, test::make_wav(1, 1000, test::synthetic_signal(300, 1)));
  try {
    host::Recording::open({misnamed}, {}, [](const std::string&) {});
    ADD_FAILURE() << "a file name that is not UTF-8 was accepted";
  } catch (const host::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(misnamed.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
  }
}

namespace {

// The committed slice of a real NEV 2.1 file (SPEC §4.1: a 4944-byte header, 104-byte packets).
constexpr std::size_t kNevHeaders = 4944, kNevPacket = 104;

// The waveform samples of a NEV by the documented layout: every whole packet's bytes after its
// `packet_header`, as int16.
std::vector<std::int16_t> nev_waveforms(const std::vector<std::uint8_t>& file, std::size_t headers, std::size_t packet, std::size_t packet_header) {
  return samples_by_layout(file, headers, packet_header, (packet - packet_header) / 2, 0, false);
}

// The same packets in file spec 3.0: 64-bit timestamps, so 4 more bytes a packet.
std::vector<std::uint8_t> nev_as_spec_3(const std::vector<std::uint8_t>& file) {
  std::vector<std::uint8_t> out(file.begin(), file.begin() + kNevHeaders);
  out[8] = 3, out[9] = 0;
  const std::uint32_t packet = kNevPacket + 4;
  std::memcpy(out.data() + 16, &packet, 4);
  for (std::size_t at = kNevHeaders; at + kNevPacket <= file.size(); at += kNevPacket) {
    out.insert(out.end(), file.begin() + static_cast<std::ptrdiff_t>(at), file.begin() + static_cast<std::ptrdiff_t>(at + 4));
    out.insert(out.end(), 4, 0);  // the timestamp's high half
    out.insert(out.end(), file.begin() + static_cast<std::ptrdiff_t>(at + 4), file.begin() + static_cast<std::ptrdiff_t>(at + kNevPacket));
  }
  return out;
}

}  // namespace

TEST(AcquisitionFormats, BlackrockNevWaveformsAreSnippetsAndRestoreByteForByte) {
  const auto nev = test::read_file(test::samples_dir() / "blackrock_nev" / "l101210-001.nev");
  ASSERT_EQ((nev.size() - kNevHeaders) % kNevPacket, 0u);
  const std::uint64_t packets = (nev.size() - kNevHeaders) / kNevPacket;
  test::TempDir dir;
  // File specs 2.1 and 3.0, whole or with a partial last packet (kept in the suffix).
  for (const auto& [name, bytes, packet_header, cut] : {std::tuple{"spec21.nev", nev, 8u, 0u}, std::tuple{"spec21_cut.nev", nev, 8u, 50u},
                                                        std::tuple{"spec30.nev", nev_as_spec_3(nev), 12u, 0u}}) {
    SCOPED_TRACE(name);
    const fs::path in = dir / (std::string(name) + "_in");
    fs::create_directories(in);
    auto file = bytes;
    file.resize(file.size() - cut);
    test::write_file(in / name, file);
    const auto a = compress_inputs({in}, dir / (std::string(name) + ".spikey"));
    EXPECT_TRUE(a.notes.empty());
    expect_restores_exactly(a.archive, in, dir / (std::string(name) + "_out"));
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 1u);
    EXPECT_EQ(m.channels[0].name, "waveforms");
    EXPECT_FALSE(m.channels[0].bit_volts.has_value());  // electrodes 1-128 at 1000 nV a step, the analog inputs 129-144 at 21516
    const format::SourceFile& s = m.sources[0];
    EXPECT_EQ(s.kind, format::SourceKind::blackrock);
    EXPECT_TRUE(s.snippets);
    EXPECT_EQ(s.records.count, cut == 0 ? packets : packets - 1);
    EXPECT_EQ(s.records.frames, 48u);
    EXPECT_EQ(s.records.header, packet_header);
    EXPECT_DOUBLE_EQ(m.channel_rate(0), 30000);
    EXPECT_EQ(m.duration_seconds(), 0);  // waveforms have no time axis
    const std::size_t packet = kNevPacket + packet_header - 8;
    const auto reference = nev_waveforms(file, kNevHeaders, packet, packet_header);
    ASSERT_EQ(reference.size(), m.channels[0].length);
    // Named, a window reads waveforms 700-899 as the file holds them (across chunks).
    EXPECT_EQ(window_of(a.archive, "waveforms", 700 * 48, 900 * 48), slice(reference, 700 * 48, 900 * 48));
    // Unnamed, a window has no time series to read.
    EXPECT_THROW(host::resolve_window(m, 0, 10, {}), std::invalid_argument);
  }
  // Beside a recording: a window of no named channels reads the recording's; one that mixes the
  // two is refused; the duration is the recording's.
  {
    const fs::path in = dir / "both";
    fs::create_directories(in);
    fs::copy_file(test::samples_dir() / "blackrock" / "l101210-001.ns2", in / "l101210-001.ns2");
    fs::copy_file(test::samples_dir() / "blackrock_nev" / "l101210-001.nev", in / "l101210-001.nev");
    const auto a = compress_inputs({in}, dir / "both.spikey");
    expect_restores_exactly(a.archive, in, dir / "both_out");
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 7u);
    ASSERT_TRUE(m.snippet_channel(0));  // l101210-001.nev sorts before .ns2
    EXPECT_EQ(host::time_series_channels(m), (std::vector<std::uint32_t>{1, 2, 3, 4, 5, 6}));
    EXPECT_DOUBLE_EQ(host::window_rate(m, {}), 1000);
    EXPECT_EQ(host::resolve_window(m, 0, 100, {}).channels, (std::vector<std::uint32_t>{1, 2, 3, 4, 5, 6}));
    EXPECT_THROW(host::resolve_window(m, 0, 10, {0, 1}), std::invalid_argument);
    EXPECT_DOUBLE_EQ(m.duration_seconds(), 3641.0 / 1000);
  }
  // Waveforms of 1-byte samples are not 16-bit samples: the file is kept whole, with a note.
  {
    const fs::path in = dir / "bytes";
    fs::create_directories(in);
    auto file = nev;
    file[336 + 32 * 5 + 21] = 1;  // electrode 6's bytes per waveform sample
    test::write_file(in / "x.nev", file);
    const auto a = compress_inputs({in}, dir / "bytes.spikey");
    ASSERT_EQ(a.notes.size(), 1u);
    EXPECT_NE(a.notes[0].find("byte 517: electrode 6's waveforms are not 16-bit"), std::string::npos) << a.notes[0];
    expect_restores_exactly(a.archive, in, dir / "bytes_out");
    EXPECT_EQ(format::ArchiveReader(a.archive).metadata().sources[0].kind, format::SourceKind::side_file);
  }
  // One digitization factor on every electrode: the channel's step in microvolts.
  {
    const fs::path in = dir / "one_factor";
    fs::create_directories(in);
    auto file = nev;
    for (std::size_t e = 0; e < 144; ++e) file[336 + 32 * e + 12] = 0xe8, file[336 + 32 * e + 13] = 0x03;  // 1000 nV
    test::write_file(in / "x.nev", file);
    const auto a = compress_inputs({in}, dir / "one_factor.spikey");
    expect_restores_exactly(a.archive, in, dir / "one_factor_out");
    const format::ArchiveReader reader(a.archive);
    const auto& channel = reader.metadata().channels[0];
    EXPECT_EQ(channel.units, "uV");
    EXPECT_EQ(channel.bit_volts, 1.0);
  }
  // Metadata: snippets need records.
  {
    const format::ArchiveReader reader(dir / "spec21.nev.spikey");
    format::Metadata m = reader.metadata();
    EXPECT_NO_THROW(format::parse_metadata_section(format::serialize(format::MetadataSection{m, reader.verbatim()})));
    m.sources[0].records.planar = true;
    EXPECT_ANY_THROW(format::parse_metadata_section(format::serialize(format::MetadataSection{m, reader.verbatim()})));
  }
}

namespace {

// A Plexon .plx file's data blocks by the documented layout (SPEC §4.1): {type, channel,
// offset of the block, its samples}.
struct PlxBlock {
  std::int16_t type = 0;
  std::int16_t channel = 0;
  std::size_t at = 0;
  std::vector<std::int16_t> samples;
};

std::size_t plx_headers(const std::vector<std::uint8_t>& file) {
  std::int32_t counts[3];
  std::memcpy(counts, file.data() + 140, sizeof counts);
  return 7504 + 1020 * static_cast<std::size_t>(counts[0]) + 296 * static_cast<std::size_t>(counts[1] + counts[2]);
}

std::vector<PlxBlock> plx_blocks(const std::vector<std::uint8_t>& file) {
  std::vector<PlxBlock> out;
  for (std::size_t at = plx_headers(file); at + 16 <= file.size();) {
    std::int16_t h[8];
    std::memcpy(h, file.data() + at, 16);
    const std::size_t n = static_cast<std::size_t>(h[6]) * static_cast<std::size_t>(h[7]);
    if (at + 16 + 2 * n > file.size()) break;
    PlxBlock b{h[0], h[4], at, std::vector<std::int16_t>(n)};
    std::memcpy(b.samples.data(), file.data() + at + 16, 2 * n);
    out.push_back(std::move(b));
    at += 16 + 2 * n;
  }
  return out;
}

// Every block's samples of one type (and, for continuous blocks, one channel), in file order.
std::vector<std::int16_t> plx_samples(const std::vector<PlxBlock>& blocks, std::int16_t type, std::int16_t channel = 0) {
  std::vector<std::int16_t> out;
  for (const PlxBlock& b : blocks)
    if (b.type == type && (type == 1 || b.channel == channel)) out.insert(out.end(), b.samples.begin(), b.samples.end());
  return out;
}

// The file with its data blocks in another order (the headers as they are).
std::vector<std::uint8_t> plx_reordered(const std::vector<std::uint8_t>& file, const std::vector<PlxBlock>& blocks) {
  std::vector<std::uint8_t> out(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(plx_headers(file)));
  for (const PlxBlock& b : blocks) {
    const auto begin = file.begin() + static_cast<std::ptrdiff_t>(b.at);
    out.insert(out.end(), begin, begin + static_cast<std::ptrdiff_t>(16 + 2 * b.samples.size()));
  }
  return out;
}

// An event block: a header of no samples.
std::vector<std::uint8_t> plx_event(std::uint32_t timestamp, std::int16_t channel) {
  std::vector<std::uint8_t> b(16, 0);
  b[0] = 4;
  std::memcpy(b.data() + 4, &timestamp, 4);
  std::memcpy(b.data() + 8, &channel, 2);
  return b;
}

}  // namespace

// Format 16 (SPEC §4.1, §4.2): a Plexon .plx file's spike blocks and continuous blocks are
// records of one channel each: a `waveforms` channel of snippets and one channel per slow
// channel, each at its own rate and length. The committed slices of two real files (PLX versions
// 101 and 106) restore byte for byte at every level, in the file's order of blocks and in
// others (the restore holds a channel's samples until the records before them are written),
// with event blocks, an unknown block and a partial last block; windows read each channel as
// the file holds it.
TEST(AcquisitionFormats, PlexonFilesAreChannelRecordsAndRestoreByteForByte) {
  const auto three = test::read_file(test::samples_dir() / "plexon" / "File_plexon_3_cut.plx");
  const auto blocks = plx_blocks(three);
  ASSERT_EQ(blocks.size(), 2500u);
  const auto waveforms = plx_samples(blocks, 1), v1 = plx_samples(blocks, 5, 0);
  ASSERT_EQ(waveforms.size(), 1500u * 64);
  ASSERT_EQ(v1.size(), 1000u * 120);
  test::TempDir dir;
  // Spike blocks first (as the file has them), continuous first, and the two alternating.
  std::vector<PlxBlock> continuous_first, alternating;
  for (const int type : {5, 1})
    for (const PlxBlock& b : blocks)
      if (b.type == type) continuous_first.push_back(b);
  for (std::size_t i = 0; i < 1500; ++i) {
    alternating.push_back(blocks[i]);
    if (i < 1000) alternating.push_back(blocks[1500 + i]);
  }
  for (const auto& [name, file] : {std::pair{"as_recorded", three}, std::pair{"continuous_first", plx_reordered(three, continuous_first)},
                                   std::pair{"alternating", plx_reordered(three, alternating)}}) {
    SCOPED_TRACE(name);
    const fs::path in = dir / name;
    fs::create_directories(in);
    test::write_file(in / "rec.plx", file);
    const auto a = compress_inputs({in / "rec.plx"}, dir / (std::string(name) + ".spikey"));
    EXPECT_TRUE(a.notes.empty()) << a.notes.front();
    expect_restores_exactly(a.archive, in, dir / (std::string(name) + "_out"));
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 2u);
    EXPECT_EQ(m.channels[0].name, "waveforms");
    EXPECT_EQ(m.channels[1].name, "V1");
    EXPECT_TRUE(m.snippet_channel(0));
    EXPECT_FALSE(m.snippet_channel(1));
    EXPECT_EQ(m.channels[0].length, waveforms.size());
    EXPECT_EQ(m.channels[1].length, v1.size());
    EXPECT_DOUBLE_EQ(m.channel_rate(0), 30000);
    EXPECT_DOUBLE_EQ(m.channel_rate(1), 1000);
    EXPECT_DOUBLE_EQ(m.duration_seconds(), 120.0);  // V1's; waveforms have no time axis
    ASSERT_TRUE(m.channels[1].bit_volts.has_value());  // 5000 mV over 2^11 steps, gain 1, preamp gain 1 (its header)
    EXPECT_NEAR(*m.channels[1].bit_volts, 5000.0 / 2048 * 1000, 1e-9);
    ASSERT_TRUE(m.channels[0].bit_volts.has_value());  // 3000 mV over 2^11 steps, every DSP gain 20, preamp gain 1000
    EXPECT_NEAR(*m.channels[0].bit_volts, 3000.0 / 2048 / (20 * 1000) * 1000, 1e-12);
    EXPECT_EQ(m.channels[1].units, "uV");
    const format::SourceFile& s = m.sources[0];
    EXPECT_EQ(s.kind, format::SourceKind::plexon);
    EXPECT_TRUE(s.records.channel_records);
    EXPECT_EQ(s.records.count, 2500u);
    EXPECT_EQ(s.frames, v1.size());
    EXPECT_EQ(window_of(a.archive, "V1", 2000, 9000), slice(v1, 2000, 9000));
    EXPECT_EQ(window_of(a.archive, "waveforms", 64 * 700, 64 * 1300), slice(waveforms, 64 * 700, 64 * 1300));
    EXPECT_EQ(host::resolve_window(m, 0, 100, {}).channels, (std::vector<std::uint32_t>{1}));
  }
  // Event blocks among the others, then a block of an unknown type: the records end there,
  // and it and everything after it are kept byte for byte, with a warning.
  {
    const fs::path in = dir / "events";
    fs::create_directories(in);
    std::vector<std::uint8_t> file(three.begin(), three.begin() + static_cast<std::ptrdiff_t>(blocks[10].at));
    for (const auto& e : {plx_event(1000, 257), plx_event(2000, 3)}) file.insert(file.end(), e.begin(), e.end());
    file.insert(file.end(), three.begin() + static_cast<std::ptrdiff_t>(blocks[10].at), three.begin() + static_cast<std::ptrdiff_t>(blocks[1600].at));
    const std::size_t unknown = file.size();
    auto odd = plx_event(3000, 1);
    odd[0] = 9;
    file.insert(file.end(), odd.begin(), odd.end());
    file.insert(file.end(), three.begin() + static_cast<std::ptrdiff_t>(blocks[1600].at), three.end());
    test::write_file(in / "rec.plx", file);
    const auto a = compress_inputs({in}, dir / "events.spikey");
    ASSERT_EQ(a.notes.size(), 1u);
    EXPECT_NE(a.notes[0].find("byte " + std::to_string(unknown) + ": a data block of type 9"), std::string::npos) << a.notes[0];
    expect_restores_exactly(a.archive, in, dir / "events_out");
    const format::ArchiveReader reader(a.archive);
    EXPECT_EQ(reader.metadata().sources[0].records.count, 1602u);  // two events and the 1600 blocks before the unknown one
    EXPECT_EQ(reader.metadata().channels[1].length, 100u * 120);
  }
  // A partial last block (a recording that stopped): kept byte for byte, with a warning; the
  // older PLX version 101 of spike waveforms alone, at every level.
  {
    const auto one = test::read_file(test::samples_dir() / "plexon" / "File_plexon_1_head.plx");
    const fs::path in = dir / "one";
    fs::create_directories(in);
    auto cut = one;
    cut.resize(cut.size() - 50);
    test::write_file(in / "cut.plx", cut);
    test::write_file(in / "whole.plx", one);
    for (const std::string level : {"fast", "default", "max"}) {
      SCOPED_TRACE(level);
      const auto a = compress_inputs({in}, dir / ("one_" + level + ".spikey"), level);
      ASSERT_EQ(a.notes.size(), 1u);
      EXPECT_NE(a.notes[0].find("cut.plx: the data block at byte " + std::to_string(one.size() - 96)), std::string::npos) << a.notes[0];
      expect_restores_exactly(a.archive, in, dir / ("one_" + level + "_out"));
      const format::ArchiveReader reader(a.archive);
      const auto& m = reader.metadata();
      ASSERT_EQ(m.channels.size(), 2u);  // cut.plx's waveforms, whole.plx's
      EXPECT_TRUE(m.snippet_channel(0) && m.snippet_channel(1));
      EXPECT_EQ(m.channels[1].length, 2500u * 40);
      EXPECT_DOUBLE_EQ(m.channel_rate(1), 40000);
      EXPECT_EQ(m.duration_seconds(), 0);
      EXPECT_EQ(window_of(a.archive, "1", 0, 40 * 2500), plx_samples(plx_blocks(one), 1));
    }
  }
  // Metadata: the record table must fit its records and channels; a channel's own length, rate
  // and snippets only in records of one channel each.
  {
    const format::ArchiveReader reader(dir / "alternating.spikey");
    const format::Metadata intact = reader.metadata();
    const auto parses = [&](const format::Metadata& m) { return metadata_parses(m, reader.verbatim()); };
    EXPECT_TRUE(parses(intact));
    auto m = intact;
    m.sources[0].records.table.size -= 8;
    EXPECT_FALSE(parses(m));
    m = intact;
    m.channels[1].length += 1;  // longer than the source's frames
    EXPECT_FALSE(parses(m));
    m = intact;
    m.channels[0].length -= 64;  // the file's size no longer adds up
    EXPECT_FALSE(parses(m));
    m = intact;
    m.sources[0].records.frames = 64;
    EXPECT_FALSE(parses(m));
    // The table itself is read when the samples are put back: a record naming a channel the
    // source does not have, or lengths that do not sum to a channel's, are refused naming it.
    const format::SourceFile& s = intact.sources[0];
    const auto table = std::span(reader.verbatim()).subspan(s.records.table.offset, s.records.table.size);
    const std::uint64_t lengths[] = {intact.channels[0].length, intact.channels[1].length};
    EXPECT_NO_THROW(format::parse_record_table(table, s, lengths));
    std::vector<std::uint8_t> bad(table.begin(), table.end());
    bad[4 * 7] = 2;  // record 7: channel 2 of 2
    EXPECT_THROW(format::parse_record_table(bad, s, lengths), format::ArchiveError);
    bad.assign(table.begin(), table.end());
    bad[4 * s.records.count + 4 * 7] ^= 1;  // record 7: one sample more or less
    try {
      format::parse_record_table(bad, s, lengths);
      ADD_FAILURE() << "accepted";
    } catch (const format::ArchiveError& e) {
      EXPECT_NE(std::string(e.what()).find("rec.plx: record table: channel"), std::string::npos) << e.what();
    }
  }
}

namespace {

// A Spike2 .smr file's waveform (kind 1) and waveform-mark (kind 6) channels by the documented
// layout (SPEC §4.1): each channel's chain of blocks from its header, its samples in chain order
// (a mark's points after its 8 bytes of time and markers), and where each run of samples lies.
struct SmrChannel {
  int number = 0;  // of the file's channel headers, from 1
  std::uint8_t kind = 0;
  std::vector<std::int16_t> samples;
  std::vector<std::size_t> blocks;  // each block's first byte
};

std::vector<SmrChannel> smr_channels(const std::vector<std::uint8_t>& file) {
  std::vector<SmrChannel> out;
  std::int16_t headers;
  std::memcpy(&headers, file.data() + 30, 2);
  for (int c = 0; c < headers; ++c) {
    const std::size_t h = 512 + 140 * static_cast<std::size_t>(c);
    const std::uint8_t kind = file[h + 122];
    std::int16_t extra;
    std::memcpy(&extra, file.data() + h + 16, 2);
    if (kind != 1 && kind != 6) continue;
    SmrChannel channel{c + 1, kind, {}, {}};
    std::int32_t at;
    std::memcpy(&at, file.data() + h + 6, 4);
    for (; at != -1 && static_cast<std::size_t>(at) + 20 <= file.size(); std::memcpy(&at, file.data() + at + 4, 4)) {
      std::uint16_t items;
      std::memcpy(&items, file.data() + at + 18, 2);
      const std::size_t points = kind == 1 ? 1 : static_cast<std::size_t>(extra) / 2, skip = kind == 1 ? 0 : 8;
      if (static_cast<std::size_t>(at) + 20 + items * (skip + 2 * points) > file.size()) break;
      channel.blocks.push_back(static_cast<std::size_t>(at));
      for (std::size_t i = 0; i < items; ++i) {
        const std::size_t first = static_cast<std::size_t>(at) + 20 + i * (skip + 2 * points) + skip;
        for (std::size_t p = 0; p < points; ++p) {
          std::int16_t v;
          std::memcpy(&v, file.data() + first + 2 * p, 2);
          channel.samples.push_back(v);
        }
      }
    }
    if (!channel.samples.empty()) out.push_back(std::move(channel));
  }
  return out;
}

}  // namespace

// Format 17 (SPEC §4.1, §4.2): a Spike2 .smr file's waveform blocks and waveform marks are
// records of one channel each with tails: the block headers, the blocks' unused ends, the other
// channels' blocks and free blocks are the tails between the runs of samples. Two real files
// (SON versions 4 and 5: a respiration channel at 200.8 Hz beside waveform marks, events and
// free blocks; waveform marks alone) restore byte for byte at every level; each channel reads
// as the file's chains hold it.
TEST(AcquisitionFormats, Spike2FilesAreRecordsWithTailsAndRestoreByteForByte) {
  const fs::path samples = test::samples_dir() / "spike2";
  const auto one = test::read_file(samples / "File_spike2_1.smr"), two = test::read_file(samples / "File_spike2_2.smr");
  const auto channels_one = smr_channels(one), channels_two = smr_channels(two);
  ASSERT_EQ(channels_one.size(), 2u);
  ASSERT_EQ(channels_two.size(), 1u);
  ASSERT_EQ(channels_one[0].samples.size(), 45688u);       // Respi: 185 blocks of 246 and one of 178
  ASSERT_EQ(channels_one[1].samples.size(), 247u * 102);   // waveform marks of 102 points
  ASSERT_EQ(channels_two[0].samples.size(), 646u * 100);
  test::TempDir dir;
  for (const std::string level : {"fast", "default", "max"}) {
    SCOPED_TRACE(level);
    const auto a = compress_inputs({samples}, dir / (level + ".spikey"), level);
    EXPECT_TRUE(a.notes.empty()) << a.notes.front();
    expect_restores_exactly(a.archive, samples, dir / (level + "_out"));
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 3u);
    EXPECT_EQ(m.channels[0].name, "Respi");
    EXPECT_EQ(m.channels[1].name, "untitled");
    EXPECT_EQ(m.channels[2].name, "Spikes");
    EXPECT_FALSE(m.snippet_channel(0));
    EXPECT_TRUE(m.snippet_channel(1) && m.snippet_channel(2));
    EXPECT_EQ(m.channels[0].length, channels_one[0].samples.size());
    EXPECT_EQ(m.channels[2].length, channels_two[0].samples.size());
    EXPECT_NEAR(m.channel_rate(0), 1e6 / (166 * 3 * 10), 1e-9);  // divide 166, usPerTime 3, timePerADC 10
    EXPECT_DOUBLE_EQ(m.channel_rate(2), 12500);                   // divide 2, usPerTime 10, timePerADC 4
    ASSERT_TRUE(m.channels[0].bit_volts && m.channels[2].bit_volts);
    EXPECT_NEAR(*m.channels[0].bit_volts, 1.0000001192092896 / 6553.6 * 1e6, 1e-6);  // scale / 6553.6 volts
    EXPECT_NEAR(*m.channels[2].bit_volts, 1000.0 / 6553.6 * 1e3, 1e-9);             // scale / 6553.6 mV
    EXPECT_EQ(m.channels[0].units, "uV");
    for (const format::SourceFile& s : m.sources) {
      EXPECT_EQ(s.kind, format::SourceKind::spike2);
      EXPECT_TRUE(s.records.channel_records && s.records.tails);
      EXPECT_EQ(s.records.header + s.records.trailer, 0u);
    }
    EXPECT_EQ(m.sources[0].records.count, 186u + 247);
    EXPECT_EQ(m.sources[1].records.count, 646u);
    EXPECT_EQ(window_of(a.archive, "Respi", 1000, 30000), slice(channels_one[0].samples, 1000, 30000));
    EXPECT_EQ(window_of(a.archive, "untitled", 0, 247 * 102), channels_one[1].samples);
    EXPECT_EQ(window_of(a.archive, "Spikes", 100 * 37, 100 * 600), slice(channels_two[0].samples, 100 * 37, 100 * 600));
    EXPECT_EQ(host::resolve_window(m, 0, 100, {}).channels, (std::vector<std::uint32_t>{0}));  // the time series alone
  }
  // A copy cut short inside a block: that channel's chain stops there (with a warning) and the
  // rest of the file is kept byte for byte; a chain that turns back, or a block inside another
  // block, makes the file a side file, named with the channel or the byte.
  {
    const fs::path in = dir / "edges";
    fs::create_directories(in);
    const std::size_t last = channels_one[0].blocks.back();
    test::write_file(in / "cut.smr", std::vector<std::uint8_t>(one.begin(), one.begin() + static_cast<std::ptrdiff_t>(last + 100)));
    auto back = one;
    const std::int32_t earlier = static_cast<std::int32_t>(channels_one[0].blocks[3]);
    std::memcpy(back.data() + channels_one[0].blocks[10] + 4, &earlier, 4);  // block 10's next is block 3
    test::write_file(in / "back.smr", back);
    // The waveform marks' first block moved inside a Respi block (its header copied there, the
    // rest of its chain cut): the chains each check out, but the blocks overlap.
    auto inside = one;
    const std::size_t marks = channels_one[1].blocks.front(), host_block = channels_one[0].blocks[20];
    std::copy_n(one.begin() + static_cast<std::ptrdiff_t>(marks), 20, inside.begin() + static_cast<std::ptrdiff_t>(host_block + 100));
    const std::int32_t moved = static_cast<std::int32_t>(host_block + 100), none = -1;
    std::memcpy(inside.data() + 512 + 140 * 5 + 6, &moved, 4);
    std::memcpy(inside.data() + host_block + 100 + 4, &none, 4);
    test::write_file(in / "inside.smr", inside);
    const auto a = compress_inputs({in}, dir / "edges.spikey");
    ASSERT_EQ(a.notes.size(), 4u);  // cut.smr ends inside a block of each of its two chains
    std::string all;
    for (const auto& n : a.notes) all += n + "\n";
    EXPECT_NE(all.find("back.smr: channel 2's chain of blocks goes to byte " + std::to_string(earlier)), std::string::npos) << all;
    EXPECT_NE(all.find("cut.smr: the file ends inside channel 2's block at byte " + std::to_string(last)), std::string::npos) << all;
    EXPECT_NE(all.find("cut.smr: the file ends inside channel 6's block at byte " + std::to_string(marks)), std::string::npos) << all;
    EXPECT_NE(all.find("inside.smr: byte " + std::to_string(host_block + 100) + ": a block starts inside the block at byte " + std::to_string(host_block)),
              std::string::npos) << all;
    expect_restores_exactly(a.archive, in, dir / "edges_out");
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    EXPECT_EQ(m.sources.at(0).kind, format::SourceKind::side_file);  // back.smr
    EXPECT_EQ(m.sources.at(1).kind, format::SourceKind::spike2);     // cut.smr
    EXPECT_EQ(m.sources.at(2).kind, format::SourceKind::side_file);  // inside.smr
    EXPECT_EQ(m.channels.size(), 1u);  // cut.smr's Respi; its waveform marks lay past the cut
    EXPECT_EQ(window_of(a.archive, "Respi", 0, 185 * 246), slice(channels_one[0].samples, 0, 185 * 246));
  }
  // From SON version 6 a channel's rate comes from its lChanDvd and the file's dTimeBase (File
  // 2's header rewritten so: 1 / (8 x usPerTime 10 x 2.5e-6 s) = 5 kHz); a version above 8 (a
  // layout not checked on a real file) keeps the file whole, naming the version.
  {
    const fs::path in = dir / "versions";
    fs::create_directories(in);
    auto six = two, nine = two;
    const std::int16_t version = 6, big = 9;
    const double time_base = 2.5e-6;
    const std::int32_t divisor = 8;
    std::memcpy(six.data(), &version, 2);
    std::memcpy(six.data() + 44, &time_base, 8);
    std::memcpy(six.data() + 512 + 102, &divisor, 4);
    std::memcpy(nine.data(), &big, 2);
    test::write_file(in / "six.smr", six);
    test::write_file(in / "nine.smr", nine);
    const auto a = compress_inputs({in}, dir / "versions.spikey");
    ASSERT_EQ(a.notes.size(), 1u);
    EXPECT_NE(a.notes[0].find("nine.smr: byte 0: SON version 9"), std::string::npos) << a.notes[0];
    expect_restores_exactly(a.archive, in, dir / "versions_out");
    const format::ArchiveReader reader(a.archive);
    ASSERT_EQ(reader.metadata().channels.size(), 1u);  // six.smr's marks; nine.smr is a side file
    EXPECT_NEAR(reader.metadata().channel_rate(0), 5000, 1e-6);
  }
  // Metadata: a table of tails must be 12 bytes a record, the tails only with a record table,
  // and the tails must sum to the framing's bytes, checked where the table is read.
  {
    const format::ArchiveReader reader(dir / "default.spikey");
    const format::Metadata intact = reader.metadata();
    const auto parses = [&](const format::Metadata& m) { return metadata_parses(m, reader.verbatim()); };
    EXPECT_TRUE(parses(intact));
    auto m = intact;
    m.sources[0].records.tails = false;  // the table's size and the file's no longer add up
    EXPECT_FALSE(parses(m));
    m = intact;
    m.sources[0].records.table.size -= 4;
    EXPECT_FALSE(parses(m));
    m = intact;
    m.sources[0].records.framing.size -= 2;  // two bytes fewer than the file's records
    EXPECT_FALSE(parses(m));
    m = intact;
    m.sources[0].records.channel_records = false;
    EXPECT_FALSE(parses(m));
    const format::SourceFile& s = intact.sources[0];
    const auto table = std::span(reader.verbatim()).subspan(s.records.table.offset, s.records.table.size);
    const std::uint64_t lengths[] = {intact.channels[0].length, intact.channels[1].length};
    EXPECT_NO_THROW(format::parse_record_table(table, s, lengths));
    std::vector<std::uint8_t> bad(table.begin(), table.end());
    bad[8 * s.records.count + 4 * 7] ^= 1;  // record 7's tail one byte longer or shorter
    try {
      format::parse_record_table(bad, s, lengths);
      ADD_FAILURE() << "accepted";
    } catch (const format::ArchiveError& e) {
      EXPECT_NE(std::string(e.what()).find("File_spike2_1.smr: record table: the tails hold"), std::string::npos) << e.what();
    }
  }
  // With the metadata section damaged, salvage restores both files from the copy (§3.7), which
  // keeps the record tables and tails.
  {
    auto bytes = test::read_file(dir / "default.spikey");
    bytes[70] ^= 0x10;
    test::write_file(dir / "bad.spikey", bytes);
    const auto report = host::salvage_archive(dir / "bad.spikey", dir / "saved.spikey", {true, 1});
    EXPECT_TRUE(report.lost_files.empty());
    expect_restores_exactly(dir / "saved.spikey", samples, dir / "saved_out");
  }
}

// The metadata copy keeps a Plexon file's record table (SPEC §3.7): with the metadata section
// damaged, salvage restores the file from the copy.
TEST(AcquisitionFormats, PlexonFilesRestoreFromTheMetadataCopy) {
  test::TempDir dir;
  fs::create_directories(dir / "in");
  fs::copy_file(test::samples_dir() / "plexon" / "File_plexon_3_cut.plx", dir / "in" / "rec.plx");
  const auto a = compress_inputs({dir / "in"}, dir / "a.spikey");
  auto bytes = test::read_file(a.archive);
  bytes[70] ^= 0x10;  // inside the metadata section
  test::write_file(dir / "bad.spikey", bytes);
  const auto report = host::salvage_archive(dir / "bad.spikey", dir / "saved.spikey", {true, 1});
  EXPECT_TRUE(report.lost_files.empty());
  expect_restores_exactly(dir / "saved.spikey", dir / "in", dir / "out");
}

// White Matter eCube files say their channels and rate only in their names: an 8-byte header
// (the first frame's timestamp), then interleaved int16 frames. samples/white_matter holds the
// first 0.25 s of a real 64-channel headstage file at 25 kHz whose name says 70 min 17 s.
TEST(AcquisitionFormats, WhiteMatterFilesTakeTheirChannelsAndRateFromTheirNames) {
  const std::string name = "HSW_2024_12_12__10_28_23__70min_17sec__hsamp_64ch_25000sps_stub.bin";
  const fs::path sample = test::samples_dir() / "white_matter" / name;
  const auto bytes = test::read_file(sample);
  ASSERT_EQ(bytes.size(), 8u + 64 * 2 * 6250);
  const auto frames = samples_by_layout(bytes, 8, 0, 64 * 6250, 0, false);  // channel c: frames[t * 64 + c]
  const auto channel = [&](std::size_t c, std::size_t start, std::size_t end) {
    std::vector<std::int16_t> v;
    for (std::size_t t = start; t < end; ++t) v.push_back(frames[t * 64 + c]);
    return v;
  };
  test::TempDir dir;
  for (const std::string level : {"fast", "default"}) {
    SCOPED_TRACE(level);
    const auto a = compress_inputs({sample}, dir / (level + ".spikey"), level);
    ASSERT_EQ(a.notes.size(), 1u);  // a copy cut short: the name says 70 min 17 s
    EXPECT_NE(a.notes[0].find("its name says 70 min 17 s but it holds 0.250 s of 64 channels at 25000 Hz"), std::string::npos) << a.notes[0];
    expect_restores_exactly(a.archive, sample.parent_path(), dir / (level + "_out"));
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 64u);
    EXPECT_DOUBLE_EQ(m.sample_rate, 25000);
    EXPECT_EQ(m.sources[0].kind, format::SourceKind::raw);
    for (const auto& c : m.channels) {
      EXPECT_EQ(c.length, 6250u);
      ASSERT_TRUE(c.bit_volts.has_value());
      EXPECT_DOUBLE_EQ(*c.bit_volts, 6250.0 / 32768);  // the headstages' 6.25 mV over 2^15 steps
      EXPECT_EQ(c.units, "uV");
    }
    EXPECT_EQ(window_of(a.archive, name + ":37", 1000, 4000), channel(37, 1000, 4000));
  }
  // Not a headstage file: channels and rate from the name, no gain; a partial last frame is kept
  // with a warning; a file of its header alone is kept whole.
  const fs::path in = dir / "others";
  fs::create_directories(in);
  auto panel = std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 8 + 32 * 2 * 1000);
  test::write_file(in / "AnalogPanel_32ch_12500sps.bin", panel);
  panel.insert(panel.end(), {1, 2, 3});
  test::write_file(in / "HSW_cut__hsamp_32ch_12500sps.bin", panel);
  test::write_file(in / "HSW_empty__hsamp_64ch_25000sps.bin", std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 5));
  test::write_file(in / "settingsHeadstages.xml", std::vector<std::uint8_t>{'<', 'x', '/', '>'});
  const auto a = compress_inputs({in}, dir / "others.spikey");
  ASSERT_EQ(a.notes.size(), 2u);
  EXPECT_NE(a.notes[0].find("HSW_cut__hsamp_32ch_12500sps.bin: 3 byte(s) after its last whole frame of 32 channels"), std::string::npos)
      << a.notes[0];
  EXPECT_NE(a.notes[1].find("HSW_empty__hsamp_64ch_25000sps.bin: no samples after its header; kept whole"), std::string::npos) << a.notes[1];
  expect_restores_exactly(a.archive, in, dir / "others_out");
  {
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 64u);
    EXPECT_DOUBLE_EQ(m.sample_rate, 12500);
    EXPECT_FALSE(m.channels[0].bit_volts.has_value());  // AnalogPanel_: no headstage gain
    EXPECT_TRUE(m.channels[32].bit_volts.has_value());
    EXPECT_EQ(m.channels[0].length, 1000u);
    EXPECT_EQ(m.sources.size(), 4u);
  }
  // --raw-channels wins over the name; a .bin named otherwise still asks for it.
  const auto rec = host::Recording::open({sample}, host::InputOptions{16, 1000.0, false, false, false, 8}, [](const std::string&) {});
  EXPECT_EQ(rec.channel_count(), 16u);
  EXPECT_EQ(rec.channel_label(0), nullptr);
  EXPECT_NE(refusal_of(dir / "HSW_2024_12_12.bin", bytes).find("--raw-channels N --raw-rate HZ"), std::string::npos);
  EXPECT_NE(refusal_of(dir / "HSW_0ch_25000sps.bin", bytes).find("--raw-channels N --raw-rate HZ"), std::string::npos);
}

namespace {

// An AlphaOmega file's analog input channels that have samples, in the order of their
// definitions, read by the block layout (u16 length, u8 type; '2' definitions, '5' data).
struct AoChannel {
  std::int16_t number = 0;
  std::string name;
  bool segmented = false;
  double rate = 0;
  std::vector<std::int16_t> samples;
  std::vector<std::size_t> blocks;  // its data blocks' first bytes
};

std::vector<AoChannel> ao_channels(const std::vector<std::uint8_t>& file) {
  std::vector<AoChannel> defined;
  const auto u16 = [&](std::size_t at) { return static_cast<std::uint16_t>(file[at] | file[at + 1] << 8); };
  for (std::size_t at = 0; at + 3 <= file.size();) {
    const std::size_t length = u16(at);
    if (length == 65535 || length < 3 || at + length > file.size()) break;
    const auto number = static_cast<std::int16_t>(u16(at + 4));
    if (file[at + 2] == '2' && u16(at + 8) == 1 && u16(at + 10) == 1) {
      AoChannel c;
      c.number = static_cast<std::int16_t>(u16(at + 12));
      c.segmented = u16(at + 18) == 1;
      const std::size_t name_at = c.segmented ? 48 : 38;
      c.name = std::string(reinterpret_cast<const char*>(file.data() + at + name_at));
      float khz;
      std::memcpy(&khz, file.data() + at + 24, 4);
      c.rate = khz * 1000.0;
      defined.push_back(std::move(c));
    } else if (file[at + 2] == '5') {
      for (AoChannel& c : defined)
        if (c.number == number && length > 10) {
          c.blocks.push_back(at);
          for (std::size_t i = 0; i < (length - 10) / 2; ++i) c.samples.push_back(static_cast<std::int16_t>(u16(at + 6 + 2 * i)));
        }
    }
    at += length;
  }
  std::erase_if(defined, [](const AoChannel& c) { return c.samples.empty(); });
  return defined;
}

}  // namespace

// AlphaOmega files: every analog input's data blocks are records of its channel (its 6-byte
// block head and the first sample's number the framing), the blocks between them tails.
// samples/alpha_omega holds an AlphaRS .mpx (map version 4: LFP, spike waveforms, SPK, RAW,
// analog inputs and an accelerometer at four rates) and an AlphaMap .map (version 2).
TEST(AcquisitionFormats, AlphaOmegaFilesAreChannelRecordsAndRestoreByteForByte) {
  const fs::path samples = test::samples_dir() / "alpha_omega";
  const auto mpx = test::read_file(samples / "mapfile0054.mpx"), map = test::read_file(samples / "File_AlphaOmega_2.map");
  const auto channels_mpx = ao_channels(mpx), channels_map = ao_channels(map);
  ASSERT_EQ(channels_mpx.size(), 27u);
  ASSERT_EQ(channels_map.size(), 4u);
  EXPECT_EQ(channels_mpx[0].name, "LFP 001");
  EXPECT_TRUE(channels_mpx[4].segmented);
  EXPECT_EQ(channels_mpx[12].name, "RAW 001");
  EXPECT_EQ(channels_mpx[12].samples.size(), 22073u);
  EXPECT_EQ(channels_mpx[24].name, "ACC_X 001");
  EXPECT_EQ(channels_map[0].samples.size(), 66501u);
  test::TempDir dir;
  for (const std::string level : {"fast", "default", "max"}) {
    SCOPED_TRACE(level);
    const auto a = compress_inputs({samples}, dir / (level + ".spikey"), level);
    EXPECT_TRUE(a.notes.empty()) << a.notes.front();
    expect_restores_exactly(a.archive, samples, dir / (level + "_out"));
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 31u);  // File_AlphaOmega_2.map's 4, then mapfile0054.mpx's 27
    for (std::size_t c = 0; c < 31; ++c) {
      const AoChannel& expected = c < 4 ? channels_map[c] : channels_mpx[c - 4];
      EXPECT_EQ(m.channels[c].name, expected.name);
      EXPECT_EQ(m.channels[c].length, expected.samples.size());
      EXPECT_EQ(m.snippet_channel(c), expected.segmented);
      if (!expected.segmented) EXPECT_DOUBLE_EQ(m.channel_rate(c), expected.rate);
      EXPECT_FALSE(m.channels[c].bit_volts.has_value());
    }
    EXPECT_DOUBLE_EQ(m.channel_rate(4), 937.5);   // LFP 001: 0.9375 kHz
    EXPECT_DOUBLE_EQ(m.channel_rate(16), 30000);  // RAW 001
    EXPECT_DOUBLE_EQ(m.channel_rate(0), 12500);   // 2-AI001 of the .map
    for (const format::SourceFile& s : m.sources) {
      EXPECT_EQ(s.kind, format::SourceKind::alpha_omega);
      EXPECT_TRUE(s.records.channel_records && s.records.tails);
      EXPECT_EQ(s.records.header, 6u);
      EXPECT_EQ(s.records.trailer, 4u);
    }
    std::size_t blocks = 0;
    for (const AoChannel& c : channels_mpx) blocks += c.blocks.size();
    EXPECT_EQ(m.sources[1].records.count, blocks);
    EXPECT_EQ(window_of(a.archive, "RAW 001", 1000, 20000), slice(channels_mpx[12].samples, 1000, 20000));
    EXPECT_EQ(window_of(a.archive, "SEG 002", 96 * 10, 96 * 100), slice(channels_mpx[5].samples, 96 * 10, 96 * 100));
    EXPECT_EQ(window_of(a.archive, "2-AI024", 0, 66501), channels_map[3].samples);
  }
  // A copy cut inside a data block: the blocks before it are records, the rest is kept byte
  // for byte with a warning; a block of length 0 stops the reading there too; a data block of a
  // channel that no block defines is kept as bytes. A file without a data block with samples is
  // kept whole.
  {
    const fs::path in = dir / "edges";
    fs::create_directories(in);
    const std::size_t cut_at = channels_mpx[12].blocks[5] + 1000;
    test::write_file(in / "cut.mpx", std::vector<std::uint8_t>(mpx.begin(), mpx.begin() + static_cast<std::ptrdiff_t>(cut_at)));
    auto zero = mpx;
    const std::size_t zero_at = channels_mpx[24].blocks[3];  // ACC_X 001's fourth block
    zero[zero_at] = zero[zero_at + 1] = 0;
    test::write_file(in / "zero.mpx", zero);
    auto unknown = mpx;
    const std::size_t renamed = channels_mpx[24].blocks[7];
    unknown[renamed + 4] = 0x39, unknown[renamed + 5] = 0x30;  // channel 12345: not defined
    test::write_file(in / "unknown.mpx", unknown);
    test::write_file(in / "headers.mpx", std::vector<std::uint8_t>(mpx.begin(), mpx.begin() + static_cast<std::ptrdiff_t>(channels_mpx[0].blocks[0])));
    const auto a = compress_inputs({in}, dir / "edges.spikey");
    ASSERT_EQ(a.notes.size(), 3u);
    EXPECT_NE(a.notes[0].find("cut.mpx: byte "), std::string::npos) << a.notes[0];
    EXPECT_NE(a.notes[0].find("(a copy cut short?); it and the rest of the file are kept byte for byte"), std::string::npos) << a.notes[0];
    EXPECT_NE(a.notes[1].find("headers.mpx: no samples after its header; kept whole"), std::string::npos) << a.notes[1];
    EXPECT_NE(a.notes[2].find("zero.mpx: byte " + std::to_string(zero_at) + ": a block of 0 bytes"), std::string::npos) << a.notes[2];
    expect_restores_exactly(a.archive, in, dir / "edges_out");
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    const auto channel = [&](const std::string& file, const std::string& name) {
      for (std::size_t c = 0; c < m.channels.size(); ++c)
        if (m.sources[m.channels[c].source].path == file && m.channels[c].name == name) return m.channels[c];
      ADD_FAILURE() << file << " " << name;
      return format::ChannelInfo{};
    };
    EXPECT_EQ(channel("cut.mpx", "RAW 001").length, 134u + 4 * 2048);  // 134, then 2048 a block, to the cut in its sixth
    EXPECT_EQ(channel("unknown.mpx", "ACC_X 001").length, channels_mpx[24].samples.size() - 2048);
    EXPECT_EQ(channel("zero.mpx", "ACC_X 001").length, 2u * 2048 + 630);
  }
  // With the metadata section damaged, salvage restores both files from the copy (§3.7).
  {
    auto bytes = test::read_file(dir / "default.spikey");
    bytes[70] ^= 0x10;  // inside the metadata section
    test::write_file(dir / "bad.spikey", bytes);
    const auto report = host::salvage_archive(dir / "bad.spikey", dir / "saved.spikey", {true, 1});
    EXPECT_TRUE(report.lost_files.empty());
    expect_restores_exactly(dir / "saved.spikey", samples, dir / "saved_out");
  }
}

// Axon Binary Format files: the data section's interleaved samples are the frames, everything
// else the prefix and suffix. samples/abf holds an ABF1 file (2 channels, episodic), an ABF2
// file (1 channel, 9 sweeps) and an ABF2 file of float32 data off any grid (kept whole).
TEST(AcquisitionFormats, AbfFilesRestoreByteForByteWithNamesRatesAndGains) {
  const fs::path samples = test::samples_dir() / "abf";
  const auto one = test::read_file(samples / "File_axon_3.abf"), two = test::read_file(samples / "File_axon_5.abf");
  const auto i32 = [](const std::vector<std::uint8_t>& b, std::size_t at) {
    std::int32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
  };
  // ABF1: data at block 16 (40), 206440 points (10) of 2 channels; ABF2: the data section's
  // block (236) and points (244).
  ASSERT_EQ(i32(one, 40), 16);
  const auto one_frames = samples_by_layout(one, 16 * 512, 0, 2 * 103220, 0, false);
  const std::size_t two_at = static_cast<std::size_t>(i32(two, 236)) * 512, two_points = static_cast<std::size_t>(i32(two, 244));
  ASSERT_EQ(two_points, 180000u);
  const auto two_samples = samples_by_layout(two, two_at, 0, two_points, 0, false);
  const auto column = [](const std::vector<std::int16_t>& frames, std::size_t k, std::size_t c) {
    std::vector<std::int16_t> v;
    for (std::size_t t = c; t < frames.size(); t += k) v.push_back(frames[t]);
    return v;
  };
  test::TempDir dir;
  for (const std::string level : {"fast", "default", "max"}) {
    SCOPED_TRACE(level);
    const auto a = compress_inputs({samples}, dir / (level + ".spikey"), level);
    ASSERT_EQ(a.notes.size(), 1u);
    EXPECT_NE(a.notes[0].find("File_axon_7.abf: float32 data whose values are not all whole multiples of one step (int16 codes); kept whole"),
              std::string::npos)
        << a.notes[0];
    expect_restores_exactly(a.archive, samples, dir / (level + "_out"));
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 3u);
    EXPECT_EQ(m.sources[0].kind, format::SourceKind::abf);
    EXPECT_EQ(m.sources[1].kind, format::SourceKind::abf);
    EXPECT_EQ(m.sources[2].kind, format::SourceKind::side_file);
    EXPECT_EQ(m.channels[0].name, "stim");
    EXPECT_EQ(m.channels[1].name, "VmRK");
    EXPECT_EQ(m.channels[2].name, "_Ipatch");
    EXPECT_EQ(m.channels[0].length, 103220u);
    EXPECT_EQ(m.channels[2].length, 180000u);
    EXPECT_DOUBLE_EQ(m.channel_rate(0), 20000);  // 25 us for both channels
    EXPECT_DOUBLE_EQ(m.channel_rate(2), 20000);  // 50 us a channel
    // pCLAMP's scaling: range / resolution / (scale factor x signal gain x programmable gain x
    // telegraph gain), in the file's units.
    ASSERT_TRUE(m.channels[0].bit_volts && m.channels[1].bit_volts && m.channels[2].bit_volts);
    EXPECT_NEAR(*m.channels[0].bit_volts, 10.24 / 32768, 1e-9);
    EXPECT_EQ(m.channels[0].units, "V");
    EXPECT_NEAR(*m.channels[1].bit_volts, 10.24 / 32768 / (0.01 * 4), 1e-9);
    EXPECT_EQ(m.channels[1].units, "mV");
    EXPECT_NEAR(*m.channels[2].bit_volts, 10.0 / 32768 / (0.01 * 5), 1e-9);
    EXPECT_EQ(m.channels[2].units, "mV");
    EXPECT_EQ(window_of(a.archive, "VmRK", 5000, 60000), slice(column(one_frames, 2, 1), 5000, 60000));
    EXPECT_EQ(window_of(a.archive, "_Ipatch", 0, 180000), two_samples);
  }
  // Float32 data that are int16 codes times one step are coded as those codes (File_axon_7's
  // header, its data replaced by File_axon_5's codes times 0.25); a copy cut inside the data
  // keeps the frames it holds, with a warning; a header alone is kept whole.
  {
    const fs::path in = dir / "edges";
    fs::create_directories(in);
    auto floats = test::read_file(samples / "File_axon_7.abf");
    const std::size_t at = static_cast<std::size_t>(i32(floats, 236)) * 512, points = static_cast<std::size_t>(i32(floats, 244));
    for (std::size_t i = 0; i < points; ++i) {
      const float v = static_cast<float>(two_samples[i]) * 0.25f;
      std::memcpy(floats.data() + at + 4 * i, &v, 4);
    }
    test::write_file(in / "grid.abf", floats);
    test::write_file(in / "cut.abf", std::vector<std::uint8_t>(two.begin(), two.begin() + static_cast<std::ptrdiff_t>(two_at + 2 * 1001)));
    test::write_file(in / "header.abf", std::vector<std::uint8_t>(two.begin(), two.begin() + static_cast<std::ptrdiff_t>(two_at)));
    const auto a = compress_inputs({in}, dir / "edges.spikey");
    ASSERT_EQ(a.notes.size(), 2u);
    EXPECT_NE(a.notes[0].find("cut.abf: its header declares 180000 data points but the file holds 1001 (a copy cut short?)"), std::string::npos)
        << a.notes[0];
    EXPECT_NE(a.notes[1].find("header.abf: its header declares 180000 data points but the file ends before them (a copy cut short?); kept whole"),
              std::string::npos)
        << a.notes[1];
    expect_restores_exactly(a.archive, in, dir / "edges_out");
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 2u);  // cut.abf's, grid.abf's
    EXPECT_EQ(m.channels[0].length, 1001u);
    EXPECT_EQ(m.sources[1].float_bytes, 4u);
    EXPECT_DOUBLE_EQ(*m.channels[1].bit_volts, 0.25);
    EXPECT_EQ(m.channels[1].units, "pA");
    EXPECT_EQ(m.channels[1].name, "IN 1");
    EXPECT_EQ(window_of(a.archive, "IN 1", 0, points), slice(two_samples, 0, points));
  }
}

// Axona DacqUSB raw files: packets of 432 bytes (32 of header, three frames of 64 channels in
// the hardware's order, 16 of trailer) are records; the .set gives the rate and each channel's
// gain. samples/axona holds a real 192-packet recording with its .set.
TEST(AcquisitionFormats, AxonaRawFilesArePacketRecordsAndRestoreByteForByte) {
  const fs::path samples = test::samples_dir() / "axona";
  const auto bin = test::read_file(samples / "axona_raw.bin");
  ASSERT_EQ(bin.size(), 192u * 432);
  // Channel c's frame position (neo's channel_memory_offset, pyxona's order).
  const std::vector<std::size_t> position = {32, 33, 34, 35, 36, 37, 38, 39, 0,  1,  2,  3,  4,  5,  6,  7,  40, 41, 42, 43, 44, 45,
                                             46, 47, 8,  9,  10, 11, 12, 13, 14, 15, 48, 49, 50, 51, 52, 53, 54, 55, 16, 17, 18, 19,
                                             20, 21, 22, 23, 56, 57, 58, 59, 60, 61, 62, 63, 24, 25, 26, 27, 28, 29, 30, 31};
  const auto channel = [&](const std::vector<std::uint8_t>& file, std::size_t c, std::size_t packets) {
    std::vector<std::int16_t> v;
    for (std::size_t p = 0; p < packets; ++p)
      for (std::size_t f = 0; f < 3; ++f) {
        const std::size_t at = p * 432 + 32 + f * 128 + 2 * position[c];
        v.push_back(static_cast<std::int16_t>(file[at] | file[at + 1] << 8));
      }
    return v;
  };
  // The .set's gain of each channel (its lines "gain_ch_<c> <gain>"; the ADC's full scale is 1500 mV).
  std::map<std::size_t, double> gains;
  {
    const auto text = test::read_file(samples / "axona_raw.set");
    std::istringstream set(std::string(text.begin(), text.end()));
    for (std::string line; std::getline(set, line);)
      if (line.rfind("gain_ch_", 0) == 0) gains[std::stoul(line.substr(8))] = std::stod(line.substr(line.find(' ') + 1));
    ASSERT_EQ(gains.size(), 64u);
  }
  test::TempDir dir;
  for (const std::string level : {"fast", "default", "max"}) {
    SCOPED_TRACE(level);
    const auto a = compress_inputs({samples}, dir / (level + ".spikey"), level);
    EXPECT_TRUE(a.notes.empty()) << a.notes.front();
    expect_restores_exactly(a.archive, samples, dir / (level + "_out"));
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 64u);
    EXPECT_DOUBLE_EQ(m.sample_rate, 48000);  // the .set's rawRate
    const auto& s = m.sources[0];
    EXPECT_EQ(s.kind, format::SourceKind::axona);
    EXPECT_EQ(s.records.count, 192u);
    EXPECT_EQ(s.records.frames, 3u);
    EXPECT_EQ(s.records.header, 32u);
    EXPECT_EQ(s.records.trailer, 16u);
    EXPECT_EQ(m.sources[1].kind, format::SourceKind::side_file);  // the .set
    for (std::size_t p = 0; p < 64; ++p) {
      const std::size_t c = static_cast<std::size_t>(std::find(position.begin(), position.end(), p) - position.begin());
      EXPECT_EQ(m.channels[p].name, "ch" + std::to_string(c));
      EXPECT_EQ(m.channels[p].length, 576u);
      ASSERT_TRUE(m.channels[p].bit_volts.has_value());
      EXPECT_DOUBLE_EQ(*m.channels[p].bit_volts, 1000.0 * 1500 / (gains.at(c) * 32768)) << c;
      EXPECT_EQ(m.channels[p].units, "uV");
    }
    for (const std::size_t c : {0u, 9u, 37u, 63u})
      EXPECT_EQ(window_of(a.archive, "ch" + std::to_string(c), 0, 576), channel(bin, c, 192)) << c;
  }
  // Without its .set: 48 kHz, no gains, with a note; a packet that does not start "ADU" ends the
  // records there, and a partial last packet is kept, each with a warning.
  {
    const fs::path in = dir / "edges";
    fs::create_directories(in);
    test::write_file(in / "alone.bin", bin);
    auto bad = bin;
    bad[100 * 432] = 'X';
    test::write_file(in / "bad.bin", bad);
    test::write_file(in / "bad.set", test::read_file(samples / "axona_raw.set"));
    test::write_file(in / "cut.bin", std::vector<std::uint8_t>(bin.begin(), bin.begin() + 50 * 432 + 100));
    test::write_file(in / "cut.set", test::read_file(samples / "axona_raw.set"));
    const auto a = compress_inputs({in}, dir / "edges.spikey");
    ASSERT_EQ(a.notes.size(), 3u);
    EXPECT_NE(a.notes[0].find("alone.bin: no alone.set beside it; DacqUSB's raw rate of 48000 Hz taken, no gains"), std::string::npos) << a.notes[0];
    EXPECT_NE(a.notes[1].find("bad.bin: byte 43200: packet 100 does not start with ADU1 or ADU2"), std::string::npos) << a.notes[1];
    EXPECT_NE(a.notes[2].find("cut.bin: 100 byte(s) after its last whole packet of 432"), std::string::npos) << a.notes[2];
    expect_restores_exactly(a.archive, in, dir / "edges_out");
    const format::ArchiveReader reader(a.archive);
    const auto& m = reader.metadata();
    ASSERT_EQ(m.channels.size(), 3u * 64);
    EXPECT_FALSE(m.channels[0].bit_volts.has_value());
    EXPECT_EQ(m.channels[64].length, 300u);
    EXPECT_EQ(m.channels[128].length, 150u);
    // Channel 9 sits at frame position 1: bad.bin's is archive channel 64 + 1, by number.
    EXPECT_EQ(window_of(a.archive, "65", 0, 300), channel(bad, 9, 100));
  }
}
