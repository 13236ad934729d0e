// Golden archives: archives written by released format versions must decode forever to the
// committed originals (tests/golden/README.md says how they were made).
#include <gtest/gtest.h>

#include <cstring>

#include "spikey/format/archive_reader.hpp"
#include "spikey/host/decoder.hpp"
#include "test_support.hpp"

using namespace spikey;
namespace fs = std::filesystem;

namespace {

void expect_golden_restores(const fs::path& archive, const fs::path& originals_dir) {
  ASSERT_TRUE(fs::exists(archive)) << archive;
  const format::ArchiveReader reader(archive);
  test::TempDir out;
  host::RestoreOptions options;
  options.output_directory = out.path();
  options.threads = 2;
  const auto report = host::restore_sources(reader, options);
  EXPECT_TRUE(report.mismatched_files.empty());
  for (const auto& source : reader.metadata().sources) {
    const auto restored = test::read_file(out.path() / source.path);
    const auto original = test::read_file(originals_dir / source.path);
    ASSERT_FALSE(original.empty()) << source.path;
    EXPECT_TRUE(restored == original) << source.path;
  }
}

}  // namespace

TEST(Golden, Version1NeuralinkSample) {
  const fs::path archive = test::golden_dir() / "v1" / "neuralink3.spikey";
  expect_golden_restores(archive, test::samples_dir() / "neuralink");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 1);
  EXPECT_EQ(reader.metadata().codec.name, "rice1");
  EXPECT_EQ(reader.metadata().channels.size(), 3u);
  EXPECT_EQ(reader.metadata().channels[0].value_map.kind, format::ValueMapKind::n1_10bit);
  EXPECT_GT(reader.index().size(), 1u);
}

TEST(Golden, Version1Cinpla32RawSample) {
  const fs::path archive = test::golden_dir() / "v1" / "cinpla32.spikey";
  expect_golden_restores(archive, test::samples_dir() / "cinpla32");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.metadata().channels.size(), 32u);
  EXPECT_EQ(reader.metadata().sample_rate, 30000);
}

TEST(Golden, Version2NeuralinkSampleLpc1) {
  const fs::path archive = test::golden_dir() / "v2" / "neuralink3.spikey";
  expect_golden_restores(archive, test::samples_dir() / "neuralink");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 2);
  EXPECT_EQ(reader.metadata().codec.name, "lpc1");
  bool any_source = false;
  for (const auto& c : reader.metadata().channels) any_source |= c.predictor.source_channel() >= 0;
  EXPECT_TRUE(any_source) << "the golden archive should exercise cross-channel prediction";
}

TEST(Golden, Version2Cinpla32RawSampleLpc1) {
  const fs::path archive = test::golden_dir() / "v2" / "cinpla32.spikey";
  expect_golden_restores(archive, test::samples_dir() / "cinpla32");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.metadata().codec.name, "lpc1");
  EXPECT_GT(reader.index().size(), 1u);
}

TEST(Golden, Version3Mo1Archives) {
  for (const auto& [name, originals] : {std::pair{"neuralink3.spikey", "neuralink"}, std::pair{"cinpla32.spikey", "cinpla32"}}) {
    SCOPED_TRACE(name);
    const fs::path archive = test::golden_dir() / "v3" / name;
    expect_golden_restores(archive, test::samples_dir() / originals);
    const format::ArchiveReader reader(archive);
    EXPECT_EQ(reader.format_version(), 3);
    EXPECT_EQ(reader.metadata().codec.name, "mo1");
  }
  // The cinpla slice exercises every part of mo1: sources several levels deep and wavelet features.
  const format::ArchiveReader reader(test::golden_dir() / "v3" / "cinpla32.spikey");
  std::size_t wavelet = 0, multi_source = 0;
  for (const auto& c : reader.metadata().channels) wavelet += !c.predictor.wavelet_weights.empty(), multi_source += c.predictor.sources.size() > 1;
  EXPECT_GT(wavelet, 0u);
  EXPECT_GT(multi_source, 0u);
}

