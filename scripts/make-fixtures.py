#!/usr/bin/env python3
"""Reference fixtures for the recurrent cells, from real PyTorch.

Builds torch.nn.RNN / LSTM / GRU modules with fixed seeds, runs forward and
backward, and writes inputs, weights, outputs and every gradient to
test/fixtures/cells/*.json. `npm test` reads these files; it never needs Python.

    python3 -m venv /tmp/fx && /tmp/fx/bin/pip install torch safetensors numpy
    /tmp/fx/bin/python scripts/make-fixtures.py

Conventions:
- Parameters and inputs are drawn in float32 (so they are exactly the numbers
  our float32 kernels receive), then the module runs in float64: the expected
  values are PyTorch's answer without float32 rounding (then stored rounded
  to float32, 6e-8 relative, far inside the tolerances), which our float32
  results must match within 1e-5 (outputs) and 1e-4 (gradients), abs + rel.
- The loss is L = Σ y⊙wy + Σ h_n⊙whn (+ Σ c_n⊙wcn), so dL/dy = wy etc. are
  arbitrary non-trivial incoming gradients.
- Biases are drawn separately and are distinct (b_ih ≠ b_hh), so a kernel that
  sums the GRU n-gate biases, or swaps them, fails.
- Arrays are base64 of little-endian float32.
"""
import base64
import json
import os
import sys

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "cells")


def b64(a, dtype):
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode()


def f32(t):
    return b64(t.detach().cpu().numpy().ravel(), "<f4")


def f64(t):
    """A float64 result, rounded to float32 for storage."""
    return b64(t.detach().cpu().numpy().ravel(), "<f4")


def make_case(name, cell, I, H, T, B, layers=1, bidirectional=False, batch_first=False,
              nonlinearity="tanh", with_state=True, lengths=None, seed=0):
    torch.manual_seed(seed)
    D = 2 if bidirectional else 1
    ctor = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    kwargs = dict(input_size=I, hidden_size=H, num_layers=layers, bidirectional=bidirectional,
                  batch_first=batch_first)
    if cell == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    m32 = ctor(**kwargs).float()
    # Re-draw every parameter so biases are distinct and not the default scale.
    with torch.no_grad():
        for pname, p in m32.named_parameters():
            scale = 0.5 if pname.startswith("bias") else 1.0 / np.sqrt(H) * 1.5
            p.copy_((torch.rand_like(p) * 2 - 1) * scale)
    xshape = (B, T, I) if batch_first else (T, B, I)
    x32 = torch.randn(*xshape, dtype=torch.float32)
    h032 = torch.randn(layers * D, B, H, dtype=torch.float32) * 0.5
    c032 = torch.randn(layers * D, B, H, dtype=torch.float32) * 0.5
    yshape = (B, T, D * H) if batch_first else (T, B, D * H)
    wy32 = torch.randn(*yshape, dtype=torch.float32)
    whn32 = torch.randn(layers * D, B, H, dtype=torch.float32)
    wcn32 = torch.randn(layers * D, B, H, dtype=torch.float32)

    def run(dtype):
        m = ctor(**kwargs).to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in m32.state_dict().items()})
        x = x32.to(dtype).clone().requires_grad_(True)
        h0 = h032.to(dtype).clone().requires_grad_(True)
        c0 = c032.to(dtype).clone().requires_grad_(True)
        state = None
        if with_state:
            state = (h0, c0) if cell == "lstm" else h0
        if lengths is not None:
            packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
            out, st = m(packed, state)
            y, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
        else:
            y, st = m(x, state)
        hn, cn = (st if cell == "lstm" else (st, None))
        loss = (y * wy32.to(dtype)).sum() + (hn * whn32.to(dtype)).sum()
        if cn is not None:
            loss = loss + (cn * wcn32.to(dtype)).sum()
        loss.backward()
        return m, x, h0, c0, y, hn, cn, loss

    m, x, h0, c0, y, hn, cn, loss = run(torch.float64)
    case = {
        "name": name, "cell": cell, "nonlinearity": nonlinearity, "inputSize": I, "hiddenSize": H,
        "seqLen": T, "batchSize": B, "numLayers": layers, "bidirectional": bidirectional,
        "batchFirst": batch_first, "withState": with_state, "lengths": lengths,
        "torch": torch.__version__,
        "params": {k: {"shape": list(v.shape), "data": f32(v)} for k, v in m32.state_dict().items()},
        "x": f32(x32), "h0": f32(h032), "c0": f32(c032),
        "wy": f32(wy32), "whn": f32(whn32), "wcn": f32(wcn32),
        "expected": {
            "y": f64(y), "hn": f64(hn), "cn": f64(cn) if cn is not None else None,
            "loss": loss.item(),
            "dx": f64(x.grad),
            "dh0": f64(h0.grad) if with_state else None,
            "dc0": f64(c0.grad) if (with_state and cell == "lstm") else None,
            "grads": {k: f64(p.grad) for k, p in m.named_parameters()},
        },
    }
    return case


