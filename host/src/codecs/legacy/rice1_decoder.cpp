// Codec rice1 (format version 1, frozen): first differences in Rice-coded partitions (SPEC.md
// §6.4). Still decoded; written only by tests.
#include "codecs/decoder_family.hpp"
#include "codecs/dependent_tasks.hpp"
#include "codecs/families.hpp"
#include "codecs/stream_checks.hpp"
#include "spikey/format/codecs/rice1/rice1_stream.hpp"

namespace spikey::host::codecs::legacy {

namespace {

const char* describe(format::StreamStatus status) {
  switch (status) {
    case format::StreamStatus::invalid_rice_parameter: return "invalid Rice parameter";
    case format::StreamStatus::overrun: return "stream runs past its end";
    case format::StreamStatus::length_mismatch: return "stream length does not match its contents";
    default: return "ok";
  }
}

class Rice1Decoder final : public DecoderFamily {
 public:
  void add_sources(const format::Metadata&, const format::ChunkChannels&, std::vector<char>&) const override {}  // no sources

  void decode(const format::Metadata& meta, std::span<ChunkDecodeJob> jobs, unsigned threads) const override {
    DependentTasks tasks;  // per chunk: a check of its streams' sizes, then each stream
    for (ChunkDecodeJob& job : jobs) {
      const std::size_t checked = tasks.add({}, [&job](unsigned) { require_warmup_and_a_bit_per_sample(job); });
      for (std::size_t p = 0; p < job.present->channel.size(); ++p) {
        if (!(*job.needed)[p]) continue;
        tasks.add({&checked, 1}, [&meta, &job, p](unsigned) {
          auto& codes = (*job.codes)[p];
          codes.resize(job.present->sample_count[p]);
          const auto stream = job.stream(p);
          const auto status =
              format::decode_rice1_stream(stream.data(), stream.size(), job.present->sample_count[p], meta.codec.partition_size, codes.data());
          if (status != format::StreamStatus::ok) throw job.stream_error(p, "rice1 stream: " + std::string(describe(status)));
        });
      }
    }
    tasks.run(threads);
  }
};

}  // namespace

const DecoderFamily& rice1_decoder() {
  static const Rice1Decoder decoder;
  return decoder;
}

}  // namespace spikey::host::codecs::legacy