TEST(Golden, Version4Archives) {
  struct Golden {
    const char* name;
    const char* originals;
    const char* codec;
  };
  for (const auto& g : {Golden{"neuralink3.spikey", "neuralink", "cm1"}, Golden{"cinpla32.spikey", "cinpla32", "cm1"},
                        Golden{"cinpla32_default.spikey", "cinpla32", "mo1"}}) {
    SCOPED_TRACE(g.name);
    const fs::path archive = test::golden_dir() / "v4" / g.name;
    expect_golden_restores(archive, test::samples_dir() / g.originals);
    const format::ArchiveReader reader(archive);
    EXPECT_EQ(reader.format_version(), 4);
    EXPECT_EQ(reader.metadata().codec.name, g.codec);
    EXPECT_GT(reader.index().size(), 1u);
  }
}

// Version 5: a normal archive, and a salvaged one with lost chunks (1, 4 and 5): the kept
// chunks restore the originals' samples exactly and the lost ones stay lost.
TEST(Golden, Version5Archives) {
  const fs::path archive = test::golden_dir() / "v5" / "neuralink3.spikey";
  expect_golden_restores(archive, test::samples_dir() / "neuralink");
  EXPECT_EQ(format::ArchiveReader(archive).format_version(), 5);
  EXPECT_EQ(format::ArchiveReader(archive).metadata().codec.name, "cm1");

  const format::ArchiveReader salvaged(test::golden_dir() / "v5" / "neuralink3_salvaged.spikey");
  EXPECT_EQ(salvaged.format_version(), 5);
  ASSERT_EQ(host::lost_chunks(salvaged), (std::vector<std::uint64_t>{1, 4, 5}));
  test::TempDir out;
  host::RestoreOptions options;
  options.output_directory = out.path();
  options.fill_lost = true;
  const auto report = host::restore_sources(salvaged, options);
  EXPECT_EQ(report.incomplete_files.size(), 3u);
  const auto& meta = salvaged.metadata();
  for (const auto& source : meta.sources) {
    SCOPED_TRACE(source.path);
    auto expected = test::read_file(test::samples_dir() / "neuralink" / source.path);
    for (const std::uint64_t chunk : {1u, 4u, 5u})
      for (std::uint64_t t = meta.chunk_first_sample(chunk); t < std::min(source.frames, meta.chunk_first_sample(chunk + 1)); ++t)
        expected[source.prefix.size + 2 * t] = expected[source.prefix.size + 2 * t + 1] = 0;
    EXPECT_TRUE(test::read_file(out.path() / source.path) == expected);
  }
}

// Version 6: an Open Ephys recording folder (side files, a delta64-coded .npy, bit_volts) and a
// SpikeGLX pair with a sync channel coded as runs, in a word codec (lpc1) and in cm1.
TEST(Golden, Version6AcquisitionFolders) {
  const fs::path open_ephys = test::golden_dir() / "v6" / "open_ephys.spikey";
  expect_golden_restores(open_ephys, test::samples_dir() / "open_ephys" / "Record Node 101");
  const format::ArchiveReader oe(open_ephys);
  EXPECT_EQ(oe.format_version(), 6);
  EXPECT_EQ(oe.metadata().sources.size(), 4u);
  EXPECT_EQ(oe.metadata().channels[31].name, "CH64");  // the oebin names channels after the channel map
  for (const auto& [name, codec] : {std::pair{"spikeglx_fast.spikey", "lpc1"}, std::pair{"spikeglx_max.spikey", "cm1"}}) {
    const fs::path archive = test::golden_dir() / "v6" / name;
    expect_golden_restores(archive, test::samples_dir() / "spikeglx");
    const format::ArchiveReader reader(archive);
    EXPECT_EQ(reader.format_version(), 6);
    EXPECT_EQ(reader.metadata().codec.name, codec);
    EXPECT_TRUE(reader.metadata().channels[32].sync);
    EXPECT_EQ(reader.index().size(), 4u);
  }
  // Streams at two rates: the SpikeGLX pair at 30000 Hz and an N1 WAV at 19531 Hz (its source
  // records its own sample_rate; its channel spans more chunks than the 2000-frame AP stream).
  const format::ArchiveReader mixed(test::golden_dir() / "v6" / "spikeglx_and_n1.spikey");
  test::TempDir out;
  host::RestoreOptions options;
  options.output_directory = out.path();
  EXPECT_TRUE(host::restore_sources(mixed, options).mismatched_files.empty());
  const std::string n1 = "4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav";
  EXPECT_TRUE(test::read_file(out / n1) == test::read_file(test::samples_dir() / "neuralink" / n1));
  for (const char* name : {"run_g0_t0.imec0.ap.bin", "run_g0_t0.imec0.ap.meta"})
    EXPECT_TRUE(test::read_file(out / name) == test::read_file(test::samples_dir() / "spikeglx" / name)) << name;
  EXPECT_EQ(mixed.metadata().sample_rate, 30000);
  EXPECT_EQ(mixed.metadata().channel_rate(33), 19531);
  EXPECT_TRUE(mixed.metadata().channels[32].sync);
}

