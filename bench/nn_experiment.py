#!/usr/bin/env python3
"""Float experiment for issue 5's network stage: how much does a small ReLU MLP on top of the
linear MiddleOut predictor save, on each real data set?

    python3 bench/nn_experiment.py [../shared/data] [--hidden 8] [--seed 1]

Per data set: first half of the time for training, second half for testing. The linear stage is
least squares per channel over 16 own past differences plus the windows t-2..t+2 of the 3 most
correlated channels placed before it (greedy order, as mo1 does). Two networks then predict the
linear stage's residual: one shared by all channels (inputs: the channel's 8 last differences and
the linear prediction, scaled by the channel's difference std) and one per channel (inputs: the
linear stage's regressors, scaled). Both train with Adam on the L1 loss. Bits are estimated as
log2(2e * mean |residual|) per sample (a Laplace code), so the saving is a ratio estimate, not a
coded size.
"""
import argparse
import glob
import os
import struct

import numpy as np


# Multichannel sets of ../shared/data: folder, file, channels (headerless interleaved int16).
MULTICHANNEL = [
    ("cinpla 32 ch", "cinpla_oebin32", "continuous.dat", 32),
    ("biocam 36 ch", "biocam_36ch", "biocam_36ch_19754Hz_minus2048.i16", 36),
    ("locust 4 ch", "tdc_locust", "locust_trial_01.raw", 4),
    ("oe demo 16 ch", "oe_demo_cortex16_filtered", "oe_cortex16_40kHz_filtered.i16", 16),
]


def load(shared):
    sets = {}
    for name, folder, file, channels in MULTICHANNEL:
        path = os.path.join(shared, folder, file)
        if os.path.exists(path):
            sets[name] = np.fromfile(path, dtype="<i2").reshape(-1, channels)
    wavs = sorted(glob.glob(os.path.join(shared, "neuralink", "*.wav")))[:24]
    if wavs:
        channels = []
        for w in wavs:
            data = open(w, "rb").read()
            assert data[36:40] == b"data"
            (size,) = struct.unpack_from("<I", data, 40)
            channels.append(np.frombuffer(data[44:44 + size], dtype="<i2"))
        n = min(len(c) for c in channels)
        sets["neuralink 24 files"] = np.stack([c[:n] for c in channels], axis=1)
    return sets


def lagged(d, lags):
    """Rows t of [d[t-1], ..., d[t-lags]] (zeros before the start)."""
    out = np.zeros((len(d), lags))
    for k in range(1, lags + 1):
        out[k:, k - 1] = d[:-k]
    return out


def window(d, half):
    out = np.zeros((len(d), 2 * half + 1))
    for j, k in enumerate(range(-half, half + 1)):
        if k < 0:
            out[-k:, j] = d[:k]
        elif k > 0:
            out[:-k, j] = d[k:]
        else:
            out[:, j] = d
    return out


def laplace_bits(e):
    return np.log2(2 * np.e * max(np.mean(np.abs(e)), 0.5))


class Mlp:
    def __init__(self, inputs, hidden, rng):
        self.w1 = rng.normal(0, 1 / np.sqrt(inputs), (inputs, hidden))
        self.b1 = np.zeros(hidden)
        self.w2 = rng.normal(0, 1 / np.sqrt(hidden), (hidden, 1)) * 0.1
        self.b2 = np.zeros(1)
        self.params = [self.w1, self.b1, self.w2, self.b2]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def forward(self, x):
        self.x = x
        self.h_pre = x @ self.w1 + self.b1
        self.h = np.maximum(self.h_pre, 0)
        return (self.h @ self.w2 + self.b2)[:, 0]

    def step(self, grad_out, lr):
        g = grad_out[:, None] / len(grad_out)
        gw2 = self.h.T @ g
        gb2 = g.sum(0)
        gh = (g @ self.w2.T) * (self.h_pre > 0)
        gw1 = self.x.T @ gh
        gb1 = gh.sum(0)
        self.t += 1
        for p, gp, m, v in zip(self.params, [gw1, gb1, gw2, gb2], self.m, self.v):
            m *= 0.9
            m += 0.1 * gp
            v *= 0.999
            v += 0.001 * gp * gp
            p -= lr * (m / (1 - 0.9 ** self.t)) / (np.sqrt(v / (1 - 0.999 ** self.t)) + 1e-8)

    def train(self, x, y, rng, epochs=6, batch=512, lr=3e-3):
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for i in range(0, len(x), batch):
                idx = order[i:i + batch]
                pred = self.forward(x[idx])
                self.step(np.sign(pred - y[idx]), lr)  # L1 loss


