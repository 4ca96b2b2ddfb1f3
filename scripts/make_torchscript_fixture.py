#!/usr/bin/python3
"""Makes the TorchScript test fixture: a small forecaster traced with torch.jit.trace, as users
export a model trained in Python, plus its inputs and the outputs Python computed.

Run with Debian's python3-torch (1.13), from the repository root:
    /usr/bin/python3 scripts/make_torchscript_fixture.py
The module has TimeMixer's calling convention: forward(x [B, T, N], x_mark [B, T, 4]) -> [B, H, N].
brickcast reads seq_len / pred_len / channels / time_features from the extra file brickcast.json.
"""
import json
import os

import torch

OUT = "tests/testdata/torchscript"
T, H, N, B = 16, 8, 3, 2


class TinyForecaster(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.over_time = torch.nn.Linear(T, H)
        self.from_marks = torch.nn.Linear(4, 1)

    def forward(self, x, x_mark):
        y = self.over_time(x.permute(0, 2, 1)).permute(0, 2, 1)  # [B, H, N]
        return y + self.from_marks(x_mark[:, -1:, :])              # time of the last step, broadcast


def write(name, tensor):
    tensor.detach().contiguous().to(torch.float32).numpy().astype("<f4").tofile(os.path.join(OUT, name))


def main():
    torch.manual_seed(7)
    model = TinyForecaster().eval()
    x = torch.randn(B, T, N)
    marks = torch.rand(B, T, 4) - 0.5
    traced = torch.jit.trace(model, (x, marks))
    meta = {"seq_len": T, "pred_len": H, "channels": N, "time_features": 4,
            "description": "brickcast TorchScript test fixture (scripts/make_torchscript_fixture.py)"}
    os.makedirs(OUT, exist_ok=True)
    torch.jit.save(traced, os.path.join(OUT, "tiny_forecaster.pt"), _extra_files={"brickcast.json": json.dumps(meta)})
    # The same module without the metadata file: loading must fail with a clear message.
    torch.jit.save(traced, os.path.join(OUT, "no_metadata.pt"))
    write("x.bin", x)
    write("marks.bin", marks)
    write("y.bin", traced(x, marks))


if __name__ == "__main__":
    main()
