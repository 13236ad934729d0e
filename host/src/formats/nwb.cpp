// NWB files (Neurodata Without Borders 2.x, HDF5; NWB schema "ElectricalSeries"; HDF Group,
// "HDF5 File Format Specification"), read with libhdf5. The samples of an ElectricalSeries
// under /acquisition whose `data` is a contiguous, unfiltered dataset of 16-bit integers,
// shaped (time) or (time, channels) in C order, lie in the file as one block of interleaved
// frames (H5Dget_offset): they become the source's channels (SPEC.md §4.2), with the rate from
// `starting_time`'s `rate` attribute (else from `timestamps`), the gain from `data`'s
// `conversion` attribute (volts per step, stored as µV); every other byte of the file is kept
// verbatim, so the file restores byte for byte. A series of 32- or 64-bit floats is taken the
// same way when every value is an int16 code times one step (formats/float_grid.hpp: data
// converted from an ADC's integers), the codes compressed and the floats restored bit for bit.
// A file with no such series (floats off any grid, chunked or compressed datasets) is kept
// whole as a side file, with a note that says why.
#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "formats/float_grid.hpp"

#include "spikey/host/acquisition.hpp"

#if defined(SPIKEY_WITH_HDF5)
#include <hdf5.h>
#endif

namespace spikey::host {

bool is_nwb(const std::filesystem::path& file) { return has_extension(file, ".nwb"); }

#if defined(SPIKEY_WITH_HDF5)

namespace {

// An HDF5 identifier closed on scope exit.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

std::string string_attribute(hid_t object, const char* name) {
  if (H5Aexists(object, name) <= 0) return {};
  const Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  const Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (!attr.ok() || H5Tget_class(type.get()) != H5T_STRING) return {};
  if (H5Tis_variable_str(type.get()) > 0) {
    const Handle memtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memtype.get(), H5T_VARIABLE);
    H5Tset_cset(memtype.get(), H5Tget_cset(type.get()));  // h5py and pynwb write UTF-8, which libhdf5 will not convert to ASCII
    char* value = nullptr;
    if (H5Aread(attr.get(), memtype.get(), &value) < 0 || value == nullptr) return {};
    std::string out(value);
    H5free_memory(value);
    return out;
  }
  std::string out(H5Tget_size(type.get()), '\0');
  if (H5Aread(attr.get(), type.get(), out.data()) < 0) return {};
  return out.substr(0, out.find('\0'));
}

std::optional<double> number_attribute(hid_t object, const char* name) {
  if (H5Aexists(object, name) <= 0) return std::nullopt;
  const Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  double v = 0;
  if (!attr.ok() || H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v) < 0) return std::nullopt;
  return v;
}

struct Series {
  std::string name;
  std::uint64_t offset = 0, frames = 0;
  std::uint32_t channels = 0;
  bool is_unsigned = false, big_endian = false;
  std::uint32_t float_bytes = 0;  // 4 or 8: float samples, compressed when they lie on a grid
  double float_step = 0;
  double rate = 0;
  std::optional<double> volts_per_step;
  std::string why_not;  // empty: usable
};

