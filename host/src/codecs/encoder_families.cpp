// The one switch from a codec table row to its family's encoder.
#include <stdexcept>
#include <string>

#include "codecs/encoder_family.hpp"
#include "codecs/families.hpp"

namespace spikey::host::codecs {

const EncoderFamily& encoder_family(const format::CodecRow& row) {
  switch (row.family) {
    case format::CodecFamily::rice1: return legacy::rice1_encoder();
    case format::CodecFamily::lpc: return lpc_encoder();
    case format::CodecFamily::mo: return mo_encoder();
    case format::CodecFamily::cm: return cm_encoder();
    case format::CodecFamily::mt: return mt_encoder();
  }
  throw std::logic_error("codec " + std::string(row.name) + " has no encoder");
}

}  // namespace spikey::host::codecs
