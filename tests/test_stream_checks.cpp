// Format version 10's stream checks (SPEC.md §6.3, §8): damage inside one channel's stream is
// found by any read of that channel (a window of a few channels too, even when the payload
// checksum was recomputed to hide it), costs only that channel and the channels decoded from
// it, and salvage reports exactly those (chunk, channel) ranges.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "spikey/format/archive_reader.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/chunk_payload.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "spikey/host/salvage.hpp"
#include "spikey/host/window.hpp"
#include "test_support.hpp"

using namespace spikey;
namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t kChannels = 32;
constexpr std::uint64_t kDamagedChunk = 1;

// The bundled 32-channel Open Ephys/Intan slice (6000 samples) in 0.05 s chunks: 4 chunks.
struct Sample {
  fs::path archive;
  std::vector<std::int16_t> interleaved;  // the original samples, frame after frame
  std::int16_t at(std::uint64_t t, std::uint32_t c) const { return interleaved[t * kChannels + c]; }
};

Sample make_sample(const test::TempDir& dir, const std::string& level, double chunk_seconds = 0.05) {
  const fs::path raw = test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat";
  Sample s;
  const auto bytes = test::read_file(raw);
  s.interleaved.resize(bytes.size() / 2);
  std::memcpy(s.interleaved.data(), bytes.data(), s.interleaved.size() * 2);
  const auto recording = host::Recording::open({raw}, host::InputOptions{kChannels, 30000.0}, [](const std::string&) {});
  host::EncodeOptions options;
  options.level = level;
  options.chunk_seconds = chunk_seconds;
  s.archive = dir / ("c-" + level + ".spikey");
  host::compress(recording, s.archive, options);
  return s;
}

// File offset and size of `channel`'s stream in `chunk`.
std::pair<std::uint64_t, std::uint64_t> stream_position(const format::ArchiveReader& reader, std::uint64_t chunk, std::uint32_t channel) {
  const auto payload = reader.read_payload(chunk);
  const auto& meta = reader.metadata();
  const auto present = format::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
  const auto dir = format::parse_payload_directory(payload, present.channel.size(), chunk, 0, reader.format_version());
  const auto p = static_cast<std::size_t>(present.position(channel));
  return {reader.payload_offset(chunk) + dir.stream_offset[p], dir.stream_size[p]};
}

// Recomputes the frame's payload checksum of `chunk` after the payload was changed on purpose.
void rechecksum_payload(std::vector<std::uint8_t>& bytes, const format::ArchiveReader& reader, std::uint64_t chunk) {
  const std::uint64_t at = reader.payload_offset(chunk), size = reader.index()[chunk].payload_size;
  const std::uint64_t sum = format::checksum64({bytes.data() + at, size});
  std::memcpy(bytes.data() + reader.index()[chunk].record_offset + 12, &sum, 8);
}

// Channels whose window over the damaged chunk fails, and a check that every other channel's
// window equals the originals.
std::vector<std::uint32_t> channels_that_fail(const format::ArchiveReader& reader, const Sample& s) {
  const auto& meta = reader.metadata();
  const std::uint64_t first = meta.chunk_first_sample(kDamagedChunk), end = first + meta.chunk_sample_count(kDamagedChunk);
  std::vector<std::uint32_t> failed;
  for (std::uint32_t c = 0; c < kChannels; ++c) {
    try {
      const auto window = host::read_window(reader, host::resolve_window(meta, first, end, {c}), 1);
      for (std::uint64_t t = first; t < end; ++t) EXPECT_EQ(window[t - first], s.at(t, c)) << "channel " << c << " sample " << t;
    } catch (const format::ArchiveError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("chunk " + std::to_string(kDamagedChunk)), std::string::npos) << message;
      failed.push_back(c);
    }
  }
  return failed;
}

// The restored file `rebuilt` holds the original samples, and zeros for `lost` channels in
// samples [first, end).
void expect_restored_with_zeros(const fs::path& rebuilt_file, const Sample& s, std::uint64_t first, std::uint64_t end,
                                const std::vector<std::uint32_t>& lost) {
  const auto rebuilt = test::read_file(rebuilt_file);
  ASSERT_EQ(rebuilt.size(), s.interleaved.size() * 2);
  for (std::uint64_t t = 0; t < s.interleaved.size() / kChannels; ++t) {
    for (std::uint32_t c = 0; c < kChannels; ++c) {
      std::int16_t v;
      std::memcpy(&v, rebuilt.data() + 2 * (t * kChannels + c), 2);
      const bool zero = t >= first && t < end && std::ranges::binary_search(lost, c);
      ASSERT_EQ(v, zero ? 0 : s.at(t, c)) << "sample " << t << " channel " << c;
    }
  }
}

class StreamChecks : public ::testing::TestWithParam<std::string> {};

}  // namespace

