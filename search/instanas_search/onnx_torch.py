"""Runs an exported bundle's ONNX graphs with torch, for the few ops our exporter writes.

Why: a bundle outlives the search checkpoint that made it (the shipped bundle's did not survive a VM move), yet a
controller can still be re-trained against it (`distill`), and golden outputs for such a bundle must come from an
executor other than onnxruntime, which the TypeScript runtime checks them with. The graphs hold BatchNorm folded
into the convolutions, so this is the same function the runtime computes, in torch's float32 arithmetic.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F

try:  # onnx is only needed here and by the exporter's checker (Debian python3-onnx)
    import onnx
    from onnx import numpy_helper
except ImportError:  # pragma: no cover - reported when used
    onnx = None


class OnnxTorchError(RuntimeError):
    pass


def _attrs(node) -> Dict[str, object]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads(p: List[int]) -> List[int]:
    n = len(p) // 2
    if p[:n] != p[n:]:
        raise OnnxTorchError(f"asymmetric pads {p} are not supported")
    return p[:n]


def _conv(x, w, b, a):
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
        raise OnnxTorchError(f"Conv auto_pad={a['auto_pad']!r} is not supported")
    return F.conv2d(x, w, b, stride=a.get("strides", [1, 1]), padding=_pads(a.get("pads", [0, 0, 0, 0])),
                    dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))


def _gemm(x, w, b, a):
    if a.get("transA", 0):
        x = x.t()
    if a.get("transB", 0):
        w = w.t()
    y = a.get("alpha", 1.0) * (x @ w)
    return y + a.get("beta", 1.0) * b if b is not None else y


def _avgpool(x, a):
    if a.get("ceil_mode", 0):
        raise OnnxTorchError("AveragePool ceil_mode=1 is not supported")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
        raise OnnxTorchError(f"AveragePool auto_pad={a['auto_pad']!r} is not supported")
    # ONNX's default stride is 1 (torch's is the kernel size)
    return F.avg_pool2d(x, a["kernel_shape"], a.get("strides", [1, 1]), _pads(a.get("pads", [0, 0, 0, 0])),
                        count_include_pad=bool(a.get("count_include_pad", 0)))


def _axes(a):
    if "axes" not in a:  # opset 18 moved them to an input
        raise OnnxTorchError("ReduceMean without an axes attribute (opset >= 18) is not supported")
    return a["axes"]


# op -> (inputs, attrs) -> output; the op set torch.onnx.export writes for our modules and controllers.
OPS: Dict[str, Callable] = {
    "Conv": lambda i, a: _conv(i[0], i[1], i[2] if len(i) > 2 else None, a),
    "Clip": lambda i, a: torch.clamp(i[0], i[1] if len(i) > 1 and i[1] is not None else None,
                                     i[2] if len(i) > 2 and i[2] is not None else None),
    "Relu": lambda i, a: torch.relu(i[0]),
    "Sigmoid": lambda i, a: torch.sigmoid(i[0]),
    "Add": lambda i, a: i[0] + i[1],
    "Gemm": lambda i, a: _gemm(i[0], i[1], i[2] if len(i) > 2 else None, a),
    "ReduceMean": lambda i, a: i[0].mean(dim=tuple(_axes(a)), keepdim=bool(a.get("keepdims", 1))),
    "GlobalAveragePool": lambda i, a: i[0].mean(dim=(2, 3), keepdim=True),
    "AveragePool": lambda i, a: _avgpool(i[0], a),
    # ONNX Flatten is always 2-D: [prod(shape[:axis]), prod(shape[axis:])]
    "Flatten": lambda i, a: i[0].reshape(int(torch.tensor(i[0].shape[:a.get("axis", 1)]).prod()), -1),
}


class OnnxGraph:
    """One single-input, single-output ONNX graph as a torch callable: g(x) -> y."""

    def __init__(self, path: Path):
        if onnx is None:
            raise OnnxTorchError("the onnx Python package is needed (Debian: apt-get install python3-onnx)")
        model = onnx.load(str(path))
        g = model.graph
        self.where = str(path)
        self.consts: Dict[str, torch.Tensor] = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
        self.nodes = []
        for node in g.node:
            a = _attrs(node)
            if node.op_type == "Constant":
                self.consts[node.output[0]] = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
                continue
            if node.op_type not in OPS:
                raise OnnxTorchError(f"{self.where}: op {node.op_type} is not supported; supported: {', '.join(sorted(OPS))}")
            self.nodes.append((node.op_type, list(node.input), node.output[0], a))
        inputs = [i.name for i in g.input if i.name not in self.consts]
        if len(inputs) != 1 or len(g.output) != 1:
            raise OnnxTorchError(f"{self.where}: expected one input and one output, got {inputs} and {len(g.output)}")
        self.input, self.output = inputs[0], g.output[0].name

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        env: Dict[str, torch.Tensor] = dict(self.consts)
        env[self.input] = x
        for op, ins, out, a in self.nodes:
            env[out] = OPS[op]([env[n] if n else None for n in ins], a)
        return env[self.output]
