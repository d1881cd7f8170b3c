"""Cell options of the meta-graph, behind a registry so other search spaces reuse them.

Every op maps (in_ch, out_ch, stride) to a self-contained nn.Module: its residual, when it has
one, is inside it, so a cell can simply sum the outputs of whichever options were selected.
"""
from __future__ import annotations

from typing import Callable, Dict, List

import torch
from torch import nn

OpBuilder = Callable[[int, int, int], nn.Module]
_REGISTRY: Dict[str, OpBuilder] = {}


def register_op(name: str):
    def deco(fn: OpBuilder) -> OpBuilder:
        if name in _REGISTRY:
            raise ValueError(f"op {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn
    return deco


def build_op(name: str, in_ch: int, out_ch: int, stride: int) -> nn.Module:
    try:
        builder = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; valid ops: {', '.join(sorted(_REGISTRY))}") from None
    return builder(in_ch, out_ch, stride)


def list_ops() -> List[str]:
    return sorted(_REGISTRY)


def conv_bn(in_ch: int, out_ch: int, k: int, stride: int, groups: int = 1, act: str = "relu6") -> nn.Sequential:
    layers: List[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if act == "relu6":
        layers.append(nn.ReLU6(inplace=True))
    elif act == "relu":
        layers.append(nn.ReLU(inplace=True))
    elif act != "none":
        raise ValueError(f"unknown activation {act!r}")
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand -> kxk depthwise -> 1x1 linear projection (+ skip when shapes agree)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, kernel: int, expand: int):
        super().__init__()
        hidden = in_ch * expand
        layers: List[nn.Module] = []
        if expand != 1:
            layers.append(conv_bn(in_ch, hidden, 1, 1))
        layers += [conv_bn(hidden, hidden, kernel, stride, groups=hidden), conv_bn(hidden, out_ch, 1, 1, act="none")]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class PlainBlock(nn.Module):
    """InstaNAS's 'basic' option: 3x3 conv-BN-ReLU, 3x3 conv-BN-ReLU6, no residual."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(in_ch, out_ch, 3, stride, act="relu"), conv_bn(out_ch, out_ch, 3, 1, act="relu6"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


for _k in (3, 5, 7):
    for _e in (1, 3, 6):
        register_op(f"mb_k{_k}_e{_e}")(lambda i, o, s, k=_k, e=_e: InvertedResidual(i, o, s, k, e))
register_op("plain_k3")(lambda i, o, s: PlainBlock(i, o, s))
