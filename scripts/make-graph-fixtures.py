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


def state(module, grads=False):
    """Named parameters (or their gradients); a packed `in_proj_weight` is split into q/k/v_proj_weight, our names."""
    out = {}
    for k, p in module.named_parameters():
        t = p.grad if grads else p
        if k.endswith("in_proj_weight"):
            base = k[: -len("in_proj_weight")]
            for name, part in zip(["q", "k", "v"], t.chunk(3, dim=0)):
                out[f"{base}{name}_proj_weight"] = arr(part)
        else:
            out[k] = arr(t)
    return out


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
        "params": state(module),
        "outputs": [arr(o) for o in outs],
        "loss": loss.item(),
        "grads": state(module, grads=True),
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


def valid_steps(x):
    """Steps up to the last non-zero one (post-padding, as a masking layer reads them)."""
    nz = (x != 0).any(dim=-1)
    T = x.shape[1]
    return torch.tensor([int(r.nonzero().max()) + 1 if r.any() else 0 for r in nz])


def pad_after(x, lengths):
    """Zero each sample's steps from its length on."""
    x = x.clone()
    for b, n in enumerate(lengths):
        x[b, n:] = 0
    return x


class DotScale(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))


class DotAttention(torch.nn.Module):
    """Keras Attention(use_scale=True) on [q, v, k]: value mask on the keys; the weights as a second output."""

    def __init__(self, causal=False):
        super().__init__()
        self.attn = DotScale()
        self.causal = causal

    def forward(self, q, v, k):
        s = self.attn.scale * q @ k.transpose(1, 2)
        keys = torch.arange(v.shape[1])[None, None, :] < valid_steps(v)[:, None, None]
        if self.causal:
            keys = keys & (torch.arange(v.shape[1])[None, None, :] <= torch.arange(q.shape[1])[None, :, None])
        p = torch.softmax(s.masked_fill(~keys, float("-inf")), dim=-1)
        return [p @ v, p]


class SelfDotAttention(DotAttention):
    def __init__(self):
        super().__init__(causal=True)

    def forward(self, x):
        return super().forward(x, x, x)


class AdditiveScale(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.empty(d))


class AdditiveAttention(torch.nn.Module):
    """Keras AdditiveAttention (use_scale) on [q, v] (key = value): masks on both; padded queries output 0."""

    def __init__(self, d):
        super().__init__()
        self.attn = AdditiveScale(d)

    def forward(self, q, v):
        s = (self.attn.scale * torch.tanh(q[:, :, None, :] + v[:, None, :, :])).sum(-1)
        keys = torch.arange(v.shape[1])[None, None, :] < valid_steps(v)[:, None, None]
        p = torch.softmax(s.masked_fill(~keys, float("-inf")), dim=-1)
        qmask = (torch.arange(q.shape[1])[None, :] < valid_steps(q)[:, None]).to(p.dtype)
        out = (p @ v) * qmask[:, :, None]
        # the graph's output is the mean over valid query steps (GlobalAveragePooling1D with the mask)
        return [out.sum(1) / qmask.sum(1, keepdim=True), p * qmask[:, :, None]]


class LstmSelfAttention(torch.nn.Module):
    """LSTM over padded sequences → causal 2-head self-attention with the padding mask → mean over valid steps → linear."""

    def __init__(self, I, H, heads, O):
        super().__init__()
        self.lstm = torch.nn.LSTM(I, H, batch_first=True)
        self.mha = torch.nn.MultiheadAttention(H, heads, batch_first=True)
        self.out = torch.nn.Linear(H, O)

    def forward(self, x):
        lengths = valid_steps(x)
        T = x.shape[1]
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=T)
        pad = torch.arange(T)[None, :] >= lengths[:, None]
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        a, w = self.mha(y, y, y, key_padding_mask=pad, attn_mask=causal, average_attn_weights=False)
        qmask = (~pad).to(a.dtype)
        a = a * qmask[:, :, None]
        pooled = a.sum(1) / qmask.sum(1, keepdim=True)
        return [self.out(pooled), w * qmask[:, None, :, None]]


class CrossAttention(torch.nn.Module):
    """Multi-head attention with query, key and value of different widths (separate projection weights)."""

    def __init__(self):
        super().__init__()
        self.mha = torch.nn.MultiheadAttention(8, 2, kdim=6, vdim=5, batch_first=True)

    def forward(self, q, k, v):
        pad = torch.arange(v.shape[1])[None, :] >= valid_steps(v)[:, None]
        a, _ = self.mha(q, k, v, key_padding_mask=pad)
        return [a]


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
    torch.manual_seed(10)
    m = DotAttention()
    redraw(m, 1.0)
    v = pad_after(torch.randn(N, 5, 3), [5, 3, 1, 4])
    run(
        "dot_attention",
        m,
        {"q": torch.randn(N, 3, 4), "v": v, "k": torch.randn(N, 5, 4)},
        [torch.randn(N, 3, 3), torch.rand(N, 3, 5)],
        "Attention(useScale) on [q, masked v, k]; outputs [out, weights]",
    )
    torch.manual_seed(11)
    m = SelfDotAttention()
    redraw(m, 1.0)
    run(
        "dot_attention_causal",
        m,
        {"x": torch.randn(N, 4, 4)},
        [torch.randn(N, 4, 4), torch.rand(N, 4, 4)],
        "Attention(useScale, useCausalMask) on [x, x] (self-attention, the key defaults to the value)",
    )
    torch.manual_seed(12)
    m = AdditiveAttention(4)
    redraw(m, 1.0)
    run(
        "additive_attention",
        m,
        {"q": pad_after(torch.randn(N, 3, 4), [3, 2, 3, 1]), "v": pad_after(torch.randn(N, 5, 4), [5, 2, 4, 1])},
        [torch.randn(N, 4), torch.rand(N, 3, 5)],
        "AdditiveAttention(useScale) on [masked q, masked v]; outputs [mean over valid query steps, weights]",
    )
    torch.manual_seed(13)
    m = LstmSelfAttention(3, 8, 2, 2)
    redraw(m)
    run(
        "lstm_self_attention",
        m,
        {"x": pad_after(torch.randn(N, 6, 3), [6, 4, 2, 5])},
        [torch.randn(N, 2), torch.rand(N, 2, 6, 6)],
        "masked LSTM -> MultiHeadAttention(2 heads, keyDim 4, causal) on [y, y] -> mean over valid steps -> Dense; outputs [out, weights]",
    )
    torch.manual_seed(14)
    m = CrossAttention()
    redraw(m)
    run(
        "cross_attention",
        m,
        {"q": torch.randn(N, 3, 8), "k": torch.randn(N, 4, 6), "v": pad_after(torch.randn(N, 4, 5), [4, 2, 3, 1])},
        [torch.randn(N, 3, 8)],
        "MultiHeadAttention(2 heads, keyDim 4) on [q, masked v, k] of widths 8, 5, 6",
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