// Version 7: codecs mo2 and cm2, mo1 and cm1 with the network stage (§6.8.1), on the cinpla
// slice: the shared network's weights and each channel's gains in the metadata.
TEST(Golden, Version7NetworkStage) {
  for (const auto& [name, codec] : {std::pair{"cinpla32.spikey", "mo2"}, std::pair{"cinpla32_max.spikey", "cm2"}}) {
    SCOPED_TRACE(name);
    const fs::path archive = test::golden_dir() / "v7" / name;
    expect_golden_restores(archive, test::samples_dir() / "cinpla32");
    const format::ArchiveReader reader(archive);
    EXPECT_EQ(reader.format_version(), 7);
    EXPECT_EQ(reader.metadata().codec.name, codec);
    ASSERT_TRUE(reader.metadata().codec.network.has_value());
    EXPECT_EQ(reader.metadata().codec.network->hidden, 16);
    std::size_t with_network = 0;
    for (const auto& c : reader.metadata().channels) with_network += c.predictor.uses_network();
    EXPECT_GT(with_network, 0u);
  }
}

TEST(Golden, Version8GruProjector) {
  for (const auto& [name, codec] : {std::pair{"cinpla32_gru.spikey", "mo3"}, std::pair{"cinpla32_gru_max.spikey", "cm3"}}) {
    SCOPED_TRACE(name);
    const fs::path archive = test::golden_dir() / "v8" / name;
    expect_golden_restores(archive, test::samples_dir() / "cinpla32");
    const format::ArchiveReader reader(archive);
    EXPECT_EQ(reader.format_version(), 8);
    EXPECT_EQ(reader.metadata().codec.name, codec);
    ASSERT_TRUE(reader.metadata().codec.network.has_value());
    EXPECT_EQ(reader.metadata().codec.network->projector, format::NetProjector::kGru);
    EXPECT_EQ(reader.metadata().codec.network->hidden, 8);
    std::size_t with_network = 0;
    for (const auto& c : reader.metadata().channels) with_network += c.predictor.uses_network();
    EXPECT_GT(with_network, 0u);
  }
}

TEST(Golden, Version9TableDrivenCoder) {
  struct Case {
    const char* name;
    const char* codec;
    fs::path originals;
    std::uint32_t partition_size;
  };
  for (const auto& c : {Case{"cinpla32.spikey", "mt2", test::samples_dir() / "cinpla32", 500},
                        Case{"cinpla32_gru.spikey", "mt3", test::samples_dir() / "cinpla32", 700},
                        Case{"neuralink3.spikey", "mt2", test::samples_dir() / "neuralink", 16384},
                        Case{"spikeglx.spikey", "mt2", test::samples_dir() / "spikeglx", 16384}}) {
    SCOPED_TRACE(c.name);
    const fs::path archive = test::golden_dir() / "v9" / c.name;
    expect_golden_restores(archive, c.originals);
    const format::ArchiveReader reader(archive);
    EXPECT_EQ(reader.format_version(), 9);
    EXPECT_EQ(reader.metadata().codec.name, c.codec);
    EXPECT_EQ(reader.metadata().codec.partition_size, c.partition_size);
    EXPECT_GT(reader.metadata().codec.cm_prior.size(), 1u);  // the code-density prior is in the tables
  }
}