def experiment(x, hidden, rng):
    t, channels = x.shape
    d = np.diff(x.astype(np.float64), axis=0)
    half = len(d) // 2
    corr = np.corrcoef(d[:half].T) if channels > 1 else np.ones((1, 1))
    corr = np.nan_to_num(np.abs(corr))
    np.fill_diagonal(corr, 0)
    # Greedy order: most connected first, then the channel most tied to those placed.
    placed = [int(np.argmax(corr.sum(1)))]
    while len(placed) < channels:
        rest = [c for c in range(channels) if c not in placed]
        placed.append(max(rest, key=lambda c: corr[c, placed].max()))
    rows = {}
    lin_bits = mlp_shared_bits = mlp_own_bits = 0.0
    shared_x, shared_y, tests = [], [], []
    for i, c in enumerate(placed):
        sources = sorted(placed[:i], key=lambda s: -corr[c, s])[:3]
        sources = [s for s in sources if corr[c, s] > 0.3]
        regs = [lagged(d[:, c], 16)] + [window(d[:, s], 2) for s in sources]
        a = np.hstack(regs)
        w, *_ = np.linalg.lstsq(a[:half], d[:half, c], rcond=None)
        p = a @ w
        e = d[:, c] - p
        scale = max(np.std(d[:half, c]), 1e-3)
        feats = np.hstack([lagged(d[:, c], 8), p[:, None]]) / scale
        shared_x.append(feats[:half])
        shared_y.append(e[:half] / scale)
        # Per-channel network on the linear stage's regressors.
        own = Mlp(a.shape[1], hidden, rng)
        own.train(a[:half] / scale, e[:half] / scale, rng, epochs=4)
        e_own = e[half:] - own.forward(a[half:] / scale) * scale
        n = len(e) - half
        lin_bits += n * laplace_bits(e[half:])
        mlp_own_bits += n * min(laplace_bits(e_own), laplace_bits(e[half:]))  # the encoder keeps the better
        tests.append((feats[half:], e[half:], scale, n))
    xs, ys = np.vstack(shared_x), np.concatenate(shared_y)
    if len(xs) > 400000:
        pick = rng.choice(len(xs), 400000, replace=False)
        xs, ys = xs[pick], ys[pick]
    shared = Mlp(xs.shape[1], hidden, rng)
    shared.train(xs, ys, rng)
    for feats, e, scale, n in tests:
        e_shared = e - shared.forward(feats) * scale
        mlp_shared_bits += n * min(laplace_bits(e_shared), laplace_bits(e))
    rows["linear bits/sample"] = lin_bits / sum(n for *_, n in tests)
    rows["shared MLP saving %"] = 100 * (lin_bits - mlp_shared_bits) / lin_bits
    rows["per-channel MLP saving %"] = 100 * (lin_bits - mlp_own_bits) / lin_bits
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("shared", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    parser.add_argument("--hidden", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"| data | linear bits/sample (Laplace estimate) | shared {args.hidden}-unit MLP | per-channel {args.hidden}-unit MLP |")
    print("| --- | ---: | ---: | ---: |")
    for name, x in load(args.shared).items():
        x = x[: min(len(x), 200000)]
        r = experiment(x, args.hidden, rng)
        print(f"| {name} | {r['linear bits/sample']:.3f} | {r['shared MLP saving %']:+.2f}% | {r['per-channel MLP saving %']:+.2f}% |",
              flush=True)


if __name__ == "__main__":
    main()
