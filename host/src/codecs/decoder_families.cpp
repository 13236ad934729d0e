// The one switch from a codec table row to its family's decoder. Frozen codecs (rice1) live in
// codecs/legacy/, decoded as long as archives hold them.
#include <stdexcept>
#include <string>

#include "codecs/decoder_family.hpp"
#include "codecs/families.hpp"

namespace spikey::host::codecs {

const DecoderFamily& decoder_family(const format::CodecRow& row) {
  switch (row.family) {
    case format::CodecFamily::rice1: return legacy::rice1_decoder();
    case format::CodecFamily::lpc: return lpc_decoder();
    case format::CodecFamily::mo: return mo_decoder();
    case format::CodecFamily::cm: return cm_decoder();
    case format::CodecFamily::mt: return mt_decoder();
  }
  throw std::logic_error("codec " + std::string(row.name) + " has no decoder");
}

}  // namespace spikey::host::codecs
