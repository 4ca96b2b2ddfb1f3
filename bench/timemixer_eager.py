#!/usr/bin/python3
"""TimeMixer in PyTorch eager mode, loading a brickcast model file: the reference that
bench/forecast_vs_eager.py times our forward pass against. A benchmark tool, not part of the
product (which never needs Python).

The network is the official TimeMixer's (thuml/TimeMixer, models/TimeMixer.py) for the
configurations our inference plan covers (moving-average decomposition, avg or max pooling,
channel independence), written as nn.Modules like the original, with the two bugs brickcast fixes
fixed the same way (time marks tiled per sample; see include/brickcast/timemixer.h), so that
both run the same network on the same weights. Needs Debian's python3-torch (1.13).

  timemixer_eager.py MODEL --check X.bin Y.bin BATCH   max |ours - eager| on a saved input
  timemixer_eager.py MODEL --time BATCHES THREADS SECONDS   JSON: windows/s per batch size
"""
import json
import math
import sys
import time

import torch
from torch import nn


def load(path):
    with open(path, "rb") as f:
        magic = f.readline().decode().strip()
        if not magic.startswith("brickcast-timemixer "):
            raise SystemExit(f"{path}: not a brickcast TimeMixer model")
        header = json.loads(f.readline())
        weights = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    state = {}
    for name, p in header["parameters"].items():
        n = math.prod(p["shape"])
        state[name] = weights[p["offset_floats"]:p["offset_floats"] + n].reshape(p["shape"]).clone()
    return header["config"], state


def mlp(a, b, c):
    return nn.Sequential(nn.Linear(a, b), nn.GELU(), nn.Linear(b, c))


class MovingAvgDecomp(nn.Module):
    def __init__(self, kernel):
        super().__init__()
        self.kernel = kernel

    def forward(self, x):  # [B, T, D]
        pad = (self.kernel - 1) // 2
        front = x[:, 0:1, :].repeat(1, pad, 1)
        end = x[:, -1:, :].repeat(1, pad, 1)
        xp = torch.cat([front, x, end], dim=1)
        trend = nn.functional.avg_pool1d(xp.permute(0, 2, 1), self.kernel, 1).permute(0, 2, 1)
        return x - trend, trend


