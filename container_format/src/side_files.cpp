// Side files' delta64 coding (SPEC.md §4.2): sample-number and timestamp arrays stored as
// differences of consecutive little-endian u64 words.
#include "spikey/format/archive.hpp"
#include "spikey/format/wire.hpp"

namespace spikey::format {

std::vector<std::uint8_t> delta64_encode(std::span<const std::uint8_t> file, std::uint64_t offset, std::uint64_t count) {
  std::vector<std::uint8_t> out(file.begin(), file.end());
  std::uint64_t previous = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t word = load_u64_le(file.data() + offset + 8 * i);
    store_u64_le(out.data() + offset + 8 * i, word - previous);
    previous = word;
  }
  return out;
}

MetadataCopy metadata_copy_of(const MetadataSection& section) {
  MetadataCopy copy;
  copy.metadata = section.metadata;
  std::uint64_t size = 0;
  const auto keep = [&](ByteRange& r) {
    const ByteRange from = r;
    r = {size, from.size};
    size += from.size;
    if (from.size > 0) copy.verbatim.push_back(std::span(section.verbatim).subspan(from.offset, from.size));
  };
  for (SourceFile& s : copy.metadata.sources) {
    if (s.kind == SourceKind::side_file && s.size > 0) {
      s.omitted = true;
      s.prefix = {};
      s.suffix = {};
      continue;
    }
    keep(s.prefix);
    if (s.records.count != 0) keep(s.records.framing);
    if (s.records.channel_records) keep(s.records.table);
    keep(s.suffix);
  }
  return copy;
}

std::vector<std::uint8_t> side_file_bytes(const SourceFile& source, std::span<const std::uint8_t> verbatim) {
  if (source.omitted) throw ArchiveError(omitted_file_message(source.path));
  const auto stored = verbatim.subspan(source.prefix.offset, source.prefix.size);
  std::vector<std::uint8_t> out(stored.begin(), stored.end());
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < source.delta64_count; ++i) {
    sum += load_u64_le(out.data() + source.delta64_offset + 8 * i);
    store_u64_le(out.data() + source.delta64_offset + 8 * i, sum);
  }
  return out;
}

