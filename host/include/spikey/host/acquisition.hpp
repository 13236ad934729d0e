// Inputs in acquisition systems' own layouts (SPEC.md §4.1): SpikeGLX .bin files with their
// .meta, Open Ephys binary recording folders (structure.oebin), and the side files archived
// whole beside them (.meta, .oebin, .npy, settings.xml, ...).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "spikey/host/recording.hpp"

namespace spikey::host {

// Whether `file`'s extension is `wanted` (".bin"), ignoring case.
bool has_extension(const std::filesystem::path& file, const char* wanted);

// Interleaved int16 with `channels` channels after `offset` header bytes; a partial last frame
// stays verbatim. Throws InputError when the offset lies past the end of the file.
InputSource open_interleaved_int16(const std::filesystem::path& file, std::string restore_path, format::SourceKind kind,
                                   std::uint32_t channels, double sample_rate, std::uint64_t offset = 0);

// A file kept whole. An .npy array of 8-byte elements (int64 sample numbers, float64
// timestamps) gets its elements delta64-coded so that regular sequences compress to nothing.
InputSource open_side_file(const std::filesystem::path& file, std::string restore_path);

// A run of one channel's samples in a file of records of one channel each with tails (SPEC
// §4.2, version 17): its record starts at `record` (its framing, `records.header` bytes, then
// `samples` int16 samples, then `records.trailer` bytes).
struct ChannelRun {
  std::uint64_t record = 0;
  std::uint32_t samples = 0;
  std::uint32_t channel = 0;  // of the source
};
// Sets src's records from `runs` in file order (src.records.header and trailer set, and a label,
// rate and snippet flag per channel): every byte from one record's end to the next record is
// the first's tail, everything before the first the prefix; the source's rate is its first
// time series' (spike waveforms have no time axis). Returns false, setting nothing, when two
// runs lie over 4 GiB apart (a tail is at most 2^32 - 1 bytes), with `far` the byte where.
bool set_records_with_tails(InputSource& src, std::span<const ChannelRun> runs, std::uint64_t& far);

// SpikeGLX: `x.bin` pairs with `x.meta` in the same folder.
std::filesystem::path spikeglx_meta_of(const std::filesystem::path& bin);
bool is_spikeglx_bin(const std::filesystem::path& file);
bool is_spikeglx_meta(const std::filesystem::path& file);  // an x.meta beside its x.bin
// Channel count, rate, names, gains and sync channels from the .meta; the .bin's size and
// SHA-1 checked against fileSizeBytes and fileSHA1 when the .meta has them (`note` hears of
// checks that take a while). Throws InputError.
InputSource open_spikeglx_bin(const std::filesystem::path& bin, std::string restore_path,
                              const std::function<void(const std::string&)>& note);

// Open Ephys binary format: the continuous streams a structure.oebin describes.
struct OpenEphysStream {
  std::filesystem::path dat;  // <oebin folder>/continuous/<folder_name>/continuous.dat
  std::uint32_t channel_count = 0;
  double sample_rate = 0;
  std::vector<ChannelLabel> labels;
};
std::vector<OpenEphysStream> read_structure_oebin(const std::filesystem::path& oebin);
InputSource open_open_ephys_stream(const OpenEphysStream& stream, std::string restore_path);

// Neuralynx continuously sampled channels (.ncs, host/src/formats/neuralynx.cpp) and Open
// Ephys legacy .continuous files (host/src/formats/open_ephys_legacy.cpp): one channel each,
// its samples in records (SPEC §4.2). A partial last record is kept verbatim, with a warning to
// `note`. Throws InputError naming the file and byte.
bool is_neuralynx_ncs(const std::filesystem::path& file);
InputSource open_neuralynx_ncs(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note);
bool is_open_ephys_continuous(const std::filesystem::path& file);
InputSource open_open_ephys_continuous(const std::filesystem::path& file, std::string restore_path,
                                       const std::function<void(const std::string&)>& note);

// Blackrock .ns1-.ns6 (host/src/formats/blackrock.cpp): file spec 2.1, 2.2/2.3 and 3.0, names and
// gains from the extended headers. Throws InputError naming the file and byte.
bool is_blackrock_nsx(const std::filesystem::path& file);
// A Blackrock event file (.nev starting "NEURALEV"): its spike waveforms as snippets in records
// (SPEC §4.1, §4.2, version 14), or, when they are not 16-bit, the file as a side file.
bool is_blackrock_nev(const std::filesystem::path& file);
InputSource open_blackrock_nev(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note);
// Plexon .plx (host/src/formats/plexon.cpp, "PLEX" magic): spike waveforms and continuous
// channels as records of one channel each (SPEC §4.1, §4.2, version 16).
bool is_plexon_plx(const std::filesystem::path& file);
InputSource open_plexon_plx(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note);
// CED Spike2 .smr (host/src/formats/spike2.cpp, "(C) CED 87" at byte 2, SON versions 1-8):
// waveform and waveform-mark channels as records of one channel each with tails (SPEC §4.1,
// §4.2, version 17).
bool is_spike2_smr(const std::filesystem::path& file);
InputSource open_spike2_smr(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note);
// AlphaOmega .mpx and .map files (host/src/formats/alpha_omega.cpp, a 60-byte 'h' block first):
// each analog input's data blocks as records of its channel with tails (SPEC §4.1, §4.2,
// version 18); segmented channels (spike waveforms) as snippets.
bool is_alpha_omega_file(const std::filesystem::path& file);
InputSource open_alpha_omega_file(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note);
// Axon Binary Format files (host/src/formats/abf.cpp, "ABF " or "ABF2"): the data section's
// interleaved int16 (or float32 on a grid of int16 codes) as the frames, everything else the
// prefix and suffix (SPEC §4.1, version 18).
bool is_abf_file(const std::filesystem::path& file);
InputSource open_abf_file(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note);
// Axona DacqUSB raw .bin files (host/src/formats/axona.cpp, packets starting "ADU1"/"ADU2"):
// packets of 3 frames of 64 channels as records (SPEC §4.1, §4.2, version 19); rate and gains
// from the .set beside it.
bool is_axona_bin(const std::filesystem::path& file);
InputSource open_axona_bin(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note);
// White Matter eCube .bin files (host/src/formats/white_matter.cpp), known by a name holding
// "<N>ch_<R>sps": an 8-byte header, then interleaved int16 frames (SPEC §4.1 `raw`).
bool is_white_matter_bin(const std::filesystem::path& file);
InputSource open_white_matter_bin(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note);
InputSource open_blackrock_nsx(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note);

// Intan RHD folders (host/src/formats/intan.cpp): info.rhd, time.dat and the sample files of
// the "one file per channel" or "one file per signal type" layouts; `files` are the directory's
// files by relative path (restore paths). Returns a source per sample file and time.dat; the
// folder's other files are the caller's side files. Throws InputError naming file and byte.
bool is_intan_folder_file(const std::filesystem::path& file);
std::vector<InputSource> open_intan_folder(const std::filesystem::path& info, const std::vector<std::pair<std::string, std::filesystem::path>>& files,
                                           const std::string& folder_prefix, const std::function<void(const std::string&)>& note);

// Intan traditional .rhd and .rhs files (host/src/formats/intan_file.cpp): the header, then
// data blocks as planar records (SPEC §4.2) of the full-rate signals; a partial last block is
// kept verbatim with a warning. Throws InputError naming the file and byte.
bool is_intan_file(const std::filesystem::path& file);
InputSource open_intan_file(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note);

// NWB files (host/src/formats/nwb.cpp, with libhdf5): the largest ElectricalSeries under
// /acquisition whose data are contiguous 16-bit integers becomes the source's channels, the
// rest of the file verbatim; without one, the file is a side file (with a note). Throws
// InputError when the file is not HDF5, or when spikey was built without HDF5.
bool is_nwb(const std::filesystem::path& file);
InputSource open_nwb(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note);

// Uppercase hex SHA-1, the form of SpikeGLX's fileSHA1.
std::string sha1_hex(std::span<const std::uint8_t> bytes);

}  // namespace spikey::host
