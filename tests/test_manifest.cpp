// Batch manifests: parsing, shards and the archive path of each entry.
#include <gtest/gtest.h>

#include "spikey/host/manifest.hpp"
#include "spikey/host/wav.hpp"
#include "test_support.hpp"

using namespace spikey;
namespace fs = std::filesystem;

TEST(Manifest, ParsesInputsOptionsQuotesAndComments) {
  test::TempDir dir;
  const std::string text =
      "# recordings of 2026\n"
      "\n"
      "a.wav\n"
      "  /data/rig 2/b.bin --raw-channels 32\n"
      "\"/data/rig 2/c.bin\" --raw-channels 32 --raw-rate 30000\n"
      "sessions/day1/   --level max\r\n";
  test::write_file(dir / "m.txt", std::vector<std::uint8_t>(text.begin(), text.end()));
  const auto entries = host::read_manifest(dir / "m.txt");
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].line, 3u);
  EXPECT_EQ(entries[0].input, (fs::absolute(dir.path()) / "a.wav").lexically_normal());  // relative to the manifest
  EXPECT_TRUE(entries[0].options.empty());
  EXPECT_EQ(entries[1].input, fs::path("/data/rig"));  // unquoted blanks split tokens
  EXPECT_EQ(entries[1].options, (std::vector<std::string>{"2/b.bin", "--raw-channels", "32"}));
  EXPECT_EQ(entries[2].input, fs::path("/data/rig 2/c.bin"));
  EXPECT_EQ(entries[2].options, (std::vector<std::string>{"--raw-channels", "32", "--raw-rate", "30000"}));
  EXPECT_EQ(entries[3].input, (fs::absolute(dir.path()) / "sessions" / "day1").lexically_normal());
  EXPECT_EQ(entries[3].options, (std::vector<std::string>{"--level", "max"}));

  test::write_file(dir / "bad.txt", {'"', 'x', '\n'});
  EXPECT_THROW(host::read_manifest(dir / "bad.txt"), host::InputError);
  EXPECT_THROW(host::read_manifest(dir / "missing.txt"), host::InputError);
}

TEST(Manifest, ShardsPartitionTheEntries) {
  for (std::size_t n = 1; n <= 7; ++n) {
    std::vector<int> taken(23, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const host::Shard shard = host::parse_shard(std::to_string(i) + "/" + std::to_string(n));
      for (std::size_t p = 0; p < taken.size(); ++p) taken[p] += shard.contains(p);
    }
    for (int t : taken) EXPECT_EQ(t, 1) << "every entry in exactly one of " << n << " shards";
  }
  for (const char* bad : {"", "1", "4/4", "-1/4", "1/0", "a/b", "1/4x", "0/99999999999"})
    EXPECT_THROW(host::parse_shard(bad), std::invalid_argument) << bad;
}

TEST(Manifest, ArchivePathsAreStableAndDistinct) {
  const fs::path root = "/archive";
  EXPECT_EQ(host::archive_path_for(root, "/data/rig/a.wav"), fs::path("/archive/data/rig/a.wav.spikey"));
  EXPECT_EQ(host::archive_path_for(root, "/data/rig/../rig/a.wav"), fs::path("/archive/data/rig/a.wav.spikey"));
  EXPECT_NE(host::archive_path_for(root, "/data/a.wav"), host::archive_path_for(root, "/data/a"));
  EXPECT_EQ(host::archive_path_for(root, "/data/session"), fs::path("/archive/data/session.spikey"));
  EXPECT_EQ(host::report_path_for("/archive/data/a.wav.spikey"), fs::path("/archive/data/a.wav.spikey.json"));
}