// Version 10: stream checks in every payload and the metadata copy before the index, at each
// level and with a sync channel; a salvaged archive with two lost streams in a kept chunk (1)
// and a lost chunk (3).
TEST(Golden, Version10StreamChecksAndMetadataCopy) {
  for (const auto& [name, codec, originals] : {std::tuple{"cinpla32.spikey", "mt2", "cinpla32"},
                                               std::tuple{"neuralink3_fast.spikey", "lpc1", "neuralink"},
                                               std::tuple{"neuralink3_max.spikey", "cm2", "neuralink"},
                                               std::tuple{"spikeglx.spikey", "mt2", "spikeglx"}}) {
    SCOPED_TRACE(name);
    const fs::path archive = test::golden_dir() / "v10" / name;
    expect_golden_restores(archive, test::samples_dir() / originals);
    const format::ArchiveReader reader(archive);
    EXPECT_EQ(reader.format_version(), 10);
    EXPECT_EQ(reader.metadata().codec.name, codec);
    EXPECT_TRUE(reader.damage().empty());
  }
  const format::ArchiveReader salvaged(test::golden_dir() / "v10" / "cinpla32_salvaged.spikey");
  EXPECT_EQ(host::lost_chunks(salvaged), (std::vector<std::uint64_t>{3}));
  const auto& meta = salvaged.metadata();
  try {
    host::decode_chunk(salvaged, 1, std::vector<std::uint32_t>{14});
    ADD_FAILURE() << "a lost stream was decoded";
  } catch (const format::LostChunkError& e) {
    EXPECT_NE(std::string(e.what()).find("channel 14 in chunk 1"), std::string::npos) << e.what();
  }
  const auto kept = host::decode_chunk(salvaged, 1, {}, {.fill_lost = true});
  EXPECT_EQ(kept.lost_channels, (std::vector<std::uint32_t>{13, 14}));
  test::TempDir out;
  host::RestoreOptions options;
  options.output_directory = out.path();
  options.fill_lost = true;
  const auto report = host::restore_sources(salvaged, options);
  EXPECT_EQ(report.lost_chunks, 1u);
  EXPECT_EQ(report.lost_streams, 2u);
  auto expected = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  const auto zero = [&](std::uint64_t t, std::uint32_t c) { expected[2 * (t * 32 + c)] = expected[2 * (t * 32 + c) + 1] = 0; };
  for (std::uint64_t t = meta.chunk_first_sample(1); t < meta.chunk_first_sample(2); ++t) zero(t, 13), zero(t, 14);
  for (std::uint64_t t = meta.chunk_first_sample(3); t < meta.total_samples; ++t)
    for (std::uint32_t c = 0; c < 32; ++c) zero(t, c);
  EXPECT_TRUE(test::read_file(out.path() / "cinpla32_30kHz_first6000.dat") == expected);
}

// Version 10: a raw source of uint16 samples (offset binary): channels 0-3 of the bundled
// 32-channel slice plus 32768, restored byte for byte; the archive holds the signed values.
TEST(Golden, Version10UnsignedRawSource) {
  const fs::path archive = test::golden_dir() / "v10" / "cinpla4_uint16.spikey";
  const auto cinpla = test::read_file(test::samples_dir() / "cinpla32" / "cinpla32_30kHz_first6000.dat");
  std::vector<std::uint8_t> expected;
  for (std::size_t t = 0; t < cinpla.size() / 64; ++t)
    for (std::size_t c = 0; c < 4; ++c) {
      expected.push_back(cinpla[64 * t + 2 * c]);
      expected.push_back(static_cast<std::uint8_t>(cinpla[64 * t + 2 * c + 1] ^ 0x80));  // + 32768
    }
  const format::ArchiveReader reader(archive);
  ASSERT_EQ(reader.metadata().sources.size(), 1u);
  EXPECT_TRUE(reader.metadata().sources[0].unsigned_samples);
  test::TempDir out;
  host::RestoreOptions options;
  options.output_directory = out.path();
  EXPECT_TRUE(host::restore_sources(reader, options).mismatched_files.empty());
  EXPECT_TRUE(test::read_file(out.path() / "cinpla4_uint16.dat") == expected);
  const auto chunk = host::decode_chunk(reader, 1, std::vector<std::uint32_t>{2});
  std::int16_t first;
  std::memcpy(&first, cinpla.data() + 64 * reader.metadata().chunk_first_sample(1) + 4, 2);
  EXPECT_EQ(chunk.channel_samples(2)[0], first);  // the archive's value: the file's minus 32768
}

