// Container records and metadata (SPEC.md §3–§4).
#include <gtest/gtest.h>

#include <functional>

#include "spikey/format/archive.hpp"
#include "spikey/format/checksum.hpp"
#include "test_support.hpp"

#include <zstd.h>

using namespace spikey::format;

namespace {

MetadataSection sample_section() {
  MetadataSection s;
  Metadata& m = s.metadata;
  m.encoder = "spikey test";
  m.sample_rate = 30000;
  m.total_samples = 100;
  m.chunk_samples = 30;
  m.level = "fast";
  s.verbatim = {1, 2, 3, 4, 5, 6, 7};
  SourceFile a;
  a.path = "dir/a.wav";
  a.kind = SourceKind::wav;
  a.channel_count = 2;
  a.first_channel = 0;
  a.frames = 100;
  a.prefix = {0, 4};
  a.suffix = {4, 1};
  a.size = 4 + 100 * 2 * 2 + 1;
  a.checksum = 0x0123456789abcdefull;
  SourceFile b;
  b.path = "b.bin";
  b.kind = SourceKind::raw;
  b.channel_count = 1;
  b.first_channel = 2;
  b.frames = 40;
  b.prefix = {7, 0};
  b.suffix = {5, 2};
  b.size = 40 * 2 + 2;
  m.sources = {a, b};
  m.channels = {{"a:0", 0, 100, {ValueMapKind::n1_10bit}},
                {"a:1", 0, 100, {ValueMapKind::affine, 12, 3}},
                {"b.bin", 1, 40, {ValueMapKind::identity}}};
  return s;
}

}  // namespace

TEST(FileHeader, RoundTripsAndRejectsDamage) {
  FileHeader h;
  h.metadata_size = 1234;
  h.metadata_checksum = 99;
  auto bytes = serialize(h);
  ASSERT_EQ(bytes.size(), kFileHeaderSize);
  const auto parsed = parse_file_header(bytes);
  EXPECT_EQ(parsed.metadata_size, 1234u);
  EXPECT_EQ(parsed.metadata_checksum, 99u);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto damaged = bytes;
    damaged[i] ^= 0x40;
    EXPECT_THROW(parse_file_header(damaged), ArchiveError) << "byte " << i;
  }
}

TEST(FileHeader, RejectsNewerVersionsClearly) {
  FileHeader h;
  h.format_version = kFormatVersion + 1;
  try {
    parse_file_header(serialize(h));
    FAIL() << "accepted a future version";
  } catch (const ArchiveError& e) {
    EXPECT_NE(std::string(e.what()).find("not supported"), std::string::npos);
  }
}

TEST(Footer, RoundTripsAndRejectsDamage) {
  Footer f{1000, 3, 42, 0};
  auto bytes = serialize(f);
  ASSERT_EQ(bytes.size(), kFooterSize);
  const auto parsed = parse_footer(bytes);
  EXPECT_EQ(parsed.index_offset, 1000u);
  EXPECT_EQ(parsed.chunk_count, 3u);
  EXPECT_EQ(parsed.index_checksum, 42u);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto damaged = bytes;
    damaged[i] ^= 1;
    EXPECT_THROW(parse_footer(damaged), ArchiveError) << "byte " << i;
  }
}

TEST(Index, Version4StoresSizesAndSampleChecksumsOnly) {
  std::vector<IndexEntry> entries = {{0, 30, 100, 50, 1, 2}, {30, 30, 150, 60, 3, 4}, {60, 10, 210, 7, 5, 6}};
  const auto bytes = serialize_index(entries, 4);
  ASSERT_EQ(bytes.size(), 3 * kIndexEntrySizeV4);
  const auto parsed = parse_index(bytes, 4);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[2].payload_size, 7u);
  EXPECT_EQ(parsed[2].samples_checksum, 6u);
  EXPECT_EQ(parsed[2].record_offset, 0u) << "offsets are the reader's to derive";
  EXPECT_THROW(parse_index(std::span(bytes).first(bytes.size() - 1), 4), ArchiveError);
}