def make_model_case(name, seed):
    """Whole models (embedding / recurrent / linear + loss) for the model API:
    loss and the gradient of every parameter, as Keras-style layers see them."""
    torch.manual_seed(seed)
    B, T = 3, 5
    if name == "emb_lstm_dense_scce":
        V, E, H = 11, 6, 8
        emb, rnn, lin = torch.nn.Embedding(V, E), torch.nn.LSTM(E, H, batch_first=True), torch.nn.Linear(H, V)
        x = torch.randint(0, V, (B, T))
        y = torch.randint(0, V, (B, T))
        def forward():
            out, _ = rnn(emb(x))
            return torch.nn.functional.cross_entropy(lin(out).reshape(B * T, V), y.reshape(-1))
        modules = [("embedding", emb), ("rnn", rnn), ("dense", lin)]
        spec = {"vocab": V, "embed": E, "units": H}
        xs, ys = x.to(torch.int32), y.to(torch.int32)
    elif name == "bigru_last_dense_mse":
        I, H, O = 3, 5, 2
        rnn, lin = torch.nn.GRU(I, H, batch_first=True, bidirectional=True), torch.nn.Linear(2 * H, O)
        x = torch.randn(B, T, I)
        y = torch.randn(B, O)
        def forward():
            _, hn = rnn(x)
            last = torch.cat([hn[0], hn[1]], dim=1)  # Keras Bidirectional(return_sequences=False), merge concat
            return torch.nn.functional.mse_loss(lin(last), y)
        modules = [("rnn", rnn), ("dense", lin)]
        spec = {"input": I, "units": H, "out": O}
        xs, ys = x, y
    elif name == "rnn2_dense_bce":
        I, H = 4, 6
        r1, r2, lin = torch.nn.RNN(I, H, batch_first=True), torch.nn.RNN(H, H, batch_first=True), torch.nn.Linear(H, 1)
        x = torch.randn(B, T, I)
        y = torch.randint(0, 2, (B, T, 1)).float()
        def forward():
            o1, _ = r1(x)
            o2, _ = r2(o1)
            return torch.nn.functional.binary_cross_entropy_with_logits(lin(o2), y)
        modules = [("rnn1", r1), ("rnn2", r2), ("dense", lin)]
        spec = {"input": I, "units": H}
        xs, ys = x, y
    else:
        raise ValueError(name)
    with torch.no_grad():
        for _, m in modules:
            for pn, p in m.named_parameters():
                p.copy_((torch.rand_like(p) * 2 - 1) * (0.5 if pn.startswith("bias") else 0.6))
    loss = forward()
    loss.backward()
    return {
        "name": name, "torch": torch.__version__, "batch": B, "steps": T, "spec": spec,
        "x": b64(xs.numpy().ravel(), "<i4" if xs.dtype == torch.int32 else "<f4"),
        "xDtype": "int32" if xs.dtype == torch.int32 else "float32",
        "y": b64(ys.numpy().ravel(), "<i4" if ys.dtype == torch.int32 else "<f4"),
        "yDtype": "int32" if ys.dtype == torch.int32 else "float32",
        "loss": loss.item(),
        "params": {f"{mn}.{pn}": {"shape": list(p.shape), "data": f32(p)} for mn, m in modules for pn, p in m.named_parameters()},
        "grads": {f"{mn}.{pn}": f32(p.grad) for mn, m in modules for pn, p in m.named_parameters()},
    }


