// WAV parsing: which files are accepted, and where their samples are.
#include <gtest/gtest.h>

#include "spikey/format/wire.hpp"
#include "spikey/host/wav.hpp"
#include "test_support.hpp"

using namespace spikey;
using host::InputError;
using host::parse_wav;

namespace {

// Builds a RIFF/WAVE file from raw chunks (id, body), padding odd bodies.
std::vector<std::uint8_t> riff(const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& chunks) {
  std::vector<std::uint8_t> body = {'W', 'A', 'V', 'E'};
  for (const auto& [id, data] : chunks) {
    body.insert(body.end(), id.begin(), id.end());
    std::vector<std::uint8_t> size;
    format::WireWriter(size).u32(static_cast<std::uint32_t>(data.size()));
    body.insert(body.end(), size.begin(), size.end());
    body.insert(body.end(), data.begin(), data.end());
    if (data.size() % 2) body.push_back(0);
  }
  std::vector<std::uint8_t> out = {'R', 'I', 'F', 'F'};
  format::WireWriter(out).u32(static_cast<std::uint32_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::vector<std::uint8_t> fmt_chunk(std::uint16_t tag, std::uint16_t channels, std::uint32_t rate, std::uint16_t bits) {
  std::vector<std::uint8_t> f;
  format::WireWriter w(f);
  w.u16(tag);
  w.u16(channels);
  w.u32(rate);
  w.u32(rate * channels * bits / 8);
  w.u16(static_cast<std::uint16_t>(channels * bits / 8));
  w.u16(bits);
  return f;
}

void expect_rejected(const std::vector<std::uint8_t>& file, const std::string& fragment) {
  try {
    parse_wav(file, "x.wav");
    FAIL() << "accepted; expected an error containing \"" << fragment << "\"";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("x.wav"), std::string::npos) << "message must name the file";
  }
}

}  // namespace

TEST(Wav, CanonicalHeaderRoundTrips) {
  const auto file = test::make_wav(3, 30000, std::vector<std::int16_t>(3 * 10, 5));
  const auto layout = parse_wav(file, "x.wav");
  EXPECT_EQ(layout.channels, 3u);
  EXPECT_EQ(layout.sample_rate, 30000u);
  EXPECT_EQ(layout.frames, 10u);
  EXPECT_EQ(layout.data_offset, file.size() - 60);
}

TEST(Wav, ExtraChunksAndOddSizesAreLocated) {
  const std::vector<std::uint8_t> samples = {1, 0, 2, 0, 3, 0, 4, 0, 5};  // 4 frames + 1 stray byte
  const auto file = riff({{"fmt ", fmt_chunk(1, 2, 8000, 16)}, {"LIST", {'a', 'b', 'c'}}, {"data", samples}, {"cue ", {1, 2, 3, 4}}});
  const auto layout = parse_wav(file, "x.wav");
  EXPECT_EQ(layout.channels, 2u);
  EXPECT_EQ(layout.frames, 2u);  // 9 bytes hold two whole stereo frames
  EXPECT_EQ(layout.data_offset, 12u + 8 + 16 + 8 + 4 + 8);
}

TEST(Wav, DataSizeBeyondTheFileIsClipped) {
  auto file = riff({{"fmt ", fmt_chunk(1, 1, 8000, 16)}, {"data", {1, 0, 2, 0, 3, 0}}});
  file[file.size() - 6 - 4] = 0xff;  // data size field low byte: claims more than the file holds
  const auto layout = parse_wav(file, "x.wav");
  EXPECT_EQ(layout.frames, 3u);
}

// A recorder that stopped before finalizing the header leaves a data size of 0 (or too small)
// with the samples after it: those bytes are "unclaimed" (no chunk starts there), and with
// take_unclaimed they are frames. A real chunk after the data is not unclaimed.
TEST(Wav, UnfinalizedDataSizeIsNoticedAndCanBeRepaired) {
  auto file = riff({{"fmt ", fmt_chunk(1, 2, 8000, 16)}, {"data", {}}});
  const std::vector<std::uint8_t> samples = {1, 0, 2, 0, 3, 0, 4, 0, 0xff, 0xfe, 6, 0, 7};  // 3 stereo frames + 1 stray byte
  file.insert(file.end(), samples.begin(), samples.end());
  auto layout = parse_wav(file, "x.wav");
  EXPECT_EQ(layout.frames, 0u);
  EXPECT_EQ(layout.declared_frames, 0u);
  EXPECT_EQ(layout.unclaimed_bytes, samples.size());
  layout = parse_wav(file, "x.wav", true);
  EXPECT_EQ(layout.frames, 3u);
  EXPECT_EQ(layout.data_offset, 12u + 8 + 16 + 8);

  auto short_size = riff({{"fmt ", fmt_chunk(1, 1, 8000, 16)}, {"data", {1, 0, 2, 0, 3, 0, 4, 0}}});
  short_size[40] = 2;  // declares one frame of four
  layout = parse_wav(short_size, "x.wav", true);
  EXPECT_EQ(layout.declared_frames, 1u);
  EXPECT_EQ(layout.unclaimed_bytes, 6u);
  EXPECT_EQ(layout.frames, 4u);

  const auto finalized = riff({{"fmt ", fmt_chunk(1, 1, 8000, 16)}, {"data", {1, 0, 2, 0}}, {"LIST", {'I', 'N', 'F', 'O'}}});
  layout = parse_wav(finalized, "x.wav", true);
  EXPECT_EQ(layout.unclaimed_bytes, 0u);
  EXPECT_EQ(layout.frames, 2u);
}

TEST(Wav, ExtensiblePcmIsAccepted) {
  const auto file = host::wav_header(5, 20000, 0);
  const auto layout = parse_wav(file, "x.wav");
  EXPECT_EQ(layout.channels, 5u);
  EXPECT_EQ(layout.frames, 0u);
}

TEST(Wav, RejectsWhatIsNotSixteenBitPcm) {
  expect_rejected({}, "empty");
  expect_rejected({'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!'}, "not a WAV");
  expect_rejected(riff({{"fmt ", fmt_chunk(1, 1, 8000, 8)}, {"data", {1, 2}}}), "8-bit");
  expect_rejected(riff({{"fmt ", fmt_chunk(1, 1, 8000, 24)}, {"data", {1, 2, 3}}}), "24-bit");
  expect_rejected(riff({{"fmt ", fmt_chunk(1, 1, 8000, 32)}, {"data", {1, 2, 3, 4}}}), "32-bit");
  expect_rejected(riff({{"fmt ", fmt_chunk(3, 1, 8000, 32)}, {"data", {1, 2, 3, 4}}}), "floating-point");
  expect_rejected(riff({{"fmt ", fmt_chunk(1, 0, 8000, 16)}, {"data", {}}}), "0 channels");
  expect_rejected(riff({{"data", {1, 0}}}), "no fmt chunk before the data chunk at byte 12");
  expect_rejected(riff({{"data", {1, 0}}, {"fmt ", fmt_chunk(1, 1, 8000, 16)}}), "the data chunk (byte 12) comes before the fmt chunk (byte 22)");
  auto long_list = riff({{"fmt ", fmt_chunk(1, 1, 8000, 16)}, {"LIST", {'I', 'N', 'F', 'O'}}, {"data", {1, 0}}});
  long_list[41] = 1;  // the LIST chunk's size (bytes 40-43): 260, past the end of the file
  expect_rejected(long_list, "the \"LIST\" chunk at byte 36 declares 260 bytes, past the end of the file");
  expect_rejected(riff({{"fmt ", fmt_chunk(1, 1, 8000, 16)}}), "no data chunk");
  expect_rejected(riff({{"LIST", {1, 2}}}), "no fmt chunk");
  expect_rejected(riff({{"fmt ", {1, 0, 1, 0}}, {"data", {}}}), "malformed fmt");
  auto rf64 = riff({{"fmt ", fmt_chunk(1, 1, 8000, 16)}, {"data", {}}});
  rf64[0] = 'R', rf64[1] = 'F', rf64[2] = '6', rf64[3] = '4';
  expect_rejected(rf64, "RF64");
}

TEST(Wav, RealNeuralinkFileLayout) {
  const auto file = test::read_file(test::samples_dir() / "neuralink" / "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav");
  ASSERT_FALSE(file.empty());
  const auto layout = parse_wav(file, "n1.wav");
  EXPECT_EQ(layout.channels, 1u);
  EXPECT_EQ(layout.sample_rate, 19531u);
  EXPECT_EQ(layout.data_offset, 44u);
  EXPECT_EQ(layout.frames, (file.size() - 44) / 2);
}
