#!/usr/bin/env python3
"""Float experiment for issue 5's network stage: how much does a small ReLU MLP on top of the
linear MiddleOut predictor save, on each real data set? And a small recurrent projector (a GRU,
with --gru) on the same inputs instead?

    python3 bench/nn_experiment.py [../shared/data] [--hidden 8] [--seed 1] [--gru]

Per data set: first half of the time for training, second half for testing. The linear stage is
least squares per channel over 16 own past differences plus the windows t-2..t+2 of the 3 most
correlated channels placed before it (greedy order, as mo1 does). Two networks then predict the
linear stage's residual: one shared by all channels (inputs: the channel's 8 last differences and
the linear prediction, scaled by the channel's difference std) and one per channel (inputs: the
linear stage's regressors, scaled). Both train with Adam on the L1 loss. With --gru, a GRU shared
by all channels reads the shared MLP's inputs one step at a time, so its state can carry history
beyond the 8 differences; it trains by backpropagation through windows of 64 steps (loss from the
16th step on, the state starting at zero as it would at a chunk's start) and is tested running over
the whole test half of each channel. Bits are estimated as
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


def adam_step(params, grads, ms, vs, t, lr):
    """One Adam update of every parameter array in place (t counts updates from 1)."""
    for p, gp, m, v in zip(params, grads, ms, vs):
        m *= 0.9
        m += 0.1 * gp
        v *= 0.999
        v += 0.001 * gp * gp
        p -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)


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
        adam_step(self.params, [gw1, gb1, gw2, gb2], self.m, self.v, self.t, lr)

    def train(self, x, y, rng, epochs=6, batch=512, lr=3e-3):
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for i in range(0, len(x), batch):
                idx = order[i:i + batch]
                pred = self.forward(x[idx])
                self.step(np.sign(pred - y[idx]), lr)  # L1 loss


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


class Gru:
    """z = s(x Wz + h Uz), r = s(x Wr + h Ur), n = tanh(x Wn + (r h) Un), h' = (1 - z) n + z h,
    y = h' wo + bo (biases inside Wz, Wr, Wn through a constant input)."""

    def __init__(self, inputs, hidden, rng):
        i, h = inputs + 1, hidden
        self.params = [rng.normal(0, 1 / np.sqrt(i), (i, 3 * h)), rng.normal(0, 1 / np.sqrt(h), (h, 3 * h)),
                       rng.normal(0, 1 / np.sqrt(h), (h, 1)) * 0.1, np.zeros(1)]
        self.hidden = h
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def run(self, xs, keep=False):
        """xs: (T, B, inputs) -> outputs (T, B); keeps the activations for backward when asked."""
        w, u, wo, bo = self.params
        hn = self.hidden
        t_len, b = xs.shape[:2]
        h = np.zeros((b, hn))
        ys = np.empty((t_len, b))
        self.cache = []
        xs1 = np.concatenate([xs, np.ones((t_len, b, 1))], axis=2)
        for t in range(t_len):
            gx = xs1[t] @ w
            gh = h @ u[:, :2 * hn]
            z = sigmoid(gx[:, :hn] + gh[:, :hn])
            r = sigmoid(gx[:, hn:2 * hn] + gh[:, hn:])
            n = np.tanh(gx[:, 2 * hn:] + (r * h) @ u[:, 2 * hn:])
            h_new = (1 - z) * n + z * h
            if keep:
                self.cache.append((xs1[t], h, z, r, n))
            h = h_new
            ys[t] = (h @ wo)[:, 0] + bo[0]
        self.last_h = h
        return ys

    def backward(self, grad_y, lr):
        w, u, wo, bo = self.params
        hn = self.hidden
        gw, gu, gwo, gbo = np.zeros_like(w), np.zeros_like(u), np.zeros_like(wo), np.zeros_like(bo)
        dh = np.zeros((grad_y.shape[1], hn))
        for t in range(len(self.cache) - 1, -1, -1):
            x1, h, z, r, n = self.cache[t]
            h_new = (1 - z) * n + z * h
            gwo += h_new.T @ grad_y[t][:, None]
            gbo += grad_y[t].sum()
            dh = dh + grad_y[t][:, None] * wo[:, 0]
            dn = dh * (1 - z) * (1 - n * n)
            dz = dh * (h - n) * z * (1 - z)
            drh = dn @ u[:, 2 * hn:].T
            dr = drh * h * r * (1 - r)
            dgx = np.concatenate([dz, dr, dn], axis=1)
            gw += x1.T @ dgx
            gu[:, :2 * hn] += h.T @ np.concatenate([dz, dr], axis=1)
            gu[:, 2 * hn:] += (r * h).T @ dn
            dh = dh * z + drh * r + np.concatenate([dz, dr], axis=1) @ u[:, :2 * hn].T
        self.t += 1
        adam_step(self.params, [gw, gu, gwo, gbo], self.m, self.v, self.t, lr)

    def train(self, sequences, rng, steps=400000, epochs=6, window=64, warmup=16, batch=256, lr=3e-3):
        """sequences: list of (x (T, inputs), y (T,)) per channel."""
        starts = [(c, s) for c, (x, _) in enumerate(sequences) for s in range(0, len(x) - window, window)]
        if len(starts) * (window - warmup) > steps:
            starts = [starts[i] for i in rng.choice(len(starts), steps // (window - warmup), replace=False)]
        for _ in range(epochs):
            order = rng.permutation(len(starts))
            for i in range(0, len(order), batch):
                pick = [starts[j] for j in order[i:i + batch]]
                xs = np.stack([sequences[c][0][s:s + window] for c, s in pick], axis=1)
                ys = np.stack([sequences[c][1][s:s + window] for c, s in pick], axis=1)
                pred = self.run(xs, keep=True)
                grad = np.sign(pred - ys)
                grad[:warmup] = 0
                self.backward(grad / grad[warmup:].size, lr)


def experiment(x, hidden, rng, gru=False):
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
    if gru:
        sequences = [(xs_c, ys_c) for xs_c, ys_c in zip(shared_x, shared_y)]
        net = Gru(shared_x[0].shape[1], hidden, rng)
        net.train(sequences, rng)
        feats = np.stack([f for f, *_ in tests], axis=1)  # all channels side by side (equal lengths)
        outs = net.run(feats)
        gru_bits = 0.0
        for k, (f, e, scale, n) in enumerate(tests):
            e_gru = e - outs[:, k] * scale
            gru_bits += n * min(laplace_bits(e_gru), laplace_bits(e))
        rows["shared GRU saving %"] = 100 * (lin_bits - gru_bits) / lin_bits
    rows["linear bits/sample"] = lin_bits / sum(n for *_, n in tests)
    rows["shared MLP saving %"] = 100 * (lin_bits - mlp_shared_bits) / lin_bits
    rows["per-channel MLP saving %"] = 100 * (lin_bits - mlp_own_bits) / lin_bits
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("shared", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    parser.add_argument("--hidden", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gru", action="store_true", help="also train a shared GRU of --hidden units on the shared MLP's inputs")
    parser.add_argument("--sets", default="", help="comma-separated substrings: only the data sets whose names contain one")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    gru_head = f" shared {args.hidden}-unit GRU |" if args.gru else ""
    print(f"| data | linear bits/sample (Laplace estimate) | shared {args.hidden}-unit MLP | per-channel {args.hidden}-unit MLP |{gru_head}")
    print("| --- | ---: | ---: | ---: |" + (" ---: |" if args.gru else ""))
    for name, x in load(args.shared).items():
        if args.sets and not any(k in name for k in args.sets.split(",")):
            continue
        x = x[: min(len(x), 200000)]
        r = experiment(x, args.hidden, rng, args.gru)
        gru_cell = f" {r['shared GRU saving %']:+.2f}% |" if args.gru else ""
        print(f"| {name} | {r['linear bits/sample']:.3f} | {r['shared MLP saving %']:+.2f}% | {r['per-channel MLP saving %']:+.2f}% |{gru_cell}",
              flush=True)


if __name__ == "__main__":
    main()
