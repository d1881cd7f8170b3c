"""Multiply-accumulate and parameter counts of a module at batch 1, from forward hooks."""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn


def count_macs(module: nn.Module, input_shape: Tuple[int, ...]) -> Tuple[int, int, Tuple[int, ...]]:
    """-> (MACs, params, output shape) for one input of input_shape (batch dim included, set to 1)."""
    total = [0]

    def conv_hook(m: nn.Conv2d, inp, out):
        kh, kw = m.kernel_size
        total[0] += out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, inp, out):
        total[0] += out.numel() * m.in_features

    hooks = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(torch.zeros((1,) + tuple(input_shape[1:])))
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)
    params = sum(p.numel() for p in module.parameters())
    return total[0], params, tuple(out.shape)
