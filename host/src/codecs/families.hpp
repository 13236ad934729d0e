// Each codec family's decoder and encoder (codecs/<family>/), for the switches in
// decoder_families.cpp and encoder_families.cpp.
#pragma once

namespace spikey::host::codecs {

class DecoderFamily;
class EncoderFamily;

const DecoderFamily& lpc_decoder();
const DecoderFamily& mo_decoder();
const DecoderFamily& cm_decoder();
const DecoderFamily& mt_decoder();
const EncoderFamily& lpc_encoder();
const EncoderFamily& mo_encoder();
const EncoderFamily& cm_encoder();
const EncoderFamily& mt_encoder();

namespace legacy {
const DecoderFamily& rice1_decoder();
const EncoderFamily& rice1_encoder();
}  // namespace legacy

}  // namespace spikey::host::codecs
