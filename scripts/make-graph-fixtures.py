#!/usr/bin/env python3
"""Reference fixtures for graph models, from real PyTorch.

Each case is a small multi-path network written twice: here in PyTorch, and in
test/graph-reference.test.ts with the functional API under the same parameter
names (PyTorch's state-dict names, which are ours). The test loads these
parameters, runs the same inputs and compares the loss, the outputs and every
parameter's gradient. `npm test` reads the JSON files; it never needs Python.

    pip install torch numpy
    python3 scripts/make-graph-fixtures.py

Conventions (as scripts/make-fixtures.py):
- Inputs and parameters are drawn in float32, the network runs in float64, and
  results are stored rounded to float32; our float32 results must match within
  1e-5 (outputs) and 1e-4 (gradients), abs + rel.
- The loss is the mean squared error against a random target (Keras' `mse`
  averaged over every element), or the sum of several such losses.
- Arrays are base64 of little-endian float32.
"""
import base64
import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "graph")


def b64(t):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    return base64.b64encode(np.ascontiguousarray(a.ravel(), dtype="<f4").tobytes()).decode()


def arr(t):
    return {"shape": list(t.shape), "data": b64(t)}


def redraw(module, scale=0.5):
    """Every parameter re-drawn uniformly (biases distinct from zero), stored in float32."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.empty_like(p).uniform_(-scale, scale).float())


def run(name, module, inputs, targets, note):
    """Forward in float64, the mean-squared-error loss summed over outputs, backward."""
    module = module.double()
    xs = {k: v.double() for k, v in inputs.items()}
    outs = module(**xs)
    loss = sum(((o - targets[i].double()) ** 2).mean() for i, o in enumerate(outs))
    loss.backward()
    case = {
        "note": note,
        "inputs": {k: arr(v) for k, v in inputs.items()},
        "targets": [arr(t) for t in targets],
        "params": {k: arr(p) for k, p in module.named_parameters()},
        "outputs": [arr(o) for o in outs],
        "loss": loss.item(),
        "grads": {k: arr(p.grad) for k, p in module.named_parameters()},
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(case, f)
    print(f"{name}: loss {loss.item():.6f}")


class Seq2SeqLstm(torch.nn.Module):
    """Encoder LSTM's final (h, c) as the decoder LSTM's initial state; a linear head per step."""

    def __init__(self, I, Id, H, O):
        super().__init__()
        self.enc = torch.nn.LSTM(I, H, batch_first=True)
        self.dec = torch.nn.LSTM(Id, H, batch_first=True)
        self.out = torch.nn.Linear(H, O)

    def forward(self, enc_in, dec_in):
        _, (h, c) = self.enc(enc_in)
        y, _ = self.dec(dec_in, (h, c))
        return [self.out(y), h[0]]


class BiGruStates(torch.nn.Module):
    """A bidirectional GRU's two final states start a bidirectional GRU decoder (forward from forward)."""

    def __init__(self, I, Id, H, O):
        super().__init__()
        self.enc = torch.nn.GRU(I, H, batch_first=True, bidirectional=True)
        self.dec = torch.nn.GRU(Id, H, batch_first=True, bidirectional=True)
        self.out = torch.nn.Linear(2 * H, O)

    def forward(self, enc_in, dec_in):
        _, hn = self.enc(enc_in)
        y, _ = self.dec(dec_in, hn)
        return [self.out(y)]


class ConvGru(torch.nn.Module):
    """Convolutions before a recurrent layer: causal dilated, then strided grouped 'same', max pooling, GRU, global average."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(3, 8, 3, dilation=2)
        self.conv2 = torch.nn.Conv1d(8, 8, 3, stride=2, groups=2)
        self.gru = torch.nn.GRU(8, 5, batch_first=True)
        self.out = torch.nn.Linear(5, 2)

    def forward(self, x):
        h = x.transpose(1, 2)  # channels first
        h = torch.relu(self.conv1(torch.nn.functional.pad(h, (4, 0))))  # causal: d·(K−1) zeros before
        # Keras 'same' with stride 2 over 12 steps: 6 outputs, 1 padding step, after (TensorFlow's rule)
        h = torch.tanh(self.conv2(torch.nn.functional.pad(h, (0, 1))))
        h = torch.nn.functional.max_pool1d(h, 2)
        y, _ = self.gru(h.transpose(1, 2))
        return [self.out(y.mean(dim=1))]


def main():
    torch.manual_seed(7)
    N, T, Td, I, Id, H, O = 4, 6, 4, 3, 2, 5, 3
    m = Seq2SeqLstm(I, Id, H, O)
    redraw(m)
    run(
        "seq2seq_lstm",
        m,
        {"enc_in": torch.randn(N, T, I), "dec_in": torch.randn(N, Td, Id)},
        [torch.randn(N, Td, O), torch.randn(N, H)],
        "enc LSTM(returnState) -> dec LSTM(initialState [h, c], returnSequences) -> out Dense; outputs [out, enc h]",
    )
    torch.manual_seed(8)
    m = BiGruStates(I, Id, H, O)
    redraw(m)
    run(
        "bigru_states",
        m,
        {"enc_in": torch.randn(N, T, I), "dec_in": torch.randn(N, Td, Id)},
        [torch.randn(N, Td, O)],
        "enc Bidirectional(GRU, returnState) -> [fh, bh] -> dec Bidirectional(GRU, returnSequences, initialState) -> out Dense",
    )
    torch.manual_seed(9)
    m = ConvGru()
    redraw(m)
    run(
        "conv_gru",
        m,
        {"x": torch.randn(N, 12, 3)},
        [torch.randn(N, 2)],
        "conv1 (causal, dilation 2, relu) -> conv2 (stride 2, groups 2, same, tanh) -> max pool 2 -> GRU seq -> global average -> out Dense",
    )


if __name__ == "__main__":
    main()
