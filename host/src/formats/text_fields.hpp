// Key-value text headers of acquisition formats: Neuralynx's "-Key value" lines, Open Ephys
// legacy's "header.key = value;" lines and Axona's "key value" lines.
#pragma once

#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace spikey::host {

struct TextFields {
  std::map<std::string, std::string> values;
  std::string text(const std::string& key) const {
    const auto it = values.find(key);
    return it == values.end() ? std::string() : it->second;
  }
  // The value as a number, when it is one (quotes around it allowed).
  std::optional<double> number(const std::string& key) const {
    std::string v = text(key);
    if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    if (v.empty()) return std::nullopt;
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0') return std::nullopt;
    return x;
  }
};

inline std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// "-Key value" lines (Neuralynx): the value is the rest of the line, unquoted when quoted whole.
inline TextFields dash_key_fields(const std::string& header) {
  TextFields out;
  std::istringstream in(header);
  for (std::string line; std::getline(in, line);) {
    line = trimmed(line);
    if (line.size() < 2 || line[0] != '-') continue;
    const auto space = line.find_first_of(" \t");
    const std::string key = line.substr(1, space == std::string::npos ? std::string::npos : space - 1);
    std::string value = space == std::string::npos ? std::string() : trimmed(line.substr(space));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"' && value.find('"', 1) == value.size() - 1)
      value = value.substr(1, value.size() - 2);
    out.values.emplace(key, value);
  }
  return out;
}

// "key value" lines (an Axona .set): the value is the rest of the line.
inline TextFields space_key_fields(const std::string& text) {
  TextFields out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    line = trimmed(line);
    const auto space = line.find_first_of(" \t");
    if (space == std::string::npos || space == 0) continue;
    out.values.emplace(line.substr(0, space), trimmed(line.substr(space)));
  }
  return out;
}

// "header.key = value;" statements (Open Ephys legacy): string values lose their quotes.
inline TextFields open_ephys_header_fields(const std::string& header) {
  TextFields out;
  std::istringstream in(header);
  for (std::string statement; std::getline(in, statement, ';');) {
    statement = trimmed(statement);
    const auto dot = statement.find("header.");
    const auto eq = statement.find('=');
    if (dot == std::string::npos || eq == std::string::npos || eq < dot) continue;
    const std::string key = trimmed(statement.substr(dot + 7, eq - dot - 7));
    std::string value = trimmed(statement.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') value = value.substr(1, value.size() - 2);
    out.values.emplace(key, value);
  }
  return out;
}

}  // namespace spikey::host
