// spikey info: what an archive holds, from its header, metadata and index alone.
#include <algorithm>
#include <map>
#include <sstream>

#include <iostream>

#include "common.hpp"
#include "spikey/format/archive_reader.hpp"
#include "spikey/format/checksum.hpp"
#include "spikey/format/codec_table.hpp"
#include "spikey/host/decoder.hpp"
#include "spikey/host/window.hpp"

namespace spikey::cli {

namespace {

// " (1 open_ephys, 3 side_file)" when the archive holds more than one kind of file.
std::string source_kinds_text(const format::Metadata& m) {
  std::map<std::string, std::size_t> kinds;
  for (const auto& s : m.sources) ++kinds[format::source_kind_name(s.kind)];
  if (kinds.size() < 2) return "";
  std::string text;
  for (const auto& [kind, count] : kinds) text += (text.empty() ? " (" : ", ") + std::to_string(count) + " " + kind;
  return text + ")";
}

// "; 384 channel(s) at 2500 Hz" for streams recorded at other rates than the archive's, after
// " (spike waveforms)" when only waveforms are at the archive's rate (SPEC §4.2).
std::string other_rates_text(const format::Metadata& m) {
  bool waveforms = false, series = false;
  for (std::size_t c = 0; c < m.channels.size(); ++c)
    if (m.channel_rate(c) == m.sample_rate) (m.snippet_channel(c) ? waveforms : series) = true;
  std::map<double, std::size_t> rates;
  for (std::size_t c = 0; c < m.channels.size(); ++c)
    if (m.channel_rate(c) != m.sample_rate) ++rates[m.channel_rate(c)];
  std::ostringstream text;
  if (waveforms && !series) text << " (spike waveforms)";
  for (const auto& [rate, count] : rates) text << "; " << count << " channel(s) at " << rate << " Hz";
  return text.str();
}

// The longest channel's samples, leaving out spike waveforms (they count no time, SPEC §4.2).
std::uint64_t time_series_samples(const format::Metadata& m) {
  std::uint64_t longest = 0;
  for (const std::uint32_t c : host::time_series_channels(m)) longest = std::max(longest, m.channels[c].length);
  return longest;
}

// "snippets      14218 waveforms of 48 samples (l101210-001.nev)" for each source of spike waveforms.
std::string snippets_text(const format::Metadata& m) {
  std::ostringstream text;
  for (const auto& s : m.sources)
    if (s.snippets)
      text << "snippets      " << s.records.count << " waveforms of " << s.records.frames << " samples"
           << (s.channel_count > 1 ? " x " + std::to_string(s.channel_count) + " channels" : std::string()) << " (" << s.path << ")\n";
  for (std::size_t c = 0; c < m.channels.size(); ++c)  // a channel of waveforms beside time series (a Plexon file's)
    if (m.channels[c].snippets)
      text << "snippets      " << m.channels[c].length << " samples of spike waveforms in " << m.channels[c].name << " ("
           << m.sources[m.channels[c].source].path << ")\n";
  return text.str();
}

// One archive: its description printed (text) or left in `out` (JSON).
int describe_archive(const ArchiveArgument& input, const CommonOptions& o, json& out) {
  const std::string& archive = input.name();
  const format::ArchiveReader reader(input.path());
  warn_archive_damage(reader, archive);
  const format::Metadata& m = reader.metadata();
  const std::uint64_t original = m.original_bytes();
  const double ratio = ratio_of(original, reader.file_size());
  std::uint64_t map_counts[3] = {0, 0, 0};
  std::uint64_t linked = 0, taps = 0, source_links = 0, wavelet = 0, sync_channels = 0, network = 0;
  for (const auto& c : m.channels) {
    sync_channels += c.sync;
    ++map_counts[static_cast<int>(c.value_map.kind)];
    linked += c.predictor.source_channel() >= 0;
    source_links += c.predictor.sources.size();
    wavelet += !c.predictor.wavelet_weights.empty();
    network += c.predictor.uses_network();
    taps += c.predictor.history_weights.size();
  }
  const format::CodecRow& row = format::codec_row(m.codec.name);
  const bool lpc = row.has_predictors();
  if (o.json_output) {
    json channels = json::array();
    for (const auto& c : m.channels) {
      json cj = {{"name", c.name}, {"source", c.source}, {"length", c.length}, {"value_map", value_map_json(c.value_map)}};
      if (lpc) {
        json sources = json::array();
        for (const auto& s : c.predictor.sources) sources.push_back(s.channel);
        cj["predictor"] = {{"order", c.predictor.history_weights.size()},
                           {"wavelet_features", !c.predictor.wavelet_weights.empty()},
                           {"network", c.predictor.uses_network()},
                           {"sources", sources},
                           {"lms_step", c.predictor.lms_step}};
      }
      if (c.bit_volts) cj["bit_volts"] = *c.bit_volts;
      if (!c.units.empty()) cj["units"] = c.units;
      const auto index = static_cast<std::size_t>(&c - m.channels.data());
      cj["sync"] = c.sync;
      cj["snippets"] = m.snippet_channel(index);
      cj["sample_rate"] = m.channel_rate(index);
      channels.push_back(std::move(cj));
    }
    json sources = json::array();
    for (const auto& s : m.sources)
      sources.push_back({{"path", s.path},
                         {"kind", format::source_kind_name(s.kind)},
                         {"sample_rate", s.channel_count > 0 ? (s.sample_rate > 0 ? s.sample_rate : m.sample_rate) : 0.0},
                         {"size", s.size},
                         {"checksum", format::checksum_hex(s.checksum)},
                         {"channels", s.channel_count},
                         {"frames", s.frames},
                         {"snippets", s.snippets}});
    json codec = {{"name", m.codec.name}, {"partition_size", m.codec.partition_size}};
    if (lpc) codec["weight_shift"] = m.codec.weight_shift;
    if (row.predictor == format::PredictorKind::middle_out) codec["source_half_window"] = m.codec.source_half_window, codec["wavelet_levels"] = m.codec.wavelet_levels;
    if (m.codec.network) {
      codec["network_hidden"] = m.codec.network->hidden;
      codec["network_projector"] = m.codec.network->projector == format::NetProjector::kGru ? "gru" : "mlp";
    }
    if (row.has_context_model()) codec["prior_period"] = m.codec.cm_prior.size(), codec["scale_rate"] = m.codec.cm_scale_rate;
    json j = {{"archive", archive},
              {"format_version", reader.format_version()},
              {"encoder", m.encoder},
              {"level", m.level},
              {"codec", codec},
              {"sample_rate", m.sample_rate},
              {"total_samples", m.total_samples},
              {"duration_seconds", m.duration_seconds()},
              {"chunk_samples", m.chunk_samples},
              {"chunks", reader.index().size()},
              {"lost_chunks", host::lost_chunks(reader).size()},
              {"damage", reader.damage()},
              {"original_bytes", original},
              {"archive_bytes", reader.file_size()},
              {"ratio", ratio},
              {"channels", channels},
              {"sources", sources}};
    out = std::move(j);
    return 0;
  }
  std::cout << "archive       " << archive << "\n"
            << "format        version " << reader.format_version() << ", written by " << m.encoder << "\n"
            << "codec         " << m.codec.name << " (level " << m.level << ", partition " << m.codec.partition_size << ")\n"
            << "sample rate   " << (m.channels.empty() ? std::string("none (side files only)") : (std::ostringstream() << m.sample_rate << " Hz").str() + other_rates_text(m)) << "\n"
            << "duration      " << fixed(m.duration_seconds(), 3) << " s (" << time_series_samples(m) << " samples)\n"
            << "channels      " << m.channels.size() << " (value maps: " << map_counts[2] << " n1_10bit, " << map_counts[1]
            << " affine, " << map_counts[0] << " identity"
            << (sync_channels > 0 ? "; " + std::to_string(sync_channels) + " sync" : std::string()) << ")\n"
            << (lpc ? "prediction    order " + fixed(m.channels.empty() ? 0.0 : double(taps) / double(m.channels.size()), 1) +
                          " on average; " + std::to_string(linked) + " channel(s) also predicted from others (" +
                          std::to_string(source_links) + " source links), " + std::to_string(wavelet) + " with wavelet features" +
                          (m.codec.network ? ", " + std::to_string(network) + " with the network stage (" + std::to_string(m.codec.network->hidden) +
                                                 (m.codec.network->projector == format::NetProjector::kGru ? "-unit GRU)" : " hidden units)")
                                           : std::string()) +
                          "\n"
                    : std::string())
            << snippets_text(m) << "sources       " << m.sources.size() << " file(s)" << source_kinds_text(m) << "\n"
            << "chunks        " << reader.index().size() << " x " << m.chunk_samples << " samples ("
            << fixed(static_cast<double>(m.chunk_samples) / m.sample_rate, 3) << " s)\n"
            << (host::lost_chunks(reader).empty() ? std::string()
                                                   : "lost          " + std::to_string(host::lost_chunks(reader).size()) +
                                                         " chunk(s), not recovered by a salvage\n")
            << "size          " << original << " bytes original, " << reader.file_size() << " bytes archive\n"
            << "ratio         " << fixed(ratio, 4) << "\n";
  return 0;
}

// Several archives (spikey info *.spikey): each described, whatever the ones before it gave
// (text blocks apart by an empty line; JSON as an array); exit 1 when any could not be read.
int run_info(const std::vector<std::string>& archives, const CommonOptions& o) {
  check_archive_arguments(archives);
  json reports = json::array();
  int status = 0;
  for (std::size_t i = 0; i < archives.size(); ++i) {
    json j = {{"archive", archives[i]}};
    if (i > 0 && !o.json_output) std::cout << "\n";
    status = std::max(status, on_each_archive(archives[i], j, o, [&](const ArchiveArgument& input) { return describe_archive(input, o, j); }));
    reports.push_back(std::move(j));
  }
  if (o.json_output) std::cout << (archives.size() == 1 ? reports.front() : reports).dump(2) << "\n";
  return status;
}

}  // namespace

Subcommand add_info(CLI::App& app, CommonOptions& common) {
  auto archives = std::make_shared<std::vector<std::string>>();
  auto* info = app.add_subcommand("info", "describe an archive (reads header, metadata and index only)");
  info->add_option("archives", *archives, "archives to read; - for standard input")->required();
  info->add_flag("--json", common.json_output, "print JSON");
  return {info, [archives, &common] { return run_info(*archives, common); }};
}

}  // namespace spikey::cli