TEST(Index, Version3RoundTrips) {
  std::vector<IndexEntry> entries = {{0, 30, 100, 50, 1, 2}, {30, 30, 190, 60, 3, 4}, {60, 10, 290, 7, 5, 6}};
  const auto bytes = serialize_index(entries, 3);
  ASSERT_EQ(bytes.size(), 3 * kIndexEntrySize);
  const auto parsed = parse_index(bytes, 3);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[2].first_sample, 60u);
  EXPECT_EQ(parsed[2].sample_count, 10u);
  EXPECT_EQ(parsed[2].record_offset, 290u);
  EXPECT_EQ(parsed[2].payload_size, 7u);
  EXPECT_EQ(parsed[2].payload_checksum, 5u);
  EXPECT_EQ(parsed[2].samples_checksum, 6u);
}

TEST(ChunkHeader, Version4FrameRoundTrips) {
  ChunkHeader h{7, 210, 30, 999, 0xabcdef};
  const auto bytes = serialize(h, 4);
  ASSERT_EQ(bytes.size(), kChunkFrameSize);
  const auto p = parse_chunk_header(bytes, 0, 4);
  EXPECT_EQ(p.chunk_index, 7u);
  EXPECT_EQ(p.payload_size, 999u);
  EXPECT_EQ(p.payload_checksum, 0xabcdefu);
  auto damaged = bytes;
  damaged[1] ^= 1;
  EXPECT_THROW(parse_chunk_header(damaged, 0, 4), ArchiveError);
}

TEST(ChunkHeader, Version3RoundTrips) {
  ChunkHeader h{7, 210, 30, 999, 0xabcdef};
  const auto bytes = serialize(h, 3);
  ASSERT_EQ(bytes.size(), kChunkHeaderSize);
  const auto p = parse_chunk_header(bytes, 0, 3);
  EXPECT_EQ(p.chunk_index, 7u);
  EXPECT_EQ(p.first_sample, 210u);
  EXPECT_EQ(p.sample_count, 30u);
  EXPECT_EQ(p.payload_size, 999u);
  EXPECT_EQ(p.payload_checksum, 0xabcdefu);
}

TEST(Metadata, RoundTripsEveryField) {
  const auto section = sample_section();
  const auto parsed = parse_metadata_section(serialize(section));
  const Metadata& m = parsed.metadata;
  EXPECT_EQ(parsed.verbatim, section.verbatim);
  EXPECT_EQ(m.encoder, "spikey test");
  EXPECT_EQ(m.sample_rate, 30000);
  EXPECT_EQ(m.total_samples, 100u);
  EXPECT_EQ(m.chunk_samples, 30u);
  EXPECT_EQ(m.chunk_count(), 4u);
  EXPECT_EQ(m.chunk_sample_count(3), 10u);
  EXPECT_EQ(m.level, "fast");
  ASSERT_EQ(m.channels.size(), 3u);
  EXPECT_EQ(m.channels[1].value_map.kind, ValueMapKind::affine);
  EXPECT_EQ(m.channels[1].value_map.step, 12);
  EXPECT_EQ(m.channels[1].value_map.offset, 3);
  EXPECT_EQ(m.channels[0].value_map.kind, ValueMapKind::n1_10bit);
  ASSERT_EQ(m.sources.size(), 2u);
  EXPECT_EQ(m.sources[0].path, "dir/a.wav");
  EXPECT_EQ(m.sources[0].checksum, 0x0123456789abcdefull);
  EXPECT_EQ(m.sources[1].kind, SourceKind::raw);
  EXPECT_EQ(m.sources[1].suffix.offset, 5u);
  EXPECT_EQ(m.original_bytes(), m.sources[0].size + m.sources[1].size);
}

TEST(Metadata, RejectsUnsafeRestorePaths) {
  for (const char* path : {"../evil.wav", "/etc/passwd", "a/../../b.wav", "", "a//b.wav", "./a.wav", "a\\b.wav"}) {
    auto section = sample_section();
    section.metadata.sources[1].path = path;
    EXPECT_THROW(parse_metadata_section(serialize(section)), ArchiveError) << path;
  }
}

