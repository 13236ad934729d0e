// spikey train: a model of a recording, to compress other recordings of the implant with --model.
#include <iostream>

#include "common.hpp"
#include "progress.hpp"
#include "spikey/host/model.hpp"

namespace spikey::cli {

namespace {

int run_train(const CompressArgs& a, const CommonOptions& o) {
  host::EncodeOptions options = encode_options(a, o);
  const host::Recording recording = open_inputs(a, o);
  choose_backend(a, o, options, false);
  if (!a.force && fs::exists(a.output)) throw std::runtime_error(a.output + " already exists (use -f to overwrite)");
  const auto surveyed = host::survey_recording(recording, options);
  const host::Model model = host::train_model(recording, surveyed, host::codec_for_level(a.recording.level), options);
  model.save(a.output);
  if (!o.quiet)
    std::cerr << "spikey: " << a.output << ": " << model.codec.name << " model of " << model.predictors.size() << " channel(s)\n";
  return 0;
}

}  // namespace

Subcommand add_train(CLI::App& app, CommonOptions& common) {
  auto args = std::make_shared<CompressArgs>();
  CompressArgs& a = *args;
  auto* cmd = app.add_subcommand("train", "train a model on a recording, to compress other recordings of the implant with --model");
  add_training_options(cmd, a, common);
  cmd->add_option("-o,--output", a.output, "model file to write (.spkm)")->required();
  cmd->add_option("--level", a.recording.level, "fast | default (the codec the model is for)")->check(CLI::IsMember({"fast", "default", "max"}));
  cmd->add_option("--topology", a.recording.topology, "use this topology (level default)")->check(CLI::ExistingFile);
  cmd->add_option("--backend", a.backend, "auto | cpu | cuda: where the network stage trains (the same model either way; default auto)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  return {cmd, [args, &common] { return run_train(*args, common); }};
}

}  // namespace spikey::cli