// Version 11: samples in records. Neuralynx .ncs files at three rates (timestamps as fields)
// at level default; Open Ephys legacy .continuous files (big-endian samples, a record marker as
// trailer, a partial last record in the suffix) at level fast; a Blackrock NSx 2.1 file (six
// analog inputs at 1 kHz) at level max; an Intan one-file-per-channel folder (time.dat as two
// channels, its high half as runs) at level default.
TEST(Golden, Version11RecordFormats) {
  for (const auto& [name, codec, originals, kind] :
       {std::tuple{"neuralynx.spikey", "mt2", "neuralynx", format::SourceKind::neuralynx},
        std::tuple{"open_ephys_legacy.spikey", "lpc1", "open_ephys_legacy", format::SourceKind::open_ephys_legacy},
        std::tuple{"blackrock.spikey", "cm2", "blackrock", format::SourceKind::blackrock},
        std::tuple{"intan.spikey", "mt2", "intan", format::SourceKind::intan}}) {
    SCOPED_TRACE(name);
    const fs::path archive = test::golden_dir() / "v11" / name;
    expect_golden_restores(archive, test::samples_dir() / originals);
    const format::ArchiveReader reader(archive);
    EXPECT_EQ(reader.format_version(), 11);
    EXPECT_EQ(reader.metadata().codec.name, codec);
    const auto& source = reader.metadata().sources[reader.metadata().channels[0].source];
    EXPECT_EQ(source.kind, kind);
    // Neuralynx and Open Ephys legacy files hold records; a Blackrock 2.1 file and Intan .dat files are one block.
    EXPECT_EQ(source.records.count > 0, kind == format::SourceKind::neuralynx || kind == format::SourceKind::open_ephys_legacy);
    EXPECT_EQ(source.big_endian, kind == format::SourceKind::open_ephys_legacy);
  }
}

// Version 12: planar records with a gap. An Intan traditional .rhd file (32 amplifier channels,
// the auxiliary inputs between them and the ADC channel as a gap, the digital-input word as runs,
// a partial last block) at level default, in chunks that cut its blocks.
TEST(Golden, Version12PlanarRecords) {
  const fs::path archive = test::golden_dir() / "v12" / "intan_rhd.spikey";
  expect_golden_restores(archive, test::samples_dir() / "intan_rhd");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 12);
  EXPECT_EQ(reader.metadata().codec.name, "mt2");
  const auto& source = reader.metadata().sources[0];
  EXPECT_EQ(source.kind, format::SourceKind::intan);
  EXPECT_TRUE(source.records.planar);
  EXPECT_EQ(source.records.gaps, (std::vector<format::RecordGap>{{32, 192}}));
  EXPECT_NE(reader.metadata().chunk_samples % source.records.frames, 0u);
  EXPECT_TRUE(reader.metadata().channels[33].sync);
}

// Version 12: float samples on a grid. An NWB file of float32 microvolts (int16 codes times
// 0.195): the decoder writes each code's float bit for bit (no HDF5 needed to decode).
TEST(Golden, Version12FloatSamples) {
  const fs::path archive = test::golden_dir() / "v12" / "nwb_float.spikey";
  expect_golden_restores(archive, test::samples_dir() / "nwb_float");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 12);
  const auto& source = reader.metadata().sources[0];
  EXPECT_EQ(source.kind, format::SourceKind::nwb);
  EXPECT_EQ(source.float_bytes, 4u);
  EXPECT_EQ(source.sample_step, static_cast<double>(0.195f));  // the float32 gain the file was written with
  EXPECT_EQ(reader.metadata().channels.size(), 8u);
}