Series examine_series(hid_t group, const std::string& name) {
  Series s;
  s.name = name;
  const Handle data(H5Dopen2(group, "data", H5P_DEFAULT), H5Dclose);
  if (!data.ok()) return s.why_not = "no data", s;
  const Handle type(H5Dget_type(data.get()), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  const std::size_t type_size = H5Tget_size(type.get());
  if (type_class == H5T_FLOAT && (type_size == 4 || type_size == 8))
    s.float_bytes = static_cast<std::uint32_t>(type_size);
  else if (type_class != H5T_INTEGER || type_size != 2)
    return s.why_not = "its data are neither 16-bit integers nor 32- or 64-bit floats", s;
  else
    s.is_unsigned = H5Tget_sign(type.get()) == H5T_SGN_NONE;
  s.big_endian = H5Tget_order(type.get()) == H5T_ORDER_BE;
  const Handle plist(H5Dget_create_plist(data.get()), H5Pclose);
  if (H5Pget_layout(plist.get()) != H5D_CONTIGUOUS || H5Pget_nfilters(plist.get()) != 0)
    return s.why_not = "its data are stored chunked or compressed", s;
  const Handle space(H5Dget_space(data.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  hsize_t dims[2] = {0, 1};
  if (rank < 1 || rank > 2 || H5Sget_simple_extent_dims(space.get(), dims, nullptr) < 0) return s.why_not = "its data are not (time, channels)", s;
  if (dims[0] == 0 || dims[1] == 0 || dims[1] > 65535) return s.why_not = "its data are empty or have over 65535 channels", s;
  const haddr_t offset = H5Dget_offset(data.get());
  if (offset == HADDR_UNDEF) return s.why_not = "its data are not written", s;
  s.offset = offset;
  s.frames = dims[0];
  s.channels = static_cast<std::uint32_t>(dims[1]);
  s.volts_per_step = number_attribute(data.get(), "conversion");
  if (H5Lexists(group, "starting_time", H5P_DEFAULT) > 0) {
    const Handle start(H5Dopen2(group, "starting_time", H5P_DEFAULT), H5Dclose);
    if (start.ok()) s.rate = number_attribute(start.get(), "rate").value_or(0);
  }
  if (s.rate <= 0 && H5Lexists(group, "timestamps", H5P_DEFAULT) > 0) {
    const Handle ts(H5Dopen2(group, "timestamps", H5P_DEFAULT), H5Dclose);
    const Handle ts_space(H5Dget_space(ts.get()), H5Sclose);
    hsize_t n = 0;
    if (ts.ok() && H5Sget_simple_extent_ndims(ts_space.get()) == 1 && H5Sget_simple_extent_dims(ts_space.get(), &n, nullptr) >= 0 && n >= 2) {
      std::vector<double> t(n);
      if (H5Dread(ts.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()) >= 0 && t.back() > t.front())
        s.rate = static_cast<double>(n - 1) / (t.back() - t.front());
    }
  }
  if (!(s.rate > 0) || !std::isfinite(s.rate)) return s.why_not = "no sampling rate (starting_time's rate or timestamps)", s;
  return s;
}

// The shortest decimal text that reads back as `v` exactly.
std::string shortest_exact_text(double v) {
  for (int digits = 1;; ++digits) {
    std::ostringstream text;
    text << std::setprecision(digits) << v;
    if (digits >= 17 || std::stod(text.str()) == v) return text.str();
  }
}

}  // namespace

InputSource open_nwb(const std::filesystem::path& file, std::string restore_path, const std::function<void(const std::string&)>& note) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported here, not printed by the library
  std::vector<Series> series;
  std::uint64_t file_size = 0;
  {
    const Handle h5(H5Fopen(file.string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!h5.ok()) {
      // An HDF5 file starts with its signature (at byte 0 as NWB writers place it).
      const MappedFile bytes(file);
      static constexpr std::uint8_t kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
      if (bytes.size() >= 8 && std::memcmp(bytes.bytes().data(), kSignature, 8) == 0)
        throw InputError(file.string() + ": an HDF5 file that libhdf5 cannot open (" + std::to_string(bytes.size()) +
                         " bytes: truncated or damaged?)");
      throw InputError(file.string() + ": byte 0: no HDF5 signature; not an HDF5 file (an NWB file is HDF5)");
    }
    hsize_t size = 0;
    H5Fget_filesize(h5.get(), &size);
    file_size = size;
    if (H5Lexists(h5.get(), "/acquisition", H5P_DEFAULT) > 0) {
      const Handle acquisition(H5Gopen2(h5.get(), "/acquisition", H5P_DEFAULT), H5Gclose);
      H5G_info_t info;
      if (acquisition.ok() && H5Gget_info(acquisition.get(), &info) >= 0) {
        for (hsize_t i = 0; i < info.nlinks; ++i) {
          char name[512] = {};
          if (H5Lget_name_by_idx(acquisition.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) < 0) continue;
          const Handle group(H5Gopen2(acquisition.get(), name, H5P_DEFAULT), H5Gclose);
          if (!group.ok() || string_attribute(group.get(), "neurodata_type") != "ElectricalSeries") continue;
          series.push_back(examine_series(group.get(), name));
        }
      }
    }
  }
  MappedFile map(file);  // the source's, when a series is taken
  for (auto& s : series) {
    const std::uint64_t width = s.float_bytes != 0 ? s.float_bytes : 2;
    if (!s.why_not.empty()) continue;
    if (s.offset > file_size || s.frames * s.channels > (file_size - s.offset) / width || file_size != map.size()) {
      s.why_not = "its data lie past the end of the file";
    } else if (s.float_bytes != 0) {
      const auto grid = find_float_grid(map.bytes().subspan(s.offset, s.frames * s.channels * width), s.float_bytes, s.big_endian);
      if (!grid) s.why_not = "its float values are not all whole multiples of one step (int16 codes)";
      else s.float_step = *grid;
    }
  }
  const Series* best = nullptr;
  for (const auto& s : series)
    if (s.why_not.empty() && (best == nullptr || s.frames * s.channels > best->frames * best->channels)) best = &s;
  for (const auto& s : series)
    if (&s != best)
      note(file.string() + ": ElectricalSeries " + s.name + " is kept verbatim" + (s.why_not.empty() ? " (a larger series is compressed)" : ": " + s.why_not));
  if (best == nullptr) {
    note(file.string() + ": no ElectricalSeries of contiguous 16-bit samples (or floats on a grid of int16 codes) under /acquisition; the file is "
         "kept whole (zstd) and restores byte for byte");
    return open_side_file(file, std::move(restore_path));
  }
  InputSource src{file, std::move(restore_path), format::SourceKind::nwb, std::move(map)};
  src.channel_count = best->channels;
  src.sample_rate = best->rate;
  src.data_offset = best->offset;
  src.frames = best->frames;
  src.unsigned_samples = best->is_unsigned;
  src.big_endian = best->big_endian;
  src.float_bytes = best->float_bytes;
  src.sample_step = best->float_step;
  if (best->float_bytes != 0)
    note(file.string() + ": ElectricalSeries " + best->name + " holds " + std::to_string(8 * best->float_bytes) +
         "-bit floats that are all whole multiples of " + shortest_exact_text(best->float_step) +
         ": compressed as int16 codes, restored bit for bit");
  for (std::uint32_t c = 0; c < best->channels; ++c) {
    ChannelLabel label;
    label.name = best->name + (best->channels > 1 ? ":" + std::to_string(c) : "");
    if (best->volts_per_step && *best->volts_per_step > 0 && std::isfinite(*best->volts_per_step)) {
      label.bit_volts = *best->volts_per_step * 1e6 * (best->float_bytes != 0 ? best->float_step : 1.0);
      label.units = "uV";
    }
    src.labels.push_back(std::move(label));
  }
  return src;
}

#else

InputSource open_nwb(const std::filesystem::path& file, std::string, const std::function<void(const std::string&)>&) {
  throw InputError(file.string() + ": this spikey was built without HDF5 (install libhdf5-dev and rebuild), so it cannot read NWB files; "
                   "give it inside a folder to keep it whole as a side file");
}

#endif

}  // namespace spikey::host
