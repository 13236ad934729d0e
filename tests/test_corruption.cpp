// Damaged archives: every single-byte change and every truncation of a small real archive is
// detected, by opening and fully decoding it, without a crash and without returning samples.
#include <gtest/gtest.h>

#include "spikey/format/archive_reader.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/encoder.hpp"
#include "spikey/host/recording.hpp"
#include "test_support.hpp"

using namespace spikey;
namespace fs = std::filesystem;

namespace {

// A small archive of real N1 samples: 2 files x 1000 samples, 0.025 s chunks (3 chunks, the
// last of 24 samples). Every level's codec keeps its network stage (lpc1, mt2, cm2), so every
// decoding path is damaged; each byte costs up to 255 full decodes, so the archive stays small.
fs::path make_small_real_archive(const test::TempDir& dir, const std::string& level = "default") {
  const auto wav = test::read_file(test::samples_dir() / "neuralink" / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav");
  const auto* samples = reinterpret_cast<const std::int16_t*>(wav.data() + 44);
  test::write_file(dir / "a.wav", test::make_wav(1, 19531, std::vector<std::int16_t>(samples, samples + 1000)));
  test::write_file(dir / "b.wav", test::make_wav(1, 19531, std::vector<std::int16_t>(samples + 5000, samples + 6000)));
  const auto rec = host::Recording::open({dir / "a.wav", dir / "b.wav"}, {}, [](const std::string&) {});
  host::EncodeOptions options;
  options.chunk_seconds = 0.025;
  options.level = level;
  const fs::path path = dir / ("small-" + level + ".spikey");
  host::compress(rec, path, options);
  return path;
}

// True when the damage in the archive `bytes` is found somewhere between opening and full
// decoding: the archive is rejected, or (version 10) the reader worked around a damaged header,
// metadata section or metadata copy and says so, and then every file must still restore exactly.
bool rejected(std::vector<std::uint8_t> bytes) {
  try {
    const format::ArchiveReader reader(std::move(bytes), "damaged.spikey");
    const auto report = host::restore_sources(reader, host::RestoreOptions{{}, false, 1, {}});
    if (!reader.damage().empty()) EXPECT_TRUE(report.mismatched_files.empty()) << "a worked-around damage restored wrong bytes";
    return !report.mismatched_files.empty() || !reader.damage().empty();
  } catch (const format::ArchiveError&) {
    return true;
  }
}

// Positions at which some change of one byte (to each value in `values`, or XOR with each
// mask in `masks`) was accepted.
std::vector<std::size_t> undetected_changes(const std::vector<std::uint8_t>& original, bool every_value) {
  std::vector<std::size_t> missed;
  for (std::size_t i = 0; i < original.size(); ++i) {
    for (unsigned k = 1; k < (every_value ? 256u : 9u); ++k) {
      auto bytes = original;
      bytes[i] = every_value ? static_cast<std::uint8_t>(original[i] ^ k) : static_cast<std::uint8_t>(original[i] ^ (1u << (k - 1)));
      if (!rejected(std::move(bytes))) {
        missed.push_back(i);
        break;
      }
    }
  }
  return missed;
}

#ifdef SPIKEY_SANITIZED_BUILD
constexpr bool kEveryValue = false;  // the sanitizer build tries the 8 single-bit flips only (time)
#else
constexpr bool kEveryValue = true;
#endif

class CorruptionAtLevel : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST(Corruption, IntactArchiveIsAccepted) {
  test::TempDir dir;
  for (const char* level : {"fast", "default", "max"}) {
    const fs::path path = make_small_real_archive(dir, level);
    EXPECT_FALSE(rejected(test::read_file(path))) << level;
    const format::ArchiveReader reader(path);
    EXPECT_EQ(reader.metadata().chunk_count(), 3u) << level;
    if (std::string(level) != "fast") EXPECT_TRUE(reader.metadata().codec.network.has_value()) << level << ": no network stage to damage";
  }
}

// Every one of the 255 possible changes of every byte of a level-default archive is detected.
TEST(Corruption, EveryChangeOfEveryByteIsDetected) {
  test::TempDir dir;
  const auto original = test::read_file(make_small_real_archive(dir));
  ASSERT_GT(original.size(), 200u);
  const auto missed = undetected_changes(original, kEveryValue);
  EXPECT_TRUE(missed.empty()) << missed.size() << " undetected changes, first at byte " << (missed.empty() ? 0 : missed[0]);
}

// Every single-bit flip at every position, and every truncation, at every level.
TEST_P(CorruptionAtLevel, EveryBitFlipAndTruncationIsDetected) {
  test::TempDir dir;
  const auto original = test::read_file(make_small_real_archive(dir, GetParam()));
  const auto missed = undetected_changes(original, false);
  EXPECT_TRUE(missed.empty()) << missed.size() << " undetected flips, first at byte " << (missed.empty() ? 0 : missed[0]);
  for (std::size_t length = 0; length < original.size(); ++length)
    ASSERT_TRUE(rejected(std::vector<std::uint8_t>(original.begin(), original.begin() + static_cast<std::ptrdiff_t>(length))))
        << "truncated to " << length << " bytes was accepted";
}

INSTANTIATE_TEST_SUITE_P(Levels, CorruptionAtLevel, ::testing::Values("fast", "default", "max"));

TEST(Corruption, MessagesNameTheChunkAndByteOffset) {
  test::TempDir dir;
  const fs::path path = make_small_real_archive(dir);
  auto bytes = test::read_file(path);
  const format::ArchiveReader intact(path);
  const std::uint64_t payload = intact.payload_offset(1);
  bytes[payload + 10] ^= 0x10;
  test::write_file(dir / "bad.spikey", bytes);
  const format::ArchiveReader reader(dir / "bad.spikey");
  try {
    host::decode_chunk(reader, 1);
    FAIL() << "corrupt payload decoded";
  } catch (const format::ArchiveError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("chunk 1"), std::string::npos) << message;
    EXPECT_NE(message.find(std::to_string(payload)), std::string::npos) << message;
  }
  // The other chunks still decode: damage stays local.
  EXPECT_NO_THROW(host::decode_chunk(reader, 0));
  EXPECT_NO_THROW(host::decode_chunk(reader, 2));
}

TEST(Corruption, NotAnArchive) {
  test::TempDir dir;
  test::write_file(dir / "x.spikey", {'h', 'e', 'l', 'l', 'o'});
  EXPECT_THROW(format::ArchiveReader(dir / "x.spikey"), format::ArchiveError);
  test::write_file(dir / "y.spikey", {});
  EXPECT_THROW(format::ArchiveReader(dir / "y.spikey"), format::ArchiveError);
  EXPECT_THROW(format::ArchiveReader(dir / "missing.spikey"), std::runtime_error);
}