def make_safetensors_fixture():
    """A file written by the Python safetensors package, with several dtypes,
    and the values our reader must see (as float32)."""
    from safetensors.torch import save_file
    d = os.path.join(OUT, "..", "safetensors")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(7)
    tensors = {
        "layer.weight": torch.randn(3, 4),
        "layer.bias": torch.randn(3).to(torch.float16),
        "emb": torch.randn(2, 5).to(torch.bfloat16),
        "ids": torch.tensor([1, -2, 3], dtype=torch.int64),
        "wide": torch.randn(2, 2, dtype=torch.float64),
        "empty": torch.zeros(0, 3),
    }
    save_file(tensors, os.path.join(d, "python.safetensors"), metadata={"written_by": "safetensors.torch.save_file"})
    want = {k: {"shape": list(v.shape), "values": [float(x) for x in v.to(torch.float64).reshape(-1).tolist()]} for k, v in tensors.items()}
    with open(os.path.join(d, "python.json"), "w") as f:
        json.dump(want, f, indent=1)


def make_import_fixtures():
    """Trained-model stand-ins for importPyTorch: modules built with fixed seeds,
    state_dict saved with safetensors, inputs and PyTorch's outputs (float32)."""
    from safetensors.torch import save_file
    d = os.path.join(OUT, "..", "pytorch-import")
    os.makedirs(d, exist_ok=True)
    cases = []

    class CharLM(torch.nn.Module):  # Embedding → 2-layer bidirectional LSTM (batch_first) → Linear per step
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(13, 6)
            self.rnn = torch.nn.LSTM(6, 7, num_layers=2, bidirectional=True, batch_first=True)
            self.head = torch.nn.Linear(14, 13)
        def forward(self, x):
            return self.head(self.rnn(self.embed(x))[0])

    class LastStepGRU(torch.nn.Module):  # Embedding → GRU (time-major) → Linear on output[-1]
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(9, 4)
            self.gru = torch.nn.GRU(4, 5)
            self.fc = torch.nn.Linear(5, 3)
        def forward(self, x_bt):
            out, _ = self.gru(self.embed(x_bt.t()))  # PyTorch sees [T, B]
            return self.fc(out[-1])

    class ReluRNN(torch.nn.Module):  # float input → 2-layer ReLU RNN → 2 Linears per step
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(3, 8, num_layers=2, nonlinearity="relu", batch_first=True)
            self.fc1 = torch.nn.Linear(8, 6)
            self.fc2 = torch.nn.Linear(6, 2)
        def forward(self, x):
            return self.fc2(self.fc1(self.rnn(x)[0]))

    class BiLSTMClassifier(torch.nn.Module):  # bidirectional LSTM → cat(h_n[-2], h_n[-1]) → Linear
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Module()
            self.encoder.lstm = torch.nn.LSTM(4, 6, bidirectional=True, batch_first=True)
            self.out = torch.nn.Linear(12, 2)
        def forward(self, x):
            _, (h, _) = self.encoder.lstm(x)
            return self.out(torch.cat([h[-2], h[-1]], dim=1))

    specs = {
        "charlm": (CharLM, lambda: torch.randint(0, 13, (3, 8)), None),
        "laststep_gru": (LastStepGRU, lambda: torch.randint(0, 9, (4, 6)),
                         {"head": "last-step", "layers": [{"module": "embed", "type": "embedding"}, {"module": "gru", "type": "gru"}, {"module": "fc", "type": "linear"}]}),
        "relu_rnn": (ReluRNN, lambda: torch.randn(2, 5, 3), {"layers": [{"module": "rnn", "type": "rnn", "nonlinearity": "relu"}, {"module": "fc1", "type": "linear"}, {"module": "fc2", "type": "linear"}]}),
        "bilstm_final_state": (BiLSTMClassifier, lambda: torch.randn(3, 7, 4), {"head": "final-state"}),
    }
    for i, (name, (ctor, make_x, spec)) in enumerate(specs.items()):
        torch.manual_seed(200 + i)
        m = ctor().eval()
        with torch.no_grad():
            for pn, p in m.named_parameters():
                p.copy_((torch.rand_like(p) * 2 - 1) * (0.5 if "bias" in pn else 0.7))
        x = make_x()
        with torch.no_grad():
            y = m(x)
        save_file({k: v.contiguous() for k, v in m.state_dict().items()}, os.path.join(d, name + ".safetensors"))
        cases.append({
            "name": name, "spec": spec, "xDtype": "int32" if x.dtype == torch.int64 else "float32",
            "xShape": list(x.shape), "x": b64(x.numpy().ravel(), "<i4" if x.dtype == torch.int64 else "<f4"),
            "yShape": list(y.shape), "y": f32(y),
        })
    with open(os.path.join(d, "cases.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)


def main():
    os.makedirs(OUT, exist_ok=True)
    make_safetensors_fixture()
    make_import_fixtures()
    models_dir = os.path.join(OUT, "..", "models")
    os.makedirs(models_dir, exist_ok=True)
    names = ["emb_lstm_dense_scce", "bigru_last_dense_mse", "rnn2_dense_bce"]
    for i, n in enumerate(names):
        with open(os.path.join(models_dir, n + ".json"), "w") as f:
            json.dump(make_model_case(n, 100 + i), f, separators=(",", ":"))
    with open(os.path.join(models_dir, "index.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": names}, f, indent=1)
    cases = []
    seed = 1
    # 1. Each cell, one layer, one direction, I=5 H=3 N=2 T=4 (INTEROP §8.1).
    for cell, nl in [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]:
        tag = f"{cell}_{nl}" if cell == "rnn" else cell
        cases.append(make_case(f"{tag}_basic", cell, 5, 3, 4, 2, nonlinearity=nl, seed=seed)); seed += 1
        cases.append(make_case(f"{tag}_nostate", cell, 5, 3, 4, 2, nonlinearity=nl, with_state=False, seed=seed)); seed += 1
    # 2. Two layers, bidirectional, batch_first both ways (INTEROP §8.2).
    for cell in ["rnn", "lstm", "gru"]:
        for bf in [False, True]:
            cases.append(make_case(f"{cell}_l2_bidi_bf{int(bf)}", cell, 5, 3, 4, 2, layers=2, bidirectional=True,
                                   batch_first=bf, seed=seed)); seed += 1
    # 3. Packed sequences, lengths [4, 2] and [5, 1, 3], bidirectional (INTEROP §8.4).
    for cell in ["rnn", "lstm", "gru"]:
        cases.append(make_case(f"{cell}_packed_bidi", cell, 5, 3, 4, 2, bidirectional=True, lengths=[4, 2], seed=seed)); seed += 1
        cases.append(make_case(f"{cell}_packed_l2_bf", cell, 4, 6, 5, 3, layers=2, bidirectional=True, batch_first=True,
                               lengths=[5, 1, 3], seed=seed)); seed += 1
    # 4. Odd sizes: H = 1, 3, 17, 130; I = 1; T = 1; B = 1.
    for cell in ["rnn", "lstm", "gru"]:
        for (I, H, T, B) in [(1, 1, 3, 2), (1, 17, 5, 1), (7, 130, 3, 3), (3, 3, 1, 1), (4, 17, 2, 5)]:
            cases.append(make_case(f"{cell}_I{I}_H{H}_T{T}_B{B}", cell, I, H, T, B, bidirectional=(H == 17), seed=seed)); seed += 1
    # 5. Long sequences, where error could accumulate.
    for cell in ["rnn", "lstm", "gru"]:
        cases.append(make_case(f"{cell}_T500", cell, 3, 8, 500, 2, seed=seed)); seed += 1

    for c in cases:
        with open(os.path.join(OUT, c["name"] + ".json"), "w") as f:
            json.dump(c, f, separators=(",", ":"))
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": [c["name"] for c in cases]}, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, c["name"] + ".json")) for c in cases)
    print(f"wrote {len(cases)} cases ({total / 1024:.0f} KiB) to {os.path.normpath(OUT)} with torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