TEST(Metadata, RejectsInconsistentFields) {
  auto bad_size = sample_section();
  bad_size.metadata.sources[0].size += 1;
  EXPECT_THROW(parse_metadata_section(serialize(bad_size)), ArchiveError);

  auto bad_length = sample_section();
  bad_length.metadata.channels[1].length = 99;
  EXPECT_THROW(parse_metadata_section(serialize(bad_length)), ArchiveError);

  auto bad_total = sample_section();
  bad_total.metadata.total_samples = 101;
  EXPECT_THROW(parse_metadata_section(serialize(bad_total)), ArchiveError);

  auto bad_codec = sample_section();
  bad_codec.metadata.codec.name = "rice9";
  EXPECT_THROW(parse_metadata_section(serialize(bad_codec)), ArchiveError);

  auto bad_range = sample_section();
  bad_range.metadata.sources[1].suffix = {6, 2};
  EXPECT_THROW(parse_metadata_section(serialize(bad_range)), ArchiveError);

  auto duplicate = sample_section();
  duplicate.metadata.sources[1].path = "dir/a.wav";
  EXPECT_THROW(parse_metadata_section(serialize(duplicate)), ArchiveError);
}

// The encoder checks its section with check_metadata_section, before coding and without zstd:
// it must refuse exactly what a reader of the stored section refuses, with the same message.
TEST(Metadata, CheckingASectionAgreesWithReadingItBack) {
  EXPECT_NO_THROW(check_metadata_section(sample_section()));
  const std::vector<std::function<void(Metadata&)>> damages = {
      [](Metadata& m) { m.sources[0].size += 1; },       [](Metadata& m) { m.channels[1].length = 99; },
      [](Metadata& m) { m.total_samples = 101; },        [](Metadata& m) { m.codec.name = "rice9"; },
      [](Metadata& m) { m.sources[1].suffix = {6, 2}; }, [](Metadata& m) { m.sources[1].path = "../evil.wav"; },
      [](Metadata& m) { m.sources[1].path = "dir/a.wav"; }};
  for (std::size_t i = 0; i < damages.size(); ++i) {
    auto section = sample_section();
    damages[i](section.metadata);
    std::string read_back, checked;
    try {
      parse_metadata_section(serialize(section));
    } catch (const ArchiveError& e) {
      read_back = e.what();
    }
    try {
      check_metadata_section(section);
    } catch (const ArchiveError& e) {
      checked = e.what();
    }
    EXPECT_FALSE(read_back.empty()) << "damage " << i;
    EXPECT_EQ(checked, read_back) << "damage " << i;
  }
}

// A hostile archive cannot make a reader allocate beyond 2^28 samples for one chunk: a chunk's
// length (at most the recording's) times the channel count is bounded.
TEST(Metadata, BoundsTheSamplesOfOneChunk) {
  auto huge = sample_section();
  Metadata& m = huge.metadata;
  const std::uint64_t length = std::uint64_t{1} << 27;  // one chunk of it over 3 channels: 1.5 x 2^28
  m.chunk_samples = 0xffffffffu;
  m.total_samples = length;
  for (auto& c : m.channels) c.length = length;
  m.sources[0].frames = m.sources[1].frames = length;
  m.sources[0].size = 4 + length * 4 + 1;
  m.sources[1].size = length * 2 + 2;
  try {
    parse_metadata_section(serialize(huge));
    ADD_FAILURE() << "accepted";
  } catch (const ArchiveError& e) {
    EXPECT_NE(std::string(e.what()).find("2^28"), std::string::npos) << e.what();
  }
  m.chunk_samples = 1u << 20;  // 3 x 2^20 per chunk: within the bound
  EXPECT_NO_THROW(parse_metadata_section(serialize(huge)));
}