// Version 13: records of unequal lengths. A paused Blackrock NSx 2.3 recording (a 1-frame packet,
// 3999 frames, then 2000 after a pause) at level default, in chunks that cut across the packets.
TEST(Golden, Version13RecordsOfUnequalLengths) {
  const fs::path archive = test::golden_dir() / "v13" / "blackrock_paused.spikey";
  expect_golden_restores(archive, test::samples_dir() / "blackrock_paused");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 13);
  const auto& source = reader.metadata().sources[0];
  EXPECT_EQ(source.kind, format::SourceKind::blackrock);
  EXPECT_EQ(source.records.count, 3u);
  EXPECT_EQ(source.records.ends, (std::vector<std::uint64_t>{1, 4000, 6000}));
  EXPECT_EQ(source.records.header, 9u);
  EXPECT_EQ(reader.metadata().channels.size(), 8u);
  EXPECT_EQ(reader.metadata().channels[0].length, 6000u);
}

// Format 14: a Blackrock .nev's spike waveforms as snippets (SPEC §4.2): 1500 real packets, each
// a record of 48 samples whose 8-byte header (timestamp, electrode, unit) is framing, stored
// byte position by byte position; level default, in chunks that cut across the waveforms.
TEST(Golden, Version14Snippets) {
  const fs::path archive = test::golden_dir() / "v14" / "blackrock_nev.spikey";
  expect_golden_restores(archive, test::samples_dir() / "blackrock_nev");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 14);
  const auto& source = reader.metadata().sources[0];
  EXPECT_EQ(source.kind, format::SourceKind::blackrock);
  EXPECT_TRUE(source.snippets);
  EXPECT_EQ(source.records.count, 1500u);
  EXPECT_EQ(source.records.frames, 48u);
  EXPECT_EQ(source.records.header, 8u);
  EXPECT_EQ(reader.metadata().channels.size(), 1u);
  EXPECT_EQ(reader.metadata().channels[0].length, 1500u * 48);
}

// Format 15: the metadata section (and its copy) in several zstd frames (SPEC §3.3): the three
// Neuralynx sample files and their side file, the JSON with 4096 verbatim bytes in the first
// frame and the rest in frames of 8192.
TEST(Golden, Version15MetadataFrames) {
  const fs::path archive = test::golden_dir() / "v15" / "neuralynx_frames.spikey";
  expect_golden_restores(archive, test::samples_dir() / "neuralynx");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 15);
  EXPECT_TRUE(reader.damage().empty());
  const auto bytes = test::read_file(archive);
  const format::FileHeader header = format::parse_file_header(std::span(bytes).first(format::kFileHeaderSize));
  const format::MetadataHead head = format::parse_metadata_head(std::span(bytes).subspan(format::kFileHeaderSize, header.metadata_size), 15);
  EXPECT_EQ(head.section.verbatim.size(), 4096u);
  EXPECT_GT(head.verbatim_size, 4096u + 2 * 8192);  // at least three frames after the first
  EXPECT_EQ(head.verbatim_size, reader.verbatim().size());
}

// Format 16: records of one channel each (SPEC §4.2): a Plexon .plx file's 1500 spike blocks as
// a channel of snippets at 30 kHz and its 1000 continuous blocks as channel V1 at 1 kHz, each
// with its own length and rate, the record table in the verbatim area.
TEST(Golden, Version16PlexonChannelRecords) {
  const fs::path archive = test::golden_dir() / "v16" / "plexon.spikey";
  expect_golden_restores(archive, test::samples_dir() / "plexon");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 16);
  const auto& m = reader.metadata();
  const auto& source = m.sources[0];
  EXPECT_EQ(source.kind, format::SourceKind::plexon);
  EXPECT_TRUE(source.records.channel_records);
  EXPECT_EQ(source.records.count, 2500u);
  EXPECT_EQ(source.records.header, 16u);
  ASSERT_EQ(m.channels.size(), 2u);
  EXPECT_EQ(m.channels[0].length, 1500u * 64);
  EXPECT_EQ(m.channels[1].length, 1000u * 120);
  EXPECT_TRUE(m.channels[0].snippets);
  EXPECT_DOUBLE_EQ(m.channel_rate(0), 30000);
  EXPECT_DOUBLE_EQ(m.channel_rate(1), 1000);
  EXPECT_DOUBLE_EQ(m.duration_seconds(), 120);
}

