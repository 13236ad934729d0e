#!/usr/bin/env python3
"""Builds the committed seed corpora from the bundled real sample (samples/).

    python3 fuzz/make_corpus.py build/host/spikey

archive/: small real archives at every level (mono N1 files, 4-channel Intan, a SpikeGLX pair with
a sync channel and an Open Ephys folder), 3 KB or so each,
so that mutations reach every codec, and a salvaged one with lost chunks. The *_v4 to *_v8 files
were made by this script with spikey 0.4.0 to 0.9.0 (format versions 4 to 9) and are kept as seeds
for those versions; the *_v11 files are format 11 (records, side files left out of the metadata
copy), the *_v12 files format 12 (planar records, float samples); the unsuffixed ones are the
current version (stream checks, the metadata copy, a salvaged archive with lost streams, records,
format 12's planar records of Intan .rhd/.rhs files, format 13's records of unequal lengths,
format 14's snippets of a Blackrock .nev, format 15's metadata in several zstd frames, format 16's
records of one channel each of a Plexon .plx, format 17's records with tails of a Spike2 .smr,
format 18's of an AlphaOmega .mpx);
inputs/abf_cut.in is a cut Axon .abf (format 18's abf kind), inputs/axona_raw_cut.in a cut Axona raw .bin
(format 19);
blackrock_paused_records_v13 is format 13, blackrock_nev_snippets_v14 format 14. inputs/: a mode byte (fuzz_inputs.cpp) followed by small
WAV (plain, with extra chunks, EXTENSIBLE) and raw slices of the same recordings, and small
SpikeGLX and Open Ephys folders (acquisition mode).
"""
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N1 = os.path.join(ROOT, "samples/neuralink/4fd5d61c-1484-441c-8c3c-b5669d0e2292.wav")
N1_RAILS = os.path.join(ROOT, "samples/neuralink/3830d316-1af4-4496-be1a-553298450516.wav")
CINPLA = os.path.join(ROOT, "samples/cinpla32/cinpla32_30kHz_first6000.dat")


def n1_samples(path, start, count):
    with open(path, "rb") as f:
        data = f.read()
    return data[44 + 2 * start: 44 + 2 * (start + count)]


def cinpla_frames(channels, start, count):
    """`channels` of the first 32, frames [start, start+count), interleaved int16 bytes."""
    with open(CINPLA, "rb") as f:
        data = f.read()
    out = bytearray()
    for t in range(start, start + count):
        frame = data[64 * t: 64 * (t + 1)]
        for c in channels:
            out += frame[2 * c: 2 * c + 2]
    return bytes(out)


def wav(channels, rate, samples, extensible=False, extra=b""):
    block = 2 * channels
    if extensible:
        fmt = struct.pack("<HHIIHHHHI16s", 0xFFFE, channels, rate, rate * block, block, 16, 22, 16, 0,
                          bytes.fromhex("0100000000001000800000aa00389b71"))
    else:
        fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    body += b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def paused_nsx(lengths):
    """samples/blackrock_paused's headers (8 channels) with packets of `lengths` of its frames, the
    last after a pause of 100 frames in the timestamps."""
    with open(os.path.join(ROOT, "samples/blackrock_paused/paused-001.ns5"), "rb") as f:
        data = f.read()
    headers = struct.unpack_from("<I", data, 10)[0]
    frames = data[headers + 9: headers + 9 + 16] + data[headers + 9 + 16 + 9:]  # the first two packets' frames
    out, at, timestamp = bytearray(data[:headers]), 0, 0
    for i, n in enumerate(lengths):
        timestamp += 100 if i == len(lengths) - 1 else 0
        out += bytes([1]) + struct.pack("<II", timestamp, n) + frames[16 * at: 16 * (at + n)]
        at, timestamp = at + n, timestamp + n
    return bytes(out)


