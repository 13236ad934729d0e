#pragma once

namespace spikey {
inline constexpr const char* kVersion = "0.18.0";
}