// Format 17: records of one channel each with tails (SPEC §4.2): a Spike2 .smr file's waveform
// blocks (Respi, 200.8 Hz) and waveform marks (a channel of snippets) as runs of samples, every
// other byte (block headers, unused block ends, event blocks, free blocks) a record's tail.
TEST(Golden, Version17Spike2RecordTails) {
  const fs::path archive = test::golden_dir() / "v17" / "spike2.spikey";
  expect_golden_restores(archive, test::samples_dir() / "spike2");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 17);
  const auto& m = reader.metadata();
  const auto& source = m.sources[0];
  EXPECT_EQ(source.kind, format::SourceKind::spike2);
  EXPECT_TRUE(source.records.channel_records && source.records.tails);
  EXPECT_EQ(source.records.count, 186u + 247);
  EXPECT_EQ(source.records.header + source.records.trailer, 0u);
  ASSERT_EQ(m.channels.size(), 2u);
  EXPECT_EQ(m.channels[0].name, "Respi");
  EXPECT_EQ(m.channels[0].length, 45688u);
  EXPECT_EQ(m.channels[1].length, 247u * 102);
  EXPECT_TRUE(m.channels[1].snippets);
  EXPECT_EQ(m.chunk_samples, 4016u);
}

TEST(Golden, Version18AlphaOmegaRecordTails) {
  const fs::path archive = test::golden_dir() / "v18" / "alpha_omega.spikey";
  expect_golden_restores(archive, test::samples_dir() / "alpha_omega");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 18);
  const auto& m = reader.metadata();
  const auto& source = m.sources[0];
  EXPECT_EQ(source.kind, format::SourceKind::alpha_omega);
  EXPECT_TRUE(source.records.channel_records && source.records.tails);
  EXPECT_EQ(source.records.count, 4u * 134);
  EXPECT_EQ(source.records.header, 6u);
  EXPECT_EQ(source.records.trailer, 4u);
  ASSERT_EQ(m.channels.size(), 4u);
  EXPECT_EQ(m.channels[0].name, "2-AI001");
  EXPECT_EQ(m.channels[3].name, "2-AI024");
  for (const auto& c : m.channels) EXPECT_EQ(c.length, 66501u);
  EXPECT_DOUBLE_EQ(m.sample_rate, 12500);
}

TEST(Golden, Version18AxonAbf) {
  const fs::path archive = test::golden_dir() / "v18" / "abf.spikey";
  expect_golden_restores(archive, test::samples_dir() / "abf");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 18);
  const auto& m = reader.metadata();
  EXPECT_EQ(m.sources[0].kind, format::SourceKind::abf);
  EXPECT_EQ(m.sources[0].records.count, 0u);
  ASSERT_EQ(m.channels.size(), 1u);
  EXPECT_EQ(m.channels[0].name, "_Ipatch");
  EXPECT_EQ(m.channels[0].units, "mV");
  EXPECT_EQ(m.channels[0].length, 180000u);
  EXPECT_DOUBLE_EQ(m.sample_rate, 20000);
}

TEST(Golden, Version19AxonaRawPackets) {
  const fs::path archive = test::golden_dir() / "v19" / "axona.spikey";
  expect_golden_restores(archive, test::samples_dir() / "axona");
  const format::ArchiveReader reader(archive);
  EXPECT_EQ(reader.format_version(), 19);
  const auto& m = reader.metadata();
  const auto& source = m.sources[0];
  EXPECT_EQ(source.kind, format::SourceKind::axona);
  EXPECT_EQ(source.records.count, 192u);
  EXPECT_EQ(source.records.frames, 3u);
  EXPECT_EQ(source.records.header, 32u);
  EXPECT_EQ(source.records.trailer, 16u);
  ASSERT_EQ(m.channels.size(), 64u);
  EXPECT_EQ(m.channels[0].name, "ch8");  // frame position 0 holds channel 8
  EXPECT_EQ(m.channels[32].name, "ch0");
  EXPECT_EQ(m.channels[0].length, 576u);
  EXPECT_DOUBLE_EQ(m.sample_rate, 48000);
}
