#pragma once

namespace spikey {
inline constexpr const char* kVersion = "0.16.0";
}