// One damaged byte inside one stream, with the payload checksum recomputed to hide it: a window
// of that channel is refused (it used to come back wrong with exit 0), every channel that does
// not depend on it still reads exactly, and salvage keeps all of those and names the rest.
TEST_P(StreamChecks, DamageInOneStreamCostsThatChannelAndItsDependentsOnly) {
  test::TempDir dir;
  const Sample s = make_sample(dir, GetParam());
  const format::ArchiveReader intact(s.archive);
  ASSERT_EQ(intact.format_version(), format::kFormatVersion);
  for (const bool rechecksum : {true, false}) {
    SCOPED_TRACE(rechecksum ? "payload checksum recomputed" : "payload checksum left failing");
    for (const std::uint32_t target : {0u, 13u, 31u}) {
      SCOPED_TRACE("damaged channel " + std::to_string(target));
      auto bytes = test::read_file(s.archive);
      const auto [offset, size] = stream_position(intact, kDamagedChunk, target);
      ASSERT_GT(size, 8u);
      bytes[offset + size / 2] ^= 0x5a;
      if (rechecksum) rechecksum_payload(bytes, intact, kDamagedChunk);
      test::write_file(dir / "bad.spikey", bytes);
      const format::ArchiveReader reader(dir / "bad.spikey");
      const auto failed = channels_that_fail(reader, s);
      EXPECT_TRUE(std::ranges::binary_search(failed, target)) << "the damaged channel itself was served";
      EXPECT_LT(failed.size(), std::size_t{kChannels}) << "damage in one stream cost the whole chunk";
      // The other chunks are untouched; a full decode refuses the damaged one.
      EXPECT_NO_THROW(host::decode_chunk(reader, kDamagedChunk + 1));
      EXPECT_THROW(host::decode_chunk(reader, kDamagedChunk), format::ArchiveError);

      // Salvage keeps every channel that reads, loses exactly the ones that do not.
      const auto report = host::salvage_archive(dir / "bad.spikey", dir / "saved.spikey", {true, 2});
      EXPECT_EQ(report.lost, 0u);
      EXPECT_EQ(report.partial, 1u);
      EXPECT_EQ(report.recovered, intact.index().size() - 1);
      ASSERT_EQ(report.lost_ranges.size(), 1u);
      EXPECT_EQ(report.lost_ranges[0].first_chunk, kDamagedChunk);
      EXPECT_EQ(report.lost_ranges[0].end_chunk, kDamagedChunk + 1);
      EXPECT_EQ(report.lost_ranges[0].channels, failed);
      EXPECT_EQ(report.lost_streams, failed.size());

      const format::ArchiveReader saved(dir / "saved.spikey");
      EXPECT_TRUE(saved.damage().empty());
      const auto& meta = saved.metadata();
      const std::uint64_t first = meta.chunk_first_sample(kDamagedChunk), end = first + meta.chunk_sample_count(kDamagedChunk);
      for (std::uint32_t c = 0; c < kChannels; ++c) {
        const auto window = host::resolve_window(meta, first, end, {c});
        if (std::ranges::binary_search(failed, c)) {
          try {
            host::read_window(saved, window, 1);
            ADD_FAILURE() << "lost channel " << c << " was served";
          } catch (const format::LostChunkError& e) {
            EXPECT_NE(std::string(e.what()).find("channel " + std::to_string(c) + " in chunk " + std::to_string(kDamagedChunk)),
                      std::string::npos)
                << e.what();
          }
          continue;
        }
        const auto got = host::read_window(saved, window, 1);
        for (std::uint64_t t = first; t < end; ++t) ASSERT_EQ(got[t - first], s.at(t, c)) << "channel " << c;
      }
      // A full restore needs --fill-lost, and then writes zeros for the lost channels only.
      EXPECT_THROW(host::restore_sources(saved, {}), format::LostChunkError);
      host::RestoreOptions fill;
      fill.fill_lost = true;
      fill.output_directory = dir / "r";
      fill.force = true;
      const auto restored = host::restore_sources(saved, fill);
      EXPECT_EQ(restored.lost_streams, failed.size());
      ASSERT_EQ(restored.incomplete_files.size(), 1u);
      expect_restored_with_zeros(dir / "r" / "cinpla32_30kHz_first6000.dat", s, first, end, failed);
      // Salvaging the salvaged archive keeps its lost streams lost and changes nothing.
      const auto again = host::salvage_archive(dir / "saved.spikey", dir / "again.spikey", {true, 1});
      EXPECT_EQ(again.lost_ranges[0].channels, failed);
      EXPECT_EQ(test::read_file(dir / "again.spikey"), test::read_file(dir / "saved.spikey"));
    }
  }
}

