#!/usr/bin/env bash
# CI: no codec decision outside the codec table. Product code (format library, host libraries,
# CLI, CUDA, Python module) must not name a codec or compare codec names; it reads the table's
# columns (container_format/include/spikey/format/codec_table.hpp). The metadata dictionary is
# sample JSON text, not a decision. Tests and benchmarks may name the codecs they choose.
#   codec_names_only_in_table.sh SOURCE_DIR
set -uo pipefail
cd "$1"
found=$(grep -rnE 'kCodec[A-Z][a-z]+[0-9]|"(rice1|lpc1|mo[1-9]|cm[1-9])"|(codec|codec\.name|codec_name)[[:space:]]*[!=]=[[:space:]]*"' \
          container_format/include container_format/src host cuda python/src \
        | grep -v -e 'container_format/include/spikey/format/codec_table.hpp:' -e 'container_format/src/metadata_dictionary.hpp:')
if [ -n "$found" ]; then
  echo "codec names outside the codec table (decide by its columns instead):"
  echo "$found"
  exit 1
fi
echo "no codec names outside the codec table"