// Format 15 (SPEC §3.3): a section in several zstd frames reads back whole, or by its first
// frame (the JSON and what it holds of the verbatim bytes) and then the rest; version 14 takes
// one frame only; the JSON must lie in the first frame, and no frame may be empty.
TEST(Metadata, SeveralFramesReadBackAsOneSection) {
  auto section = sample_section();
  const auto real = spikey::test::read_file(spikey::test::samples_dir() / "neuralynx" / "CSC1_truncated.ncs");  // bytes beyond the ranges
  section.verbatim.insert(section.verbatim.end(), real.begin(), real.end());
  const std::vector<std::uint8_t> stored = serialize(section, {10, 1000});
  EXPECT_EQ(serialize(section, {10, 1000, 4}), stored);  // frames compressed on several threads: the same bytes
  EXPECT_EQ(serialize(parse_metadata_section(stored), {10, 1000}), stored);
  EXPECT_EQ(parse_metadata_section(stored).verbatim, section.verbatim);
  MetadataHead head = parse_metadata_head(stored);
  EXPECT_EQ(head.section.verbatim, std::vector<std::uint8_t>(section.verbatim.begin(), section.verbatim.begin() + 10));
  EXPECT_EQ(head.verbatim_size, section.verbatim.size());
  load_metadata_frames(head.section.verbatim, head.verbatim_size, stored, kFormatVersion);
  EXPECT_EQ(head.section.verbatim, section.verbatim);
  // Salvage finds where the frames end (chunk records follow, which are no zstd frames).
  auto followed = stored;
  for (int i = 0; i < 4; ++i) followed.push_back(static_cast<std::uint8_t>(kChunkMagic >> (8 * i)));
  EXPECT_EQ(find_metadata_section_size(followed), stored.size());
  const std::vector<std::uint8_t> single = serialize(section);
  EXPECT_LT(single.size(), stored.size());
  EXPECT_NO_THROW(parse_metadata_section(single));
  EXPECT_THROW(parse_metadata_section(std::span(stored).first(stored.size() - 1)), ArchiveError);
  EXPECT_THROW(serialize(section, {std::uint64_t{1} << 30, 1000}), std::invalid_argument);
  EXPECT_THROW(serialize(section, {10, 0}), std::invalid_argument);

  // Frames made by hand: the JSON cut across two frames, and an empty frame after a good section.
  const auto frame_of = [](std::span<const std::uint8_t> content) {
    std::vector<std::uint8_t> out(ZSTD_compressBound(content.size()));
    out.resize(ZSTD_compress(out.data(), out.size(), content.data(), content.size(), 3));
    return out;
  };
  const auto fails_with = [](const std::vector<std::uint8_t>& bytes, const std::string& expected) {
    try {
      parse_metadata_section(bytes);
      ADD_FAILURE() << "accepted; expected: " << expected;
    } catch (const ArchiveError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  const std::uint8_t json_size_only[8] = {100, 0, 0, 0, 0, 0, 0, 0};  // the JSON's 100 bytes would be in the next frame
  auto cut = frame_of(json_size_only);
  cut.insert(cut.end(), stored.begin(), stored.end());
  fails_with(cut, "JSON size exceeds the section's first frame");
  auto empty = stored;
  const auto empty_frame = frame_of({});
  empty.insert(empty.end(), empty_frame.begin(), empty_frame.end());
  const std::size_t frames = 1 + (section.verbatim.size() - 10 + 999) / 1000;  // the first, then 1000 bytes each
  fails_with(empty, "zstd frame " + std::to_string(frames) + " is empty");
}

TEST(Metadata, RejectsGarbage) {
  const std::vector<std::uint8_t> garbage = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_THROW(parse_metadata_section(garbage), ArchiveError);
  EXPECT_THROW(parse_metadata_section({}), ArchiveError);
}

TEST(Checksum, StreamingEqualsOneShot) {
  std::vector<std::uint8_t> data(10000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
  StreamingChecksum s;
  s.update(std::span(data).first(1));
  s.update(std::span(data).subspan(1, 4000));
  s.update(std::span(data).subspan(4001));
  EXPECT_EQ(s.digest(), checksum64(data));
  EXPECT_EQ(checksum_hex(0xabc), "0000000000000abc");
}
