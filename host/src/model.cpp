#include "spikey/host/model.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>

#include "spikey/host/output_file.hpp"

namespace spikey::host {

namespace f = spikey::format;
using nlohmann::json;

void Model::save(const std::filesystem::path& path) const {
  json j = {{"format", "spikey model"}, {"version", 1}, {"codec", f::codec_to_json(codec)}};
  json channels = json::array();
  for (const auto& p : predictors) channels.push_back(f::predictor_to_json(p, codec));
  j["predictors"] = channels;
  if (topology) {
    json lists = json::array();
    for (const auto& list : topology->neighbours) {
      json edges = json::array();
      for (const auto& e : list) edges.push_back({{"channel", e.channel}, {"weight", e.weight}});
      lists.push_back(edges);
    }
    j["topology"] = lists;
  }
  const std::string text = j.dump();
  OutputFile out(path, true);
  out.write({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  out.commit();
}

Model Model::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read model " + path.string());
  const json j = json::parse(in, nullptr, false);
  const auto bad = [&](const std::string& why) { return std::runtime_error("model " + path.string() + ": " + why); };
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != "spikey model") throw bad("not a spikey model file");
  if (j.value("version", 0) != 1) throw bad("model version " + std::to_string(j.value("version", 0)) + " is not supported");
  Model model;
  try {
    model.codec = f::codec_from_json(j.at("codec"));
    if (!f::codec_row(model.codec.name).has_predictors()) throw bad("codec " + model.codec.name + " has no model");
    const json& channels = j.at("predictors");
    if (!channels.is_array()) throw bad("predictors is not an array");
    for (std::size_t c = 0; c < channels.size(); ++c)
      model.predictors.push_back(f::predictor_from_json(channels[c], model.codec, "model channel " + std::to_string(c)));
    if (j.contains("topology")) {
      Topology t;
      for (const auto& list : j.at("topology")) {
        std::vector<Topology::Edge> edges;
        for (const auto& e : list) edges.push_back({e.at("channel").get<std::uint32_t>(), e.at("weight").get<float>()});
        t.neighbours.push_back(std::move(edges));
      }
      model.topology = std::move(t);
    }
  } catch (const f::ArchiveError& e) {
    throw bad(e.what());
  } catch (const json::exception& e) {
    throw bad(e.what());
  }
  return model;
}

}  // namespace spikey::host
