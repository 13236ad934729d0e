#pragma once

namespace spikey {
inline constexpr const char* kVersion = "0.19.0";
}
