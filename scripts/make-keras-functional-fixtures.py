#!/usr/bin/env python3
"""Keras 3 FUNCTIONAL-model fixtures for importTfjs (Keras 3's own outputs as the reference).

Builds small Keras 3 functional models (`keras.Model(inputs, outputs)`, torch
backend) — several inputs and outputs, Embedding(mask_zero), Bidirectional
with return_state, initial_state, Attention / AdditiveAttention /
MultiHeadAttention (use_causal_mask, return_attention_scores), Conv1D
(causal, dilated, strided), pooling, merges, RepeatVector, TimeDistributed —
sets seeded weights, runs `model.predict`, and writes each as a TF.js layers
model exactly as scripts/make-keras-fixtures.py does: `model.json` whose
`modelTopology` is Keras' own `model.to_json()` (kept verbatim, including the
node `args` / `kwargs` Keras writes) plus `keras_version` and `backend`, and one
`weights.bin` in manifest order (weights named by Keras 3 variable paths).

cases.json: {"cases": [{"name", "about", "inputs": [{"name", "dtype", "shape",
"data"}], "outputs": [{"shape", "data"}]}]}, inputs and outputs in the model's
order, data base64 of little-endian float32 (int32 for integer inputs).

    KERAS_BACKEND=torch python3 scripts/make-keras-functional-fixtures.py
"""
import base64
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers as L  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "keras3-functional")


def b64(a, dtype="<f4"):
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode()


def ids(rng, shape, vocab, lengths=None):
    """Integer ids in [1, vocab); row b post-padded with zeros from lengths[b]."""
    x = rng.integers(1, vocab, size=shape).astype("int32")
    for b, n in enumerate(lengths or []):
        x[b, n:] = 0
    return x


def encoder_decoder_attention(rng):
    enc = keras.Input((6,), dtype="int32", name="encoder_ids")
    dec = keras.Input((5,), dtype="int32", name="decoder_ids")
    e = L.Embedding(12, 4, mask_zero=True, name="encoder_embedding")(enc)
    seq, fh, fc, bh, bc = L.Bidirectional(L.LSTM(3, return_sequences=True, return_state=True), name="encoder")(e)
    h = L.Concatenate(name="state_h")([fh, bh])
    c = L.Concatenate(name="state_c")([fc, bc])
    d = L.Embedding(12, 4, name="decoder_embedding")(dec)
    ds = L.LSTM(6, return_sequences=True, name="decoder")(d, initial_state=[h, c])
    ctx = L.Attention(use_scale=True, name="attention")([ds, seq])
    y = L.Dense(12, activation="softmax", name="next_token")(L.Concatenate()([ds, ctx]))
    model = keras.Model([enc, dec], y)
    return model, [ids(rng, (3, 6), 12, [6, 4, 2]), ids(rng, (3, 5), 12)]


def additive_and_causal_mha(rng):
    q = keras.Input((4, 3), name="query")
    v = keras.Input((6, 3), name="value")
    ctx = L.AdditiveAttention(name="additive")([q, v])
    x = L.Add()([q, ctx])
    sa = L.MultiHeadAttention(num_heads=2, key_dim=3, name="self_attention")(x, x, use_causal_mask=True)
    y = L.Dense(2, name="head")(L.GlobalAveragePooling1D()(sa))
    model = keras.Model([q, v], [y, sa])
    return model, [rng.uniform(-1, 1, size=(2, 4, 3)).astype("float32"), rng.uniform(-1, 1, size=(2, 6, 3)).astype("float32")]


