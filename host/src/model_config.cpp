// --model-config: the architecture of the predictors, from a JSON file (README, "Models").
#include <fstream>
#include <nlohmann/json.hpp>

#include "spikey/format/codecs/lpc/lpc_predictor.hpp"
#include "spikey/format/codecs/cm/cm_model.hpp"
#include "spikey/format/codecs/mo/mo_predictor.hpp"
#include "spikey/host/encoder.hpp"

namespace spikey::host {

using nlohmann::json;

void apply_model_config(const std::filesystem::path& path, EncodeOptions& options) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read model config " + path.string());
  const json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::invalid_argument("--model-config " + path.string() + ": not a JSON object");
  MoTrainingOptions& mo = options.mo_training;
  const auto integer = [&](const std::string& key, int lo, int hi) {
    const json& v = j.at(key);
    if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
      throw std::invalid_argument("--model-config: " + key + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
    return static_cast<int>(v.get<long long>());
  };
  for (const auto& [key, value] : j.items()) {
    if (key == "max_order") mo.max_order = options.training.max_order = integer(key, 0, format::kMaxMoOrder);
    else if (key == "wavelet_levels") mo.wavelet_levels = integer(key, 0, format::kMaxWaveletLevels);
    else if (key == "max_sources") mo.max_sources = integer(key, 0, format::kMaxMoSources);
    else if (key == "source_half_window") mo.half_window = integer(key, 0, format::kMaxMoHalfWindow);
    else if (key == "max_depth") mo.max_depth = integer(key, 1, 1 << 20);
    else if (key == "network_hidden") mo.network_hidden = integer(key, 0, format::kMaxNetHidden);
    else if (key == "network_projector") {
      if (!value.is_string() || (value.get<std::string>() != "mlp" && value.get<std::string>() != "gru" && value.get<std::string>() != "best"))
        throw std::invalid_argument("--model-config: network_projector must be \"mlp\", \"gru\" or \"best\"");
      mo.network_projector = value.get<std::string>();
    } else if (key == "gru_hidden") mo.gru_hidden = integer(key, 1, format::kMaxGruHidden);
    else if (key == "network_min_saving") {
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 1)
        throw std::invalid_argument("--model-config: network_min_saving must be a number in 0..1");
      mo.network_min_saving = value.get<double>();
    } else if (key == "network_seed") mo.network_seed = static_cast<std::uint64_t>(integer(key, 0, 1 << 30));
    else if (key == "topology_neighbours") mo.topology_neighbours = integer(key, 1, 64);
    else if (key == "max_prior_period") {
      const int period = integer(key, 1, static_cast<int>(format::kCmMaxPriorPeriod));
      if ((period & (period - 1)) != 0) throw std::invalid_argument("--model-config: max_prior_period must be a power of two");
      options.cm_training.max_prior_period = static_cast<std::uint32_t>(period);
    }
    else if (key == "lms_step") mo.lms_step = options.training.lms_step = integer(key, 0, format::kMaxLmsStep);
    else if (key == "context_training_samples") options.cm_training.samples_per_channel = static_cast<std::uint64_t>(integer(key, 1, 1 << 30));
    else if (key == "context_training_samples_in_all") options.cm_training.samples_in_all = static_cast<std::uint64_t>(integer(key, 1, 1 << 30));
    else if (key == "network_samples") mo.network_samples = static_cast<std::uint64_t>(integer(key, 1, 1 << 30));
    else if (key == "partition_size") options.partition_size = static_cast<std::uint32_t>(integer(key, 1, static_cast<int>(format::kMaxPartitionSize)));
    else if (key == "training_samples") mo.max_training_samples = options.training.max_training_samples = static_cast<std::uint64_t>(integer(key, 1, 1 << 30));
    else if (key == "training_samples_in_all") mo.max_training_samples_in_all = static_cast<std::uint64_t>(integer(key, 1, 1 << 30));
    else if (key == "network_channel_samples") mo.network_channel_samples = static_cast<std::uint64_t>(integer(key, 1, 1 << 30));
    else if (key == "network_channel_samples_in_all") mo.network_channel_samples_in_all = static_cast<std::uint64_t>(integer(key, 1, 1 << 30));
    else if (key == "metadata_first_frame_verbatim")  // SPEC §3.3: the layout of the metadata's zstd frames
      options.metadata_frames.first_verbatim = static_cast<std::uint64_t>(integer(key, 0, 1 << 29));
    else if (key == "metadata_frame") options.metadata_frames.frame = static_cast<std::uint64_t>(integer(key, 1, 1 << 30));
    else if (key == "training_window_in_all") options.training_window_in_all = static_cast<std::uint64_t>(integer(key, 1, 1 << 30));
    else throw std::invalid_argument("--model-config: unknown key \"" + key + "\"");
  }
}

}  // namespace spikey::host
