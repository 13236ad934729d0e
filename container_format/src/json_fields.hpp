// Reading the metadata JSON (SPEC.md §4.3) with every schema problem turned into one ArchiveError
// line, and the small helpers the container and the codec families' parameters share. Internal
// to the format library.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "spikey/format/archive.hpp"
#include "spikey/format/codec_table.hpp"

namespace spikey::format::detail {

using nlohmann::json;

[[noreturn]] inline void fail(const std::string& message) { throw ArchiveError(message); }

// The codec table's row of an archive's codec; an unknown name is an archive this version cannot read.
const CodecRow& known_codec(const std::string& name);

// Typed field access.
template <typename T>
T field(const json& object, const char* key, const std::string& where) {
  if (!object.is_object() || !object.contains(key)) fail("metadata: " + where + " has no \"" + key + "\"");
  const json& v = object.at(key);
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) fail("metadata: " + where + "." + key + " is not a string");
    return v.get<std::string>();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!v.is_number()) fail("metadata: " + where + "." + key + " is not a number");
    return v.get<double>();
  } else if constexpr (std::is_same_v<T, json>) {
    return v;
  } else {
    if (!v.is_number_unsigned()) fail("metadata: " + where + "." + key + " is not a non-negative integer");
    const auto u = v.get<std::uint64_t>();
    if (u > std::numeric_limits<T>::max()) fail("metadata: " + where + "." + key + " is out of range");
    return static_cast<T>(u);
  }
}

// Predictor weights: integers within the predictors' bound (kMaxLpcWeight).
std::vector<std::int32_t> weights_from_json(const json& j, const std::string& where);
bool weights_in_range(const std::vector<std::int32_t>& weights);

// Byte strings as lowercase hex.
std::string hex_of(const std::vector<std::uint8_t>& bytes);
std::vector<std::uint8_t> bytes_of_hex(const std::string& text, const std::string& what);

}  // namespace spikey::format::detail
