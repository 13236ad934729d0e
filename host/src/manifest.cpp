#include "spikey/host/manifest.hpp"

#include <fstream>
#include <stdexcept>

#include "spikey/host/wav.hpp"

namespace spikey::host {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> tokens_of(const std::string& line, const std::string& where) {
  std::vector<std::string> tokens;
  std::string current;
  bool quoted = false, have = false;
  for (const char c : line) {
    if (c == '"') {
      quoted = !quoted;
      have = true;
    } else if (!quoted && (c == ' ' || c == '\t' || c == '\r')) {
      if (have) tokens.push_back(current), current.clear(), have = false;
    } else {
      current += c;
      have = true;
    }
  }
  if (quoted) throw InputError(where + ": unterminated quote");
  if (have) tokens.push_back(current);
  return tokens;
}

}  // namespace

std::vector<ManifestEntry> read_manifest(const fs::path& manifest) {
  std::ifstream in(manifest);
  if (!in) throw InputError("cannot read manifest " + manifest.string());
  const fs::path base = fs::absolute(manifest).parent_path();
  std::vector<ManifestEntry> entries;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    auto tokens = tokens_of(line, manifest.string() + " line " + std::to_string(number));
    ManifestEntry e;
    e.line = number;
    const fs::path input(tokens.front());
    e.input = (input.is_absolute() ? input : base / input).lexically_normal();
    if (!e.input.has_filename()) e.input = e.input.parent_path();  // "dir/" -> "dir"
    e.options.assign(tokens.begin() + 1, tokens.end());
    entries.push_back(std::move(e));
  }
  if (in.bad()) throw InputError("cannot read manifest " + manifest.string());
  return entries;
}

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  const auto number = [&](const std::string& s) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 9)
      throw std::invalid_argument("--shard \"" + text + "\": expected I/N with 0 <= I < N");
    return static_cast<std::size_t>(std::stoul(s));
  };
  if (slash == std::string::npos) throw std::invalid_argument("--shard \"" + text + "\": expected I/N with 0 <= I < N");
  Shard shard{number(text.substr(0, slash)), number(text.substr(slash + 1))};
  if (shard.count == 0 || shard.index >= shard.count) throw std::invalid_argument("--shard \"" + text + "\": expected I/N with 0 <= I < N");
  return shard;
}

fs::path archive_path_for(const fs::path& output_root, const fs::path& input) {
  const fs::path absolute = fs::absolute(input).lexically_normal();
  return output_root / fs::path(absolute.relative_path().string() + ".spikey");
}

fs::path report_path_for(const fs::path& archive) { return fs::path(archive.string() + ".json"); }

}  // namespace spikey::host
