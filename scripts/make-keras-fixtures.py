#!/usr/bin/env python3
"""Keras 3 fixtures for importTfjs (Keras 3's own outputs as the reference).

Builds small Keras 3 models (torch backend), sets seeded weights, runs
`model.predict`, and writes each as a TF.js layers model: `model.json` whose
`modelTopology` is Keras' own `model.to_json()` plus `keras_version` (what the
tensorflowjs converter emits for a Keras model), and one `weights.bin` in
manifest order (weights named by Keras 3 variable paths).

Cases that matter for import (../shared/INTEROP.md §2): Keras 3 `hard_sigmoid`
is clip(x/6 + 0.5) (tfjs and Keras 2: clip(0.2x + 0.5)); GRU `reset_after=True`
(Keras default, bias [2, 3H], which tfjs itself cannot load) and `False`.

    KERAS_BACKEND=torch /tmp/fx/bin/python scripts/make-keras-fixtures.py
"""
import base64
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import numpy as np  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "keras3")


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


def cases():
    yield "lstm_hard_sigmoid", "Keras 3 LSTM recurrent_activation='hard_sigmoid' (x/6 + 0.5)", (4, 6, 3), keras.Sequential(
        [keras.Input((6, 3)), keras.layers.LSTM(5, recurrent_activation="hard_sigmoid", return_sequences=True)])
    yield "gru_reset_after", "Keras 3 GRU (reset_after=True, bias [2, 3H])", (3, 5, 4), keras.Sequential(
        [keras.Input((5, 4)), keras.layers.GRU(6), keras.layers.Dense(2)])
    yield "gru_reset_before", "Keras 3 GRU reset_after=False", (3, 5, 4), keras.Sequential(
        [keras.Input((5, 4)), keras.layers.GRU(6, reset_after=False, return_sequences=True)])
    yield "bidirectional_lstm", "Keras 3 Bidirectional(LSTM) sequences, concat → Dense softmax", (2, 7, 3), keras.Sequential(
        [keras.Input((7, 3)), keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True)), keras.layers.Dense(3, activation="softmax")])


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(1234)
    index = []
    for name, about, xshape, model in cases():
        for w in model.weights:
            w.assign(rng.uniform(-0.8, 0.8, size=tuple(w.shape)).astype("float32"))
        x = rng.uniform(-2, 2, size=xshape).astype("float32")
        y = model.predict(x, verbose=0)
        topology = json.loads(model.to_json())
        topology = {"model_config": topology, "keras_version": keras.__version__, "backend": keras.backend.backend()}
        entries, blobs = [], []
        for w in model.weights:
            v = np.asarray(w.numpy(), dtype="<f4")
            entries.append({"name": w.path, "shape": list(v.shape), "dtype": "float32"})
            blobs.append(v.tobytes())
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "model.json"), "w") as f:
            json.dump({"modelTopology": topology, "format": "layers-model", "generatedBy": f"keras v{keras.__version__}",
                       "convertedBy": "scripts/make-keras-fixtures.py", "weightsManifest": [{"paths": ["weights.bin"], "weights": entries}]}, f)
        with open(os.path.join(d, "weights.bin"), "wb") as f:
            f.write(b"".join(blobs))
        index.append({"name": name, "about": about, "xDtype": "float32", "xShape": list(x.shape), "x": b64(x),
                      "yShape": list(y.shape), "y": b64(y)})
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"keras": keras.__version__, "cases": index}, f, indent=1)
    print(f"wrote {len(index)} Keras {keras.__version__} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