def ao_first_data_block(mpx):
    """The byte of an AlphaOmega file's first type-5 (channel data) block."""
    at = 0
    while True:
        length, kind = struct.unpack_from("<Hc", mpx, at)
        if kind == b"5":
            return at
        at += length


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    spikey = sys.argv[1]
    out = os.path.join(ROOT, "fuzz/corpus")
    levels = {"fast": 0x00, "default": 0x40, "max": 0x80}
    with tempfile.TemporaryDirectory() as tmp:
        a = os.path.join(tmp, "a.wav")
        b = os.path.join(tmp, "b.wav")
        write(a, wav(1, 19531, n1_samples(N1, 0, 1200)))
        write(b, wav(1, 19531, n1_samples(N1_RAILS, 3000, 900)))
        raw = os.path.join(tmp, "four.bin")
        write(raw, cinpla_frames([0, 1, 2, 3], 0, 600))
        os.makedirs(os.path.join(out, "archive"), exist_ok=True)
        for level in levels:
            subprocess.run([spikey, "compress", a, b, "-o", os.path.join(out, "archive", f"n1_two_files_{level}.spikey"),
                            "--level", level, "--chunk-seconds", "0.025", "-f", "-q"], check=True)
            subprocess.run([spikey, "compress", raw, "--raw-channels", "4", "--raw-rate", "30000", "-o",
                            os.path.join(out, "archive", f"intan_4ch_{level}.spikey"),
                            "--level", level, "--chunk-seconds", "0.01", "-f", "-q"], check=True)
            # The network stage (codecs mo2, cm2) on every channel that it helps at all.
            if level != "fast":
                config = os.path.join(tmp, "network.json")
                write(config, b'{"network_min_saving": 0}')
                model = os.path.join(tmp, "network.spkm")
                subprocess.run([spikey, "train", raw, "--raw-channels", "4", "--raw-rate", "30000", "--model-config", config,
                                "--level", level, "-o", model, "-f", "-q"], check=True)
                subprocess.run([spikey, "compress", raw, "--raw-channels", "4", "--raw-rate", "30000", "-o",
                                os.path.join(out, "archive", f"intan_4ch_network_{level}.spikey"), "--model", model,
                                "--chunk-seconds", "0.01", "-f", "-q"], check=True)
                # The GRU projector (codecs mo3, cm3).
                write(config, b'{"network_min_saving": 0, "network_projector": "gru", "gru_hidden": 4}')
                subprocess.run([spikey, "train", raw, "--raw-channels", "4", "--raw-rate", "30000", "--model-config", config,
                                "--level", level, "-o", model, "-f", "-q"], check=True)
                subprocess.run([spikey, "compress", raw, "--raw-channels", "4", "--raw-rate", "30000", "-o",
                                os.path.join(out, "archive", f"intan_4ch_gru_{level}.spikey"), "--model", model,
                                "--chunk-seconds", "0.01", "-f", "-q"], check=True)
        # Unsigned raw samples (format 10's sample_format "uint16"): the same 4 channels + 32768.
        unsigned = os.path.join(tmp, "four_uint16.bin")
        signed = cinpla_frames([0, 1, 2, 3], 0, 600)
        write(unsigned, bytes(b ^ 0x80 if i % 2 else b for i, b in enumerate(signed)))
        subprocess.run([spikey, "compress", unsigned, "--raw-channels", "4", "--raw-rate", "30000", "--raw-format", "uint16", "-o",
                        os.path.join(out, "archive", "intan_4ch_uint16.spikey"), "--chunk-seconds", "0.01", "-f", "-q"], check=True)
        # Level default's table-driven streams cut into segments of 64 residuals (codec mt2's
        # segment sizes and per-segment states).
        config = os.path.join(tmp, "segments.json")
        write(config, b'{"partition_size": 64}')
        subprocess.run([spikey, "compress", a, b, "-o", os.path.join(out, "archive", "n1_two_files_segments.spikey"),
                        "--model-config", config, "--chunk-seconds", "0.025", "-f", "-q"], check=True)
        # A salvaged archive: the last third of the chunk records cut off.
        whole = os.path.join(out, "archive", "n1_two_files_default.spikey")
        with open(whole, "rb") as f:
            data = f.read()
        cut = os.path.join(tmp, "cut.spikey")
        write(cut, data[: len(data) * 2 // 3])
        subprocess.run([spikey, "salvage", cut, "-o", os.path.join(out, "archive", "n1_two_files_salvaged.spikey"), "-f", "-q"],
                       check=True)
        # Lost streams (format 10): one byte in the middle of chunk 1's payload damaged, then
        # salvaged, so that chunk keeps the channels that do not need the damaged stream.
        whole = os.path.join(out, "archive", "intan_4ch_default.spikey")
        with open(whole, "rb") as f:
            data = bytearray(f.read())
        record = 40 + struct.unpack_from("<Q", data, 16)[0]
        record += 20 + struct.unpack_from("<I", data, record + 8)[0]
        payload_size = struct.unpack_from("<I", data, record + 8)[0]
        data[record + 20 + payload_size * 9 // 10] ^= 0x5A
        write(cut, bytes(data))
        subprocess.run([spikey, "salvage", cut, "-o", os.path.join(out, "archive", "intan_4ch_lost_streams.spikey"), "-f", "-q"],
                       check=True)
    for level, mode in levels.items():
        write(os.path.join(out, "inputs", f"n1_{level}.in"), bytes([mode]) + wav(1, 19531, n1_samples(N1, 0, 800)))
        write(os.path.join(out, "inputs", f"n1_rails_{level}.in"), bytes([mode]) + wav(1, 19531, n1_samples(N1_RAILS, 3000, 600)))
    listchunk = b"LIST" + struct.pack("<I", 9) + b"INFOISFT\x00" + b"\x00"  # odd size, padded
    write(os.path.join(out, "inputs", "intan_2ch_extra_chunks.in"),
          bytes([0x40]) + wav(2, 30000, cinpla_frames([4, 5], 0, 300), extra=listchunk) + b"\x07")
    write(os.path.join(out, "inputs", "intan_3ch_extensible.in"),
          bytes([0x00]) + wav(3, 30000, cinpla_frames([6, 7, 8], 0, 200), extensible=True))
    write(os.path.join(out, "inputs", "intan_4ch_raw.in"), bytes([0x01 | (3 << 1) | (1 << 4)]) + cinpla_frames([0, 1, 2, 3], 0, 300))
    # Acquisition folders (mode bits 0-1 = 0b10): the bundled SpikeGLX .meta cut to 4 AP channels
    # plus sync, and a structure.oebin for 4 channels, each with 300 real frames.
    frames = cinpla_frames([0, 1, 2, 3], 0, 300)
    sync = b"".join(struct.pack("<h", 64 * ((t // 100) % 2)) for t in range(300))
    sglx = b"".join(frames[8 * t: 8 * t + 8] + sync[2 * t: 2 * t + 2] for t in range(300))
    meta = ("nSavedChans=5\r\nimSampRate=30000\r\nsnsApLfSy=4,0,1\r\nimAiRangeMax=0.6\r\nimMaxInt=512\r\n"
            "~imroTbl=(0,4)(0 0 0 500 250 1)(1 0 0 500 250 1)(2 0 0 500 250 1)(3 0 0 500 250 1)\r\n"
            "~snsChanMap=(4,0,1)(AP0;0:0)(AP1;1:1)(AP2;2:2)(AP3;3:3)(SY0;4:4)\r\n"
            f"fileSizeBytes={len(sglx)}\r\n").encode()
    write(os.path.join(out, "inputs", "spikeglx_5ch_sync.in"), bytes([0x02 | 0x04 | 0x40]) + meta + b"\0" + sglx)
    oebin = ('{"GUI version": "0.4.4.1", "continuous": [{"folder_name": "s/", "sample_rate": 30000, "num_channels": 4, '
             '"channels": [' + ", ".join(f'{{"channel_name": "CH{i + 1}", "bit_volts": 0.195, "units": "uV"}}' for i in range(4)) +
             ']}], "events": [], "spikes": []}').encode()
    write(os.path.join(out, "inputs", "open_ephys_4ch.in"), bytes([0x02 | 0x08]) + oebin + b"\0" + frames)
    # Record formats (format 11; mode bits 0-1 = 0b00, bit 2: .ncs, bit 3: .continuous): the bundled
    # Neuralynx CSC1 cut to 6 records and 100 bytes of a 7th, and the Open Ephys legacy CH0 cut to
    # 5 records and 37 bytes of a 6th (partial last records).
    with open(os.path.join(ROOT, "samples/neuralynx/CSC1_truncated.ncs"), "rb") as f:
        write(os.path.join(out, "inputs", "neuralynx_ncs_partial.in"), bytes([0x04]) + f.read()[: 16384 + 6 * 1044 + 100])
    with open(os.path.join(ROOT, "samples/blackrock/l101210-001.ns2"), "rb") as f:  # bits 2-3 = 11: a Blackrock .ns5
        write(os.path.join(out, "inputs", "blackrock_ns21.in"), bytes([0x0c]) + f.read()[: 56 + 12 * 300])
    # Format 13 (bits 2-3 = 11: a Blackrock .ns5): the bundled paused NSx 2.3 file's headers with
    # packets of 1, 200 and (after a pause) 100 of its real frames, and the same as an archive.
    write(os.path.join(out, "inputs", "blackrock_paused.in"), bytes([0x0c]) + paused_nsx((1, 200, 100)))
    with tempfile.TemporaryDirectory() as tmp:
        write(os.path.join(tmp, "paused.ns5"), paused_nsx((1, 200, 100)))
        subprocess.run([spikey, "compress", os.path.join(tmp, "paused.ns5"), "--chunk-seconds", "0.003", "-o",
                        os.path.join(out, "archive", "blackrock_paused_records.spikey"), "-f", "-q"], check=True)
    # Format 14 (bits 0-3 = 0, bits 4-5 = 11: a Blackrock .nev): the bundled NEV 2.1 slice cut to
    # 40 packets and 30 bytes of a 41st (a partial last packet), and 60 packets as an archive of
    # snippets.
    with open(os.path.join(ROOT, "samples/blackrock_nev/l101210-001.nev"), "rb") as f:
        nev = f.read()
    write(os.path.join(out, "inputs", "blackrock_nev_partial.in"), bytes([0x30]) + nev[: 4944 + 40 * 104 + 30])
    with tempfile.TemporaryDirectory() as tmp:
        write(os.path.join(tmp, "spikes.nev"), nev[: 4944 + 60 * 104])
        subprocess.run([spikey, "compress", os.path.join(tmp, "spikes.nev"), "--chunk-seconds", "0.02", "-o",
                        os.path.join(out, "archive", "blackrock_nev_snippets.spikey"), "-f", "-q"], check=True)
    # Format 15: the metadata section and its copy in several zstd frames (the bundled Neuralynx
    # CSC1 cut to 6 records: its 16 KiB header and framing in frames of 2 KiB after the first 100
    # bytes).
    with open(os.path.join(ROOT, "samples/neuralynx/CSC1_truncated.ncs"), "rb") as f:
        ncs = f.read()[: 16384 + 6 * 1044]
    with tempfile.TemporaryDirectory() as tmp:
        write(os.path.join(tmp, "CSC1.ncs"), ncs)
        config = os.path.join(tmp, "frames.json")
        write(config, b'{"metadata_first_frame_verbatim": 100, "metadata_frame": 2048}')
        subprocess.run([spikey, "compress", os.path.join(tmp, "CSC1.ncs"), "--chunk-seconds", "0.05", "--model-config", config, "-o",
                        os.path.join(out, "archive", "neuralynx_metadata_frames.spikey"), "-f", "-q"], check=True)
    # Format 16 (mode bits 0-5 = 0 and a file starting "PLEX": a Plexon .plx): the bundled cut of
    # File_plexon_3.plx with its headers, 40 spike blocks, 30 continuous blocks and 100 bytes of
    # another (a partial last block), and the same without the partial block as an archive of
    # records of one channel each.
    with open(os.path.join(ROOT, "samples/plexon/File_plexon_3_cut.plx"), "rb") as f:
        plx = f.read()
    plx_small = plx[: 39420 + 40 * 144] + plx[39420 + 1500 * 144: 39420 + 1500 * 144 + 30 * 256]
    write(os.path.join(out, "inputs", "plexon_partial.in"), bytes([0x40]) + plx_small + plx[39420 + 1500 * 144 + 30 * 256: 39420 + 1500 * 144 + 30 * 256 + 100])
    with tempfile.TemporaryDirectory() as tmp:
        write(os.path.join(tmp, "rec.plx"), plx_small)
        subprocess.run([spikey, "compress", os.path.join(tmp, "rec.plx"), "--chunk-seconds", "0.005", "-o",
                        os.path.join(out, "archive", "plexon_channel_records.spikey"), "-f", "-q"], check=True)
    # Format 17 (mode bits 0-5 = 0 and "(C) CED 87" at byte 2: a Spike2 .smr): the bundled
    # File_spike2_1.smr cut 300 bytes into its block at byte 10240 (after the headers' 5120
    # bytes, an event block and nine Respi blocks of 512), so that every chain runs past the end;
    # and the whole file as an archive of records with tails, in 60-second chunks.
    with open(os.path.join(ROOT, "samples/spike2/File_spike2_1.smr"), "rb") as f:
        smr = f.read()
    write(os.path.join(out, "inputs", "spike2_cut.in"), bytes([0x40]) + smr[: 5120 + 10 * 512 + 300])
    subprocess.run([spikey, "compress", os.path.join(ROOT, "samples/spike2/File_spike2_1.smr"), "--chunk-seconds", "60", "-o",
                    os.path.join(out, "archive", "spike2_record_tails.spikey"), "-f", "-q"], check=True)
    # Format 18 (mode bits 0-5 = 0 and a 60-byte 'h' block first: an AlphaOmega .mpx): the bundled
    # mapfile0054.mpx cut 20000 bytes after its first data block, inside a block; and 40000 bytes
    # after it (the definitions and the first data blocks of every kind) as an archive of records
    # with tails, in 10-ms chunks.
    with open(os.path.join(ROOT, "samples/alpha_omega/mapfile0054.mpx"), "rb") as f:
        mpx = f.read()
    first_data = ao_first_data_block(mpx)
    write(os.path.join(out, "inputs", "alpha_omega_cut.in"), bytes([0x40]) + mpx[: first_data + 20000])
    with tempfile.TemporaryDirectory() as tmp:
        write(os.path.join(tmp, "rec.mpx"), mpx[: first_data + 40000])
        subprocess.run([spikey, "compress", os.path.join(tmp, "rec.mpx"), "--chunk-seconds", "0.01", "-o",
                        os.path.join(out, "archive", "alpha_omega_record_tails.spikey"), "-f", "-q"], check=True)
    # Format 18 (mode bits 0-5 = 0 and "ABF2" first: an Axon .abf): the bundled File_axon_5.abf's
    # header and sections (11 blocks) and its first 3000 points, cut inside the data.
    with open(os.path.join(ROOT, "samples/abf/File_axon_5.abf"), "rb") as f:
        write(os.path.join(out, "inputs", "abf_cut.in"), bytes([0x40]) + f.read()[: 11 * 512 + 2 * 3000])
    # Format 19 (mode bits 0-5 = 0 and "ADU1" first: an Axona raw .bin, read without its .set):
    # the bundled axona_raw.bin's first 20 packets and 100 bytes of the 21st.
    with open(os.path.join(ROOT, "samples/axona/axona_raw.bin"), "rb") as f:
        write(os.path.join(out, "inputs", "axona_raw_cut.in"), bytes([0x40]) + f.read()[: 20 * 432 + 100])
    with open(os.path.join(ROOT, "samples/open_ephys_legacy/101_CH0.continuous"), "rb") as f:
        write(os.path.join(out, "inputs", "open_ephys_continuous_partial.in"), bytes([0x48]) + f.read()[: 1024 + 5 * 2070 + 37])
    # Format 12 (mode bits 0-3 = 0, bit 4: .rhd, bit 5: .rhs): the bundled Intan .rhd cut to 5 blocks
    # and 300 bytes of a 6th, and an RHS file (header as the application note lays it out) of 2
    # amplifier channels with DC and stimulation words, one ADC input and a digital-input word,
    # 3 blocks of 128 real frames.
    with open(os.path.join(ROOT, "samples/intan_rhd/intan_rhd_231117_052630.rhd"), "rb") as f:
        write(os.path.join(out, "inputs", "intan_rhd_partial.in"), bytes([0x10]) + f.read()[: 8082 + 5 * 9408 + 300])

    def qstring(text):
        return struct.pack("<I", 2 * len(text)) + text.encode("utf-16le")

    rhs = struct.pack("<IhhfhffffffffhffhhfffI", 0xD69127AC, 1, 0, 30000.0, 1, *([100.0] * 8), 0, 1000.0, 1000.0, 0, 1, 1.0, 1.0, 0.0, 0)
    rhs += qstring("") + qstring("") + struct.pack("<hh", 1, 0) + qstring("Hardware") + struct.pack("<h", 1) + qstring("Port A") + qstring("A")
    channels = [("A-000", 0), ("A-001", 0), ("ANALOG-IN-1", 3), ("DIGITAL-IN-01", 5)]
    rhs += struct.pack("<hhh", 1, len(channels), 2)
    for i, (name, kind) in enumerate(channels):
        rhs += qstring(name) + qstring(name) + struct.pack("<hhhh", i, i, kind, 1) + struct.pack("<7h", *([0] * 7)) + struct.pack("<ff", 0, 0)
    amp = cinpla_frames([0, 1, 2], 0, 384)
    for k in range(3):
        rhs += struct.pack("<128i", *range(128 * k, 128 * k + 128))
        for c in range(3):  # then ANALOG-IN-1 from a third real channel
            values = struct.unpack_from("<384h", b"".join(amp[6 * t + 2 * c: 6 * t + 2 * c + 2] for t in range(384)))[128 * k: 128 * k + 128]
            rhs += struct.pack("<128H", *[v + 32768 for v in values])
            if c == 1:  # after the amplifiers: their DC values, then their stimulation words
                rhs += struct.pack("<256H", *[512 + (t // 40) % 5 for t in range(256)]) + struct.pack("<256H", *[0x0101 if t % 100 < 5 else 0 for t in range(256)])
        rhs += struct.pack("<128H", *[(128 * k + t) // 50 % 2 for t in range(128)])
    write(os.path.join(out, "inputs", "intan_rhs.in"), bytes([0x20]) + rhs)
    with tempfile.TemporaryDirectory() as tmp:  # the same two as archives: planar records, with and without a gap
        with open(os.path.join(ROOT, "samples/intan_rhd/intan_rhd_231117_052630.rhd"), "rb") as f:
            write(os.path.join(tmp, "cut.rhd"), f.read()[: 8082 + 5 * 9408 + 300])
        write(os.path.join(tmp, "stim.rhs"), rhs)
        for name, level in (("cut.rhd", "default"), ("stim.rhs", "max")):
            subprocess.run([spikey, "compress", os.path.join(tmp, name), "--level", level, "--chunk-seconds", "0.01", "-o",
                            os.path.join(out, "archive", f"intan_{name.replace('.', '_')}_planar.spikey"), "-f", "-q"], check=True)
    # Format 12: an NWB series of float32 on a grid (when spikey has HDF5), and a channel-less archive.
    if subprocess.run([spikey, "compress", os.path.join(ROOT, "samples", "nwb_float"), "--chunk-seconds", "0.02", "-o",
                       os.path.join(out, "archive", "nwb_float32_grid.spikey"), "-f", "-q"]).returncode != 0:
        print("no NWB seed: this spikey was built without HDF5", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(ROOT, "samples/intan/info.rhd"), "rb") as f:
            write(os.path.join(tmp, "header_only.rhd"), f.read())
        subprocess.run([spikey, "compress", os.path.join(tmp, "header_only.rhd"), "-o", os.path.join(out, "archive", "side_files_only.spikey"),
                        "-f", "-q"], check=True)
    # Format 11: a folder's side files left out of the metadata copy.
    subprocess.run([spikey, "compress", os.path.join(ROOT, "samples", "open_ephys", "Record Node 101"), "--chunk-seconds", "0.05", "-o",
                    os.path.join(out, "archive", "open_ephys_folder_side_files.spikey"), "-f", "-q"], check=True)
    for folder, level in (("neuralynx", "default"), ("open_ephys_legacy", "fast")):
        subprocess.run([spikey, "compress", os.path.join(ROOT, "samples", folder), "--level", level, "--chunk-seconds", "0.05", "-o",
                        os.path.join(out, "archive", f"{folder}_records.spikey"), "-f", "-q"], check=True)
    # The same two folders as archives (format 6: sync runs, side files, delta64).
    with tempfile.TemporaryDirectory() as tmp:
        write(os.path.join(tmp, "sglx", "run_g0_t0.imec0.ap.meta"), meta)
        write(os.path.join(tmp, "sglx", "run_g0_t0.imec0.ap.bin"), sglx)
        write(os.path.join(tmp, "oe", "structure.oebin"), oebin)
        write(os.path.join(tmp, "oe", "continuous", "s", "continuous.dat"), frames)
        npy = b"\x93NUMPY\x01\x00v\x00" + b"{'descr': '<i8', 'fortran_order': False, 'shape': (300,), }".ljust(117) + b"\n"
        write(os.path.join(tmp, "oe", "continuous", "s", "timestamps.npy"), npy + b"".join(struct.pack("<q", 1045248 + t) for t in range(300)))
        n1 = os.path.join(tmp, "n1.wav")
        write(n1, wav(1, 19531, n1_samples(N1, 0, 200)))
        subprocess.run([spikey, "compress", os.path.join(tmp, "sglx"), n1, "-o", os.path.join(out, "archive", "sglx_and_n1_two_rates.spikey"),
                        "--chunk-seconds", "0.004", "-f", "-q"], check=True)
        for level in levels:
            for name in ("sglx", "oe"):
                subprocess.run([spikey, "compress", os.path.join(tmp, name), "-o", os.path.join(out, "archive", f"{name}_{level}.spikey"),
                                "--level", level, "--chunk-seconds", "0.004", "-f", "-q"], check=True)


if __name__ == "__main__":
    main()
