// The context model of codecs cm1-cm3 in the metadata (SPEC.md §4.3, §6.9).
#include "codecs/codec_params.hpp"
#include "spikey/format/codecs/cm/cm_model.hpp"

namespace spikey::format::detail {

namespace {

// cm1's model (§6.9.2, §6.9.3): shapes of four bytes for a run of classes; a prior whose
// period is a power of two up to kCmMaxPriorPeriod.
void validate_cm_model(const CodecParams& codec) {
  if (codec.cm_shapes.size() != static_cast<std::size_t>(kCmClasses)) fail("metadata: codec.shapes must hold one shape per scale class");
  for (const auto& shape : codec.cm_shapes)
    if (shape.shift > kCmMaxShift) fail("metadata: codec.shapes has a bucket shift out of range");
  const std::size_t period = codec.cm_prior.size();
  if (period == 0 || period > kCmMaxPriorPeriod || (period & (period - 1)) != 0)
    fail("metadata: codec.prior's period must be a power of two up to " + std::to_string(kCmMaxPriorPeriod));
  if (codec.cm_scale_rate < static_cast<std::uint32_t>(kCmMinScaleRate) || codec.cm_scale_rate > static_cast<std::uint32_t>(kCmMaxScaleRate))
    fail("metadata: codec.scale_rate out of range");
}

}  // namespace

void cm_model_to_json(const CodecParams& codec, json& j) {
  std::vector<std::uint8_t> shapes;
  for (std::uint32_t k = codec.cm_first_class; k < codec.cm_first_class + codec.cm_stored_classes; ++k) {
    const CmShape& s = codec.cm_shapes.at(k);
    shapes.insert(shapes.end(), {s.gauss, s.laplace, s.weight, s.shift});
  }
  j["first_class"] = codec.cm_first_class;
  j["shapes"] = hex_of(shapes);
  j["prior"] = hex_of(codec.cm_prior);
  j["scale_rate"] = codec.cm_scale_rate;
}

void cm_model_from_json(const json& j, CodecParams& codec) {
  const auto shapes = bytes_of_hex(field<std::string>(j, "shapes", "codec"), "codec.shapes");
  codec.cm_first_class = field<std::uint32_t>(j, "first_class", "codec");
  codec.cm_stored_classes = static_cast<std::uint32_t>(shapes.size() / 4);
  if (shapes.size() % 4 != 0 || shapes.empty() || codec.cm_first_class >= static_cast<std::uint32_t>(kCmClasses) ||
      codec.cm_stored_classes > static_cast<std::uint32_t>(kCmClasses) - codec.cm_first_class)
    fail("metadata: codec.shapes must be 1 to 49 whole shapes from codec.first_class on");
  std::vector<CmShape> stored;
  for (std::size_t i = 0; i < shapes.size(); i += 4) stored.push_back({shapes[i], shapes[i + 1], shapes[i + 2], shapes[i + 3]});
  for (const auto& s : stored)
    if (s.shift > kCmMaxShift) fail("metadata: codec.shapes has a bucket shift out of range");
  codec.cm_shapes = cm_complete_shapes(stored, codec.cm_first_class);
  codec.cm_prior = bytes_of_hex(field<std::string>(j, "prior", "codec"), "codec.prior");
  codec.cm_scale_rate = field<std::uint32_t>(j, "scale_rate", "codec");
  validate_cm_model(codec);
}

}  // namespace spikey::format::detail
