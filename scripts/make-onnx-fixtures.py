#!/usr/bin/env python3
"""ONNX fixtures for importOnnx / toOnnx tests.

1. Models exported by real PyTorch with the TorchScript exporter
   (`torch.onnx.export(..., dynamo=False)`), so LSTM/GRU/RNN nodes are emitted
   with PyTorch's gate reordering, plus the Gather/Transpose/Slice/Gemm/...
   around them. The script asserts the graphs contain the recurrent nodes.
2. Hand-built single-node graphs (onnx.helper) for the attributes the exporter
   never sets: GRU linear_before_reset=0, LSTM direction=reverse with
   sequence_lens, HardSigmoid gates, layout=1 — and attributes we refuse
   (clip, input_forget, peepholes).

The reference outputs are computed in the test by onnxruntime-node (npm), so
this script only writes .onnx files (small) and a list of cases.

    /tmp/fx/bin/python scripts/make-onnx-fixtures.py
"""
import json
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "onnx")


def export(name, module, example, input_names, dynamic_axes):
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(module, example, path, input_names=input_names, output_names=["out"],
                      dynamic_axes=dynamic_axes, opset_version=14, dynamo=False)
    m = onnx.load(path)
    ops = sorted({n.op_type for n in m.graph.node})
    assert any(o in ("LSTM", "GRU", "RNN") for o in ops), f"{name}: no recurrent node in {ops}"
    return ops


def torch_cases():
    cases = []
    torch.manual_seed(11)

    class CharLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(17, 8)
            self.rnn = torch.nn.LSTM(8, 12, num_layers=2, bidirectional=True, batch_first=True)
            self.head = torch.nn.Linear(24, 17)

        def forward(self, x):
            return torch.log_softmax(self.head(self.rnn(self.embed(x))[0]), dim=-1)

    class GruLast(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(9, 5)
            self.gru = torch.nn.GRU(5, 7)
            self.fc = torch.nn.Linear(7, 3)

        def forward(self, x):
            out, _ = self.gru(self.embed(x).transpose(0, 1))
            return torch.softmax(self.fc(out[-1]), dim=-1)

    class TanhRnn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(4, 6, batch_first=True)
            self.fc = torch.nn.Linear(6, 2)

        def forward(self, x):
            out, h = self.rnn(x)
            return self.fc(out + h.transpose(0, 1))

    for name, ctor, example, dtype in [
        ("torch_charlm_bilstm2", CharLM, torch.randint(0, 17, (2, 6)), "int64"),
        ("torch_gru_last", GruLast, torch.randint(0, 9, (3, 5)), "int64"),
        ("torch_rnn_tanh", TanhRnn, torch.randn(2, 5, 4), "float32"),
    ]:
        m = ctor().eval()
        ops = export(name, m, (example,), ["x"], {"x": {0: "batch", 1: "time"}, "out": {0: "batch"}})
        cases.append({"name": name, "input": {"name": "x", "dtype": dtype, "shape": list(example.shape),
                                               "vocab": int(example.max()) + 1 if dtype == "int64" else None},
                      "ops": ops})
    return cases


def node_case(name, op, T, N, I, H, attrs, D=1, seq_lens=None, layout=0, peephole=False, expect_error=None, seed=None, same_as=None):
    rng = np.random.default_rng(len(name) if seed is None else seed)
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    W = rng.uniform(-0.6, 0.6, (D, G * H, I)).astype(np.float32)
    R = rng.uniform(-0.6, 0.6, (D, G * H, H)).astype(np.float32)
    B = rng.uniform(-0.4, 0.4, (D, 2 * G * H)).astype(np.float32)
    inits = [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"), numpy_helper.from_array(B, "B")]
    inputs = ["X", "W", "R", "B"]
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [N, T, I] if layout else [T, N, I])]
    if seq_lens is not None:
        graph_inputs.append(helper.make_tensor_value_info("L", TensorProto.INT32, [N]))
        inputs.append("L")
    else:
        inputs.append("")
    if peephole:
        inputs += ["", "", "P"]
        inits.append(numpy_helper.from_array(rng.uniform(-0.5, 0.5, (D, 3 * H)).astype(np.float32), "P"))
    outputs = ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])
    node = helper.make_node(op, inputs, outputs, hidden_size=H, **attrs)
    state = [N, D, H] if layout else [D, N, H]
    shapes = {"Y": [N, T, D, H] if layout else [T, D, N, H], "Y_h": state, "Y_c": state}
    graph = helper.make_graph([node], name, graph_inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, shapes[o]) for o in outputs], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, name + ".onnx"))
    return {"name": name, "input": {"name": "X", "dtype": "float32", "shape": [N, T, I] if layout else [T, N, I]},
            "seqLens": seq_lens, "outputs": outputs, "expectError": expect_error, "layout": layout, "sameAs": same_as}


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = torch_cases()
    cases += [
        node_case("gru_lbr0", "GRU", 5, 3, 4, 6, {"linear_before_reset": 0}),
        node_case("gru_lbr1_bidi", "GRU", 5, 2, 3, 4, {"linear_before_reset": 1, "direction": "bidirectional"}, D=2),
        node_case("lstm_reverse_lens", "LSTM", 4, 2, 3, 5, {"direction": "reverse"}, seq_lens=[4, 2]),
        node_case("lstm_bidi_lens", "LSTM", 4, 3, 3, 4, {"direction": "bidirectional"}, D=2, seq_lens=[4, 1, 3]),
        node_case("lstm_hardsigmoid", "LSTM", 5, 2, 3, 4, {"activations": ["HardSigmoid", "Tanh", "Tanh"]}),
        node_case("rnn_relu", "RNN", 5, 2, 3, 4, {"activations": ["Relu"]}, seed=5),
        # onnxruntime refuses layout=1 ("Batchwise recurrent operations are not supported"):
        # the test compares it with onnxruntime on the layout-0 twin above, inputs transposed
        node_case("rnn_relu_layout1", "RNN", 5, 2, 3, 4, {"activations": ["Relu"], "layout": 1}, layout=1, seed=5, same_as="rnn_relu"),
        node_case("lstm_layout1_bidi", "LSTM", 4, 3, 2, 5, {"direction": "bidirectional", "layout": 1}, D=2, layout=1, seed=6, same_as="lstm_layout0_bidi"),
        node_case("lstm_layout0_bidi", "LSTM", 4, 3, 2, 5, {"direction": "bidirectional"}, D=2, seed=6),
        node_case("lstm_clip", "LSTM", 3, 2, 3, 4, {"clip": 0.5}, expect_error="clip"),
        node_case("lstm_input_forget", "LSTM", 3, 2, 3, 4, {"input_forget": 1}, expect_error="input_forget"),
        node_case("lstm_peephole", "LSTM", 3, 2, 3, 4, {}, peephole=True, expect_error="peephole"),
        node_case("gru_hardsigmoid_alpha", "GRU", 3, 2, 3, 4, {"activations": ["HardSigmoid", "Tanh"], "activation_alpha": [0.3], "activation_beta": [0.5]}, expect_error="HardSigmoid"),
    ]
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"torch": torch.__version__, "onnx": onnx.__version__, "cases": cases}, f, indent=1)
    print(f"wrote {len(cases)} ONNX cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