def conv_merges_attention_scores(rng):
    sig = keras.Input((12, 2), name="signal")
    tok = keras.Input((6,), dtype="int32", name="ids")
    s = L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu")(sig)
    pooled = L.MaxPooling1D(2)(s)
    s = L.Conv1D(5, 3, padding="same", strides=2)(pooled)
    s = L.GlobalAveragePooling1D()(s)
    a = L.Dense(4, activation="tanh")(s)
    e = L.Embedding(10, 4, mask_zero=True)(tok)
    b = L.GRU(4)(e)
    merged = L.Concatenate()([L.Subtract()([a, b]), L.Multiply()([a, b]), L.Average()([a, b]), L.Maximum()([a, b]), L.Minimum()([a, b])])
    probs = L.Dense(3, activation="softmax", name="probs")(merged)
    q = L.TimeDistributed(L.Dense(4))(L.Concatenate()([L.RepeatVector(6)(a), pooled]))
    ctx, scores = L.Attention(name="attention")([q, e], return_attention_scores=True)
    model = keras.Model([sig, tok], [probs, ctx, scores])
    return model, [rng.uniform(-1, 1, size=(3, 12, 2)).astype("float32"), ids(rng, (3, 6), 10, [6, 3, 5])]


CASES = [
    ("encoder_decoder_attention", "Embedding(mask_zero) → Bidirectional(LSTM return_state) → concat states → decoder LSTM(initial_state) → Attention(use_scale) → Dense softmax; post-padded encoder ids", encoder_decoder_attention),
    ("additive_and_causal_mha", "AdditiveAttention([query, value]) → Add → MultiHeadAttention(2 heads, key_dim 3) self-attention use_causal_mask → GAP1D → Dense; outputs [dense, MHA sequence]", additive_and_causal_mha),
    ("conv_merges_attention_scores", "Conv1D(causal, dilation 2) → MaxPool1D → Conv1D(same, stride 2) → GAP1D → Dense; Embedding(mask_zero) → GRU; subtract/multiply/average/maximum/minimum; concat(RepeatVector, pooled) → TimeDistributed(Dense) → Attention(return_attention_scores) over the masked embedding; outputs [probs, context, scores]", conv_merges_attention_scores),
]


def write_tfjs(model, d):
    """As scripts/make-keras-fixtures.py: Keras' own to_json() as model_config, weights by variable path."""
    topology = {"model_config": json.loads(model.to_json()), "keras_version": keras.__version__, "backend": keras.backend.backend()}
    entries, blobs = [], []
    for w in model.weights:
        v = np.asarray(w.numpy(), dtype="<f4")
        entries.append({"name": w.path, "shape": list(v.shape), "dtype": "float32"})
        blobs.append(v.tobytes())
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.json"), "w") as f:
        json.dump({"modelTopology": topology, "format": "layers-model", "generatedBy": f"keras v{keras.__version__}",
                   "convertedBy": "scripts/make-keras-functional-fixtures.py", "weightsManifest": [{"paths": ["weights.bin"], "weights": entries}]}, f)
    with open(os.path.join(d, "weights.bin"), "wb") as f:
        f.write(b"".join(blobs))
    return topology


def main():
    os.makedirs(OUT, exist_ok=True)
    index = []
    for k, (name, about, build) in enumerate(CASES):
        keras.utils.set_random_seed(4321 + k)
        rng = np.random.default_rng(4321 + k)
        model, xs = build(rng)
        for w in model.weights:
            w.assign(rng.uniform(-0.8, 0.8, size=tuple(w.shape)).astype("float32"))
        ys = model.predict(xs, verbose=0)
        ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
        topology = write_tfjs(model, os.path.join(OUT, name))
        names = [n for n, _, _ in topology["model_config"]["config"]["input_layers"]]
        inputs = []
        for n, x in zip(names, xs):
            dt = "int32" if x.dtype.kind == "i" else "float32"
            inputs.append({"name": n, "dtype": dt, "shape": list(x.shape), "data": b64(x, "<i4" if dt == "int32" else "<f4")})
        outputs = [{"shape": list(np.shape(y)), "data": b64(np.asarray(y))} for y in ys]
        index.append({"name": name, "about": about, "inputs": inputs, "outputs": outputs})
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"keras": keras.__version__, "backend": keras.backend.backend(), "cases": index}, f, indent=1)
    print(f"wrote {len(index)} Keras {keras.__version__} functional cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