namespace {

std::uint64_t load_le(const std::uint8_t* p, std::uint32_t width) {
  std::uint64_t v = 0;
  for (std::uint32_t i = 0; i < width; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}
void store_le(std::uint8_t* p, std::uint32_t width, std::uint64_t v) {
  for (std::uint32_t i = 0; i < width; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Replaces each field of records 1 .. count-1 by its difference from (encode) or its sum with
// (decode) the same field of the record before, as the file holds it.
std::vector<std::uint8_t> code_framing(std::span<const std::uint8_t> in, const SourceRecords& records, bool encode) {
  std::vector<std::uint8_t> out(in.begin(), in.end());
  const std::uint64_t stride = records.framing_bytes();
  for (const FramingField& field : records.fields) {
    const std::uint64_t mask = field.width == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * field.width)) - 1;
    std::uint64_t previous = 0;  // the file's value in the record before
    for (std::uint64_t r = 0; r < records.count; ++r) {
      std::uint8_t* at = out.data() + r * stride + field.at;
      const std::uint64_t value = load_le(at, field.width);
      const std::uint64_t file_value = encode ? value : (value + previous) & mask;
      store_le(at, field.width, encode ? (value - previous) & mask : file_value);
      previous = file_value;
    }
  }
  return out;
}

// Byte j of record r's framing moves to j * count + r (or back): each byte position of the
// records together, so that a field's bytes that vary from record to record (an electrode, a
// unit) do not break the runs of those that do not.
std::vector<std::uint8_t> transpose_framing(std::span<const std::uint8_t> in, const SourceRecords& records, bool to_positions) {
  std::vector<std::uint8_t> out(in.size());
  const std::uint64_t stride = records.framing_bytes();
  for (std::uint64_t r = 0; r < records.count; ++r)
    for (std::uint64_t j = 0; j < stride; ++j) {
      const std::uint64_t by_record = r * stride + j, by_position = j * records.count + r;
      out[to_positions ? by_position : by_record] = in[to_positions ? by_record : by_position];
    }
  return out;
}

// The records' fixed framing (count records of framing_bytes() each) and what follows it: the
// tails (version 17), kept as they are.
std::size_t fixed_framing_bytes(std::span<const std::uint8_t> framing, const SourceRecords& records) {
  const std::uint64_t fixed = records.count * records.framing_bytes();
  if (fixed > framing.size() || (!records.tails && fixed != framing.size())) throw ArchiveError("record framing of " + std::to_string(framing.size()) + " bytes, not " + std::to_string(fixed));
  return static_cast<std::size_t>(fixed);
}

}  // namespace

std::vector<std::uint8_t> framing_encode(std::span<const std::uint8_t> framing, const SourceRecords& records, bool by_position) {
  by_position = by_position || records.channel_records;  // records of one channel each: by position too (§4.2)
  const std::size_t fixed = fixed_framing_bytes(framing, records);
  std::vector<std::uint8_t> coded = code_framing(framing.first(fixed), records, true);
  if (by_position) coded = transpose_framing(coded, records, true);
  coded.insert(coded.end(), framing.begin() + static_cast<std::ptrdiff_t>(fixed), framing.end());
  return coded;
}

std::vector<std::uint8_t> framing_decode(std::span<const std::uint8_t> stored, const SourceRecords& records, bool by_position) {
  by_position = by_position || records.channel_records;
  const std::size_t fixed = fixed_framing_bytes(stored, records);
  const auto head = stored.first(fixed);
  std::vector<std::uint8_t> framing = code_framing(by_position ? transpose_framing(head, records, false) : std::vector<std::uint8_t>(head.begin(), head.end()), records, false);
  framing.insert(framing.end(), stored.begin() + static_cast<std::ptrdiff_t>(fixed), stored.end());
  return framing;
}

std::vector<std::uint8_t> record_table_bytes(const RecordTable& table) {
  const std::size_t count = table.channels.size();
  std::vector<std::uint8_t> out((table.tails.empty() ? 8 : 12) * count);
  for (std::size_t r = 0; r < count; ++r) {
    store_u32_le(out.data() + 4 * r, table.channels[r]);
    store_u32_le(out.data() + 4 * (count + r), table.lengths[r]);
    if (!table.tails.empty()) store_u32_le(out.data() + 4 * (2 * count + r), table.tails[r]);
  }
  return out;
}

RecordTable parse_record_table(std::span<const std::uint8_t> stored, const SourceFile& source, std::span<const std::uint64_t> channel_lengths) {
  const std::uint64_t count = source.records.count;
  const auto bad = [&](const std::string& why) { throw ArchiveError(source.path + ": record table: " + why); };
  const std::uint64_t columns = source.records.tails ? 3 : 2;  // channels, lengths, and from version 17 tails
  if (stored.size() != 4 * columns * count || channel_lengths.size() != source.channel_count) bad("not " + std::to_string(4 * columns) + " bytes a record");
  RecordTable table;
  table.channels.resize(count);
  table.lengths.resize(count);
  std::uint64_t tail_bytes = 0;
  if (source.records.tails) {
    table.tails.resize(count);
    for (std::uint64_t r = 0; r < count; ++r) tail_bytes += table.tails[r] = load_u32_le(stored.data() + 4 * (2 * count + r));
    const std::uint64_t fixed = count * source.records.framing_bytes();
    if (source.records.framing.size < fixed || tail_bytes != source.records.framing.size - fixed)
      bad("the tails hold " + std::to_string(tail_bytes) + " bytes, the framing " + std::to_string(source.records.framing.size) + " after " + std::to_string(fixed) + " of records' framing");
  }
  std::vector<std::uint64_t> sums(source.channel_count, 0);
  for (std::uint64_t r = 0; r < count; ++r) {
    table.channels[r] = load_u32_le(stored.data() + 4 * r);
    table.lengths[r] = load_u32_le(stored.data() + 4 * (count + r));
    if (table.channels[r] >= source.channel_count)
      bad("record " + std::to_string(r) + " names channel " + std::to_string(table.channels[r]) + " of " + std::to_string(source.channel_count));
    sums[table.channels[r]] += table.lengths[r];  // under 2^31 records (8 bytes each of at most 2^34) of under 2^32 samples
  }
  for (std::uint32_t j = 0; j < source.channel_count; ++j)
    if (sums[j] != channel_lengths[j])
      bad("channel " + std::to_string(j) + "'s records hold " + std::to_string(sums[j]) + " samples, not its length " + std::to_string(channel_lengths[j]));
  return table;
}

}  // namespace spikey::format
