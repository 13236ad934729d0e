// The shared format math gives the same results on the host and in CUDA kernels, on real
// N1 samples and at awkward values (cuCollections-style host/device checks).
#include <gtest/gtest.h>

#include <limits>

#include "gpu_support.hpp"
#include "cuda/shared_math_probe.hpp"
#include "spikey/format/codecs/cm/cm_stream.hpp"
#include "spikey/format/codecs/common/golomb_stream.hpp"
#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/value_map.hpp"
#include "spikey/format/codecs/common/zigzag.hpp"
#include "test_support.hpp"

using namespace spikey;

namespace {

struct Inputs {
  std::vector<std::int32_t> residuals;
  std::vector<std::int16_t> values;
  std::vector<std::uint32_t> folded;
  std::vector<std::int32_t> codes;
};

Inputs real_inputs(std::size_t sample_count) {
  const auto wav = test::read_file(test::samples_dir() / "neuralink" / "3830d316-1af4-4496-be1a-553298450516.wav");
  const auto* samples = reinterpret_cast<const std::int16_t*>(wav.data() + 44);
  const std::size_t n = std::min(sample_count, (wav.size() - 44) / 2);
  Inputs in;
  in.values.assign(samples, samples + n);
  in.values.insert(in.values.end(), {-32768, 32767, 0, -1, 1});
  const format::ValueMap n1{format::ValueMapKind::n1_10bit};
  for (std::size_t t = 0; t < n; ++t) in.codes.push_back(format::value_to_code(n1, samples[t]));
  for (std::size_t t = 1; t < n; ++t) in.residuals.push_back(in.codes[t] - in.codes[t - 1]);
  in.residuals.insert(in.residuals.end(), {std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max(), 0});
  for (const auto r : in.residuals) in.folded.push_back(format::zigzag_encode(r));
  return in;
}

}  // namespace

TEST(GpuSharedMath, DeviceMatchesHostAtAwkwardSizes) {
  SPIKEY_REQUIRE_DEVICE_OR_SKIP();
  for (std::size_t n : {1u, 2u, 31u, 32u, 33u, 255u, 256u, 257u, 1000u, 1001u, 20000u}) {
    SCOPED_TRACE(n);
    const Inputs in = real_inputs(n);
    const auto host = cuda::evaluate_shared_math_on_host(in.residuals, in.values, in.folded, in.codes);
    const auto device = cuda::evaluate_shared_math_on_device(in.residuals, in.values, in.folded, in.codes);
    EXPECT_EQ(device.zigzag, host.zigzag);
    EXPECT_EQ(device.n1_codes, host.n1_codes);
    EXPECT_EQ(device.n1_values, host.n1_values);
    EXPECT_EQ(device.rice_bits, host.rice_bits);
    EXPECT_EQ(device.partition_parameter, host.partition_parameter);
    EXPECT_EQ(device.channel_stream, host.channel_stream);
    EXPECT_EQ(device.golomb_bits, host.golomb_bits);
    EXPECT_EQ(device.golomb_index, host.golomb_index);
    EXPECT_EQ(device.lpc_stream, host.lpc_stream);
    EXPECT_EQ(device.cm_stream, host.cm_stream);
  }
}

TEST(GpuSharedMath, HostReferenceIsSelfConsistent) {
  // Runs everywhere: the host half of the probe equals the format functions called directly.
  const Inputs in = real_inputs(3000);
  const auto host = cuda::evaluate_shared_math_on_host(in.residuals, in.values, in.folded, in.codes);
  ASSERT_EQ(host.zigzag.size(), in.residuals.size());
  for (std::size_t i = 0; i < in.residuals.size(); ++i) ASSERT_EQ(host.zigzag[i], format::zigzag_encode(in.residuals[i]));
  EXPECT_EQ(host.n1_values[0], -32768);
  EXPECT_EQ(host.n1_values[1023], 32767);
  EXPECT_FALSE(host.channel_stream.empty());
  EXPECT_FALSE(host.lpc_stream.empty());
  EXPECT_GT(host.cm_stream.size(), format::kCmStreamHeaderBytes);
  // The probe's lpc1 stream decodes back to the codes (the probe exercises a real stream).
  std::int32_t first = 0;
  bool adapt = false;
  std::vector<std::uint32_t> folded(in.codes.size());
  ASSERT_TRUE(format::decode_golomb_stream_residuals(reinterpret_cast<const std::uint8_t*>(host.lpc_stream.data()), host.lpc_stream.size() * 4ull,
                                                  static_cast<std::uint32_t>(in.codes.size()), 256, &first, &adapt, folded.data()));
  EXPECT_TRUE(adapt);
  EXPECT_EQ(first, in.codes[0]);
}
