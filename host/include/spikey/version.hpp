#pragma once

namespace spikey {
inline constexpr const char* kVersion = "0.12.0";
}