// The whole-archive readers reuse chunks' sample buffers (SampleBuffers): a lost stream late in
// a long archive is zeros in the restored file, not the samples an earlier chunk left in the
// buffer, on one thread and on several.
TEST(StreamChecksRestore, ALostStreamLateInALongArchiveRestoresAsZeros) {
  test::TempDir dir;
  const Sample s = make_sample(dir, "fast", 0.004);  // 120 samples a chunk: 50 chunks
  const format::ArchiveReader intact(s.archive);
  ASSERT_EQ(intact.index().size(), 50u);
  constexpr std::uint64_t kLateChunk = 41;
  constexpr std::uint32_t kTarget = 5;
  auto bytes = test::read_file(s.archive);
  const auto [offset, size] = stream_position(intact, kLateChunk, kTarget);
  ASSERT_GT(size, 4u);
  bytes[offset + size / 2] ^= 0x5a;
  rechecksum_payload(bytes, intact, kLateChunk);
  test::write_file(dir / "bad.spikey", bytes);
  const auto report = host::salvage_archive(dir / "bad.spikey", dir / "saved.spikey", {true, 1});
  ASSERT_EQ(report.lost_ranges.size(), 1u);
  const std::vector<std::uint32_t> lost = report.lost_ranges[0].channels;
  ASSERT_TRUE(std::ranges::binary_search(lost, kTarget));
  const format::ArchiveReader saved(dir / "saved.spikey");
  const std::uint64_t first = saved.metadata().chunk_first_sample(kLateChunk), end = first + saved.metadata().chunk_sample_count(kLateChunk);
  for (const unsigned threads : {1u, 2u, 3u}) {
    SCOPED_TRACE(std::to_string(threads) + " thread(s)");
    host::RestoreOptions fill;
    fill.fill_lost = true;
    fill.output_directory = dir / "r";
    fill.force = true;
    fill.threads = threads;
    host::restore_sources(saved, fill);
    expect_restored_with_zeros(dir / "r" / "cinpla32_30kHz_first6000.dat", s, first, end, lost);
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, StreamChecks, ::testing::Values("fast", "default", "max"));

// Each channel's check is the low 32 bits of the XXH3-64 of its samples in the chunk (§6.3).
TEST(StreamChecksFormat, ChecksAreTheChannelsSampleChecksums) {
  test::TempDir dir;
  const Sample s = make_sample(dir, "fast");
  const format::ArchiveReader reader(s.archive);
  const auto& meta = reader.metadata();
  for (std::uint64_t chunk = 0; chunk < reader.index().size(); ++chunk) {
    const auto payload = reader.read_payload(chunk);
    const auto present = format::channels_in_chunk(meta, meta.chunk_first_sample(chunk), meta.chunk_sample_count(chunk));
    const auto directory = format::parse_payload_directory(payload, present.channel.size(), chunk, 0, reader.format_version());
    ASSERT_TRUE(directory.checked());
    for (std::size_t p = 0; p < present.channel.size(); ++p) {
      std::vector<std::int16_t> samples;
      for (std::uint64_t t = meta.chunk_first_sample(chunk); t < meta.chunk_first_sample(chunk) + present.sample_count[p]; ++t)
        samples.push_back(s.at(t, present.channel[p]));
      EXPECT_EQ(directory.stream_check[p], static_cast<std::uint32_t>(format::checksum64({reinterpret_cast<const std::uint8_t*>(samples.data()), samples.size() * 2})));
    }
  }
  // An empty stream with a non-zero check is malformed.
  const std::vector<std::span<const std::uint8_t>> streams(2);
  EXPECT_THROW(format::assemble_checked_payload(streams, std::vector<std::uint32_t>{0, 7}), std::logic_error);
}

// The checks of any range of channels (what an encoder's threads compute in parts) are those of
// the whole chunk's channels; a range past the counts, or counts past the samples, is refused;
// a payload assembled from checks refuses an empty stream.
TEST(StreamChecksFormat, ChecksOfAnyRangeOfChannelsAreTheWholeChunks) {
  const auto bytes = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  std::vector<std::int16_t> samples(bytes.size() / 2);
  std::memcpy(samples.data(), bytes.data(), samples.size() * 2);
  const std::vector<std::uint32_t> counts = {1, 999, 0, 3000, 2000};  // channel after channel, 6000 samples
  std::vector<std::uint32_t> whole(counts.size());
  format::stream_checks(samples, counts, 0, counts.size(), whole);
  std::size_t position = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    EXPECT_EQ(whole[i], format::stream_check_of(std::span<const std::int16_t>(samples).subspan(position, counts[i]))) << "channel " << i;
    position += counts[i];
  }
  for (std::size_t first = 0; first <= counts.size(); ++first)
    for (std::size_t end = first; end <= counts.size(); ++end) {
      std::vector<std::uint32_t> part(counts.size(), 0xdeadbeefu);
      format::stream_checks(samples, counts, first, end, part);
      for (std::size_t i = 0; i < counts.size(); ++i)
        EXPECT_EQ(part[i], i >= first && i < end ? whole[i] : 0xdeadbeefu) << "channels [" << first << ", " << end << "), channel " << i;
    }
  std::vector<std::uint32_t> checks(counts.size());
  EXPECT_THROW(format::stream_checks(samples, counts, 0, counts.size() + 1, checks), std::logic_error);
  EXPECT_THROW(format::stream_checks(std::span<const std::int16_t>(samples).first(5999), counts, 4, 5, checks), std::logic_error);
  const std::vector<std::uint8_t> stream = {1, 2, 3};
  const std::vector<std::span<const std::uint8_t>> streams = {stream, {}};
  EXPECT_THROW(format::assemble_payload(streams, std::vector<std::uint32_t>{1, 0}), std::logic_error);
}
