#include "json_fields.hpp"

#include <algorithm>

#include "spikey/format/codecs/lpc/lpc_predictor.hpp"

namespace spikey::format::detail {

const CodecRow& known_codec(const std::string& name) {
  if (const CodecRow* row = find_codec(name)) return *row;
  fail("archive uses codec \"" + name + "\", which this version of spikey cannot decode");
}

std::vector<std::int32_t> weights_from_json(const json& j, const std::string& where) {
  if (!j.is_array()) fail("metadata: " + where + " weights are not an array");
  std::vector<std::int32_t> weights;
  for (const auto& v : j) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < -kMaxLpcWeight || v.get<std::int64_t>() > kMaxLpcWeight)
      fail("metadata: " + where + " has a weight that is not an integer in range");
    weights.push_back(static_cast<std::int32_t>(v.get<std::int64_t>()));
  }
  return weights;
}

bool weights_in_range(const std::vector<std::int32_t>& weights) {
  return std::all_of(weights.begin(), weights.end(), [](std::int32_t w) { return w >= -kMaxLpcWeight && w <= kMaxLpcWeight; });
}

std::string hex_of(const std::vector<std::uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string text;
  for (const std::uint8_t b : bytes) text += digits[b >> 4], text += digits[b & 15];
  return text;
}

std::vector<std::uint8_t> bytes_of_hex(const std::string& text, const std::string& what) {
  if (text.size() % 2 != 0 || text.find_first_not_of("0123456789abcdef") != std::string::npos)
    fail("metadata: " + what + " is not lowercase hex");
  std::vector<std::uint8_t> bytes(text.size() / 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(std::stoul(text.substr(2 * i, 2), nullptr, 16));
  return bytes;
}

}  // namespace spikey::format::detail
