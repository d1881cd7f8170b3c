"""The instance-aware controller: a small CNN giving one Bernoulli probability per (cell, option)."""
from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import ControllerConfig
from .ops import conv_bn


class Controller(nn.Module):
    def __init__(self, cfg: ControllerConfig, in_ch: int, in_hw: Tuple[int, int], cells: int, options: int):
        super().__init__()
        self.cells, self.options = cells, options
        self.input_size = cfg.input_size
        layers: List[nn.Module] = []
        c = in_ch
        for w in cfg.channels:
            layers.append(conv_bn(c, w, 3, 2, act="relu"))
            c = w
        self.features = nn.Sequential(*layers)
        if cfg.pool not in ("mean", "flatten"):
            raise ValueError(f"controller.pool: {cfg.pool!r} is not one of mean, flatten")
        self.flatten = cfg.pool == "flatten"
        if self.flatten:
            h, w = in_hw
            if self.input_size and (h > self.input_size or w > self.input_size):
                h = w = self.input_size  # as forward() pools
            for _ in cfg.channels:  # each 3x3 stride-2 conv (padding 1) halves a side, rounding up
                h, w = (h + 1) // 2, (w + 1) // 2
            c = c * h * w
        mlp: List[nn.Module] = []
        for w in cfg.hidden:
            mlp += [nn.Linear(c, w), nn.ReLU(inplace=True)]
            c = w
        self.mlp = nn.Sequential(*mlp)
        self.fc = nn.Linear(c, cells * options)
        nn.init.zeros_(self.fc.bias)
        self.fc.bias.data.fill_(cfg.init_bias)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, C, H, W] preprocessed image -> logits of the probabilities [N, cells*options]."""
        if self.input_size and (x.shape[2] > self.input_size or x.shape[3] > self.input_size):
            x = F.adaptive_avg_pool2d(x, self.input_size)  # [N, C, s, s]
        f = self.features(x)  # [N, c, h, w]
        h = f.flatten(1) if self.flatten else f.mean(dim=(2, 3))  # [N, c*h*w] or [N, c]
        return self.fc(self.mlp(h))  # [N, cells*options]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, C, H, W] preprocessed image -> probabilities [N, cells*options] (what the bundle exports)."""
        return torch.sigmoid(self.scores(x))  # [N, cells*options]

    def probs(self, x: torch.Tensor) -> torch.Tensor:
        return self(x).view(-1, self.cells, self.options)  # [N, cells, options]


def explore(p: torch.Tensor, alpha: float) -> torch.Tensor:
    """InstaNAS's exploration bound: p' = a*p + (1-a)*(1-p) keeps every probability in [1-a, a]."""
    return alpha * p + (1 - alpha) * (1 - p)


def greedy(p: torch.Tensor, threshold: float) -> torch.Tensor:
    return (p >= threshold).to(torch.float32)


def log_prob(p: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Sum over (cell, option) of log Bernoulli(actions; p): [N]."""
    eps = 1e-7
    p = p.clamp(eps, 1 - eps)
    return (actions * p.log() + (1 - actions) * (1 - p).log()).flatten(1).sum(1)


def entropy(p: torch.Tensor) -> torch.Tensor:
    eps = 1e-7
    p = p.clamp(eps, 1 - eps)
    return -(p * p.log() + (1 - p) * (1 - p).log()).flatten(1).sum(1)