class SeasonMixing(nn.Module):
    def __init__(self, c):
        super().__init__()
        w, t = c["down_sampling_window"], c["seq_len"]
        self.down_sampling_layers = nn.ModuleList(
            [mlp(t // w ** i, t // w ** (i + 1), t // w ** (i + 1)) for i in range(c["down_sampling_layers"])])

    def forward(self, seasons):  # [B, D, T_i] per scale
        high = seasons[0]
        out = [high.permute(0, 2, 1)]
        for i in range(len(seasons) - 1):
            high = seasons[i + 1] + self.down_sampling_layers[i](high)
            out.append(high.permute(0, 2, 1))
        return out


class TrendMixing(nn.Module):
    def __init__(self, c):
        super().__init__()
        w, t = c["down_sampling_window"], c["seq_len"]
        self.up_sampling_layers = nn.ModuleList(
            [mlp(t // w ** (i + 1), t // w ** i, t // w ** i) for i in reversed(range(c["down_sampling_layers"]))])

    def forward(self, trends):
        rev = list(reversed(trends))
        low = rev[0]
        out = [low.permute(0, 2, 1)]
        for i in range(len(rev) - 1):
            low = rev[i + 1] + self.up_sampling_layers[i](low)
            out.append(low.permute(0, 2, 1))
        return list(reversed(out))


class PastDecomposableMixing(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.decomp = MovingAvgDecomp(c["moving_avg"])
        self.mixing_multi_scale_season = SeasonMixing(c)
        self.mixing_multi_scale_trend = TrendMixing(c)
        self.out_cross_layer = mlp(c["d_model"], c["d_ff"], c["d_model"])

    def forward(self, xs):
        seasons, trends = [], []
        for x in xs:
            s, t = self.decomp(x)
            seasons.append(s.permute(0, 2, 1))
            trends.append(t.permute(0, 2, 1))
        s_out = self.mixing_multi_scale_season(seasons)
        t_out = self.mixing_multi_scale_trend(trends)
        return [x + self.out_cross_layer(s + t) for x, s, t in zip(xs, s_out, t_out)]


class Normalize(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.affine_weight = nn.Parameter(torch.ones(channels))
        self.affine_bias = nn.Parameter(torch.zeros(channels))

    def norm(self, x):
        mean = x.mean(1, keepdim=True).detach()
        std = torch.sqrt(x.var(1, keepdim=True, unbiased=False) + 1e-5).detach()
        return (x - mean) / std * self.affine_weight + self.affine_bias, mean, std

    def denorm(self, y, mean, std):
        return (y - self.affine_bias) / (self.affine_weight + 1e-10) * std + mean


class TokenEmbedding(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.tokenConv = nn.Conv1d(1, d_model, 3, padding=1, padding_mode="circular", bias=False)

    def forward(self, x):
        return self.tokenConv(x.permute(0, 2, 1)).transpose(1, 2)


class TemporalEmbedding(nn.Module):
    def __init__(self, features, d_model):
        super().__init__()
        self.embed = nn.Linear(features, d_model, bias=False)


class DataEmbedding(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.value_embedding = TokenEmbedding(c["d_model"])
        if c["time_features"] > 0:
            self.temporal_embedding = TemporalEmbedding(c["time_features"], c["d_model"])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x, marks):
        out = self.value_embedding(x)
        if marks is not None:
            out = out + self.temporal_embedding.embed(marks)
        return self.dropout(out)


class TimeMixer(nn.Module):
    def __init__(self, c):
        super().__init__()
        if c["decomposition"] != "moving_avg" or c["down_sampling_method"] not in ("avg", "max"):
            raise SystemExit("this reference covers moving_avg decomposition with avg or max pooling")
        self.c = c
        self.pdm_blocks = nn.ModuleList([PastDecomposableMixing(c) for _ in range(c["e_layers"])])
        self.enc_embedding = DataEmbedding(c)
        scales = c["down_sampling_layers"] + 1
        self.normalize_layers = nn.ModuleList([Normalize(c["channels"]) for _ in range(scales)])
        t, w = c["seq_len"], c["down_sampling_window"]
        self.predict_layers = nn.ModuleList([nn.Linear(t // w ** i, c["pred_len"]) for i in range(scales)])
        self.projection_layer = nn.Linear(c["d_model"], 1)

    def forward(self, x, marks):  # x: [B, T, N], marks: [B, T, F] or None
        c, (b, _, n) = self.c, x.shape
        pool = nn.functional.max_pool1d if c["down_sampling_method"] == "max" else nn.functional.avg_pool1d
        xs, ms, cur = [x], [marks], x.permute(0, 2, 1)
        for _ in range(c["down_sampling_layers"]):
            cur = pool(cur, c["down_sampling_window"])
            xs.append(cur.permute(0, 2, 1))
            ms.append(None if marks is None else ms[-1][:, ::c["down_sampling_window"], :])
        enc, stats = [], None
        for i, (xi, mi) in enumerate(zip(xs, ms)):
            if c["use_norm"]:
                xi, mean, std = self.normalize_layers[i].norm(xi)
                if i == 0:
                    stats = (mean, std)
            t = xi.shape[1]
            xi = xi.permute(0, 2, 1).contiguous().reshape(b * n, t, 1)
            mi = None if mi is None else mi.repeat_interleave(n, 0)
            enc.append(self.enc_embedding(xi, mi))
        for block in self.pdm_blocks:
            enc = block(enc)
        y = None
        for i, e in enumerate(enc):
            d = self.predict_layers[i](e.permute(0, 2, 1)).permute(0, 2, 1)
            d = self.projection_layer(d).reshape(b, n, c["pred_len"]).permute(0, 2, 1)
            y = d if y is None else y + d
        if c["use_norm"]:
            y = self.normalize_layers[0].denorm(y, *stats)
        return y


def build(path):
    config, state = load(path)
    model = TimeMixer(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SystemExit(f"weights do not match: missing {missing}, unexpected {unexpected}")
    return config, model.eval()


def inputs(config, batch, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, config["seq_len"], config["channels"], generator=g)
    marks = None
    if config["time_features"] > 0:
        marks = torch.rand(batch, config["seq_len"], config["time_features"], generator=g) - 0.5
    return x, marks


def main():
    config, model = build(sys.argv[1])
    if sys.argv[2] == "--check":
        x_path, y_path, batch = sys.argv[3], sys.argv[4], int(sys.argv[5])
        x = torch.from_file(x_path, size=batch * config["seq_len"] * config["channels"], dtype=torch.float32)
        want = torch.from_file(y_path, size=batch * config["pred_len"] * config["channels"], dtype=torch.float32)
        marks = None
        if config["time_features"] > 0:
            marks = torch.from_file(x_path + ".marks", size=batch * config["seq_len"] * config["time_features"],
                                    dtype=torch.float32).reshape(batch, config["seq_len"], -1)
        with torch.inference_mode():
            y = model(x.reshape(batch, config["seq_len"], -1), marks)
        print(json.dumps({"max_abs_diff": float((y.reshape(-1) - want).abs().max())}))
        return
    batches = [int(v) for v in sys.argv[3].split(",")]
    torch.set_num_threads(int(sys.argv[4]))
    seconds = float(sys.argv[5])
    out = {}
    with torch.inference_mode():
        for batch in batches:
            x, marks = inputs(config, batch)
            for _ in range(3):
                model(x, marks)  # warm-up
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                model(x, marks)
                n += 1
            out[str(batch)] = n * batch / (time.perf_counter() - start)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
