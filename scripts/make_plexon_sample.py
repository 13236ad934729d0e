#!/usr/bin/env python3
"""Builds samples/plexon/, two Plexon .plx files cut from real ones.

The sources are `plexon/File_plexon_1.plx` and `plexon/File_plexon_3.plx` of the NeuralEnsemble
`ephy_testing_data` collection, as mirrored in github.com/catalystneuro/neuroconv at commit
8673b9b12ba7da6d6ff3a0ea81e7833c9f2379db (`git show 8673b9b:ephy_testing_data/plexon/<file>`);
give the folder that holds them. Neither is in ../shared/data.

- File_plexon_1_head.plx: File_plexon_1.plx (PLX version 101, 4 DSP channels of 40-sample
  spike waveforms at 40 kHz, no continuous channel) cut after its first 2500 data blocks.
- File_plexon_3_cut.plx: File_plexon_3.plx (PLX version 106, 31 DSP channels of 64-sample
  waveforms at 30 kHz and one slow channel `V1` at 1 kHz; its blocks are every spike block,
  then every continuous block) keeping its headers, its first 1500 spike blocks and its first
  1000 continuous blocks, in the file's order. Header counts (timestamps, last timestamp) are
  left as they were.
"""
import pathlib
import struct
import sys

root = pathlib.Path(__file__).resolve().parent.parent
source = pathlib.Path(sys.argv[1])
out = root / "samples" / "plexon"
out.mkdir(parents=True, exist_ok=True)


def blocks(b):
    """(start, end, type) of every data block after the headers."""
    dsp, events, slow = struct.unpack_from("<3i", b, 140)
    at = 7504 + 1020 * dsp + 296 * (events + slow)
    found = []
    while at + 16 <= len(b):
        kind = struct.unpack_from("<h", b, at)[0]
        waveforms, words = struct.unpack_from("<hh", b, at + 12)
        end = at + 16 + 2 * waveforms * words
        found.append((at, end, kind))
        at = end
    return found


one = (source / "File_plexon_1.plx").read_bytes()
(out / "File_plexon_1_head.plx").write_bytes(one[: blocks(one)[2499][1]])

three = (source / "File_plexon_3.plx").read_bytes()
kept = []
spikes = continuous = 0
for start, end, kind in blocks(three):
    if kind == 1 and spikes < 1500:
        spikes += 1
        kept.append(three[start:end])
    elif kind == 5 and continuous < 1000:
        continuous += 1
        kept.append(three[start:end])
first = blocks(three)[0][0]
(out / "File_plexon_3_cut.plx").write_bytes(three[:first] + b"".join(kept))
