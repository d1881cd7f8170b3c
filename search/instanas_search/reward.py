"""Latency-aware reward and the moving latency bounds of the InstaNAS search."""
from __future__ import annotations

from dataclasses import dataclass

import torch


def latency_reward(lat: torch.Tensor, lb: float, ub: float) -> torch.Tensor:
    """Parabola that is 1 midway between the bounds and 0 at and outside them."""
    if ub <= lb:
        raise ValueError(f"latency bounds: ub ({ub}) must exceed lb ({lb})")
    r = -(lat - ub) * (lat - lb) / ((ub - lb) ** 2 / 4)
    return r.clamp(min=0.0)


def reward(correct: torch.Tensor, lat: torch.Tensor, lb: float, ub: float, pos_w: float, neg_w: float) -> torch.Tensor:
    """correct: [N] bool; lat: [N] path latency -> [N] reward."""
    r_lat = latency_reward(lat, lb, ub)
    return torch.where(correct, r_lat * pos_w, torch.full_like(r_lat, neg_w))


@dataclass(frozen=True)
class BoundSchedule:
    """ub moves linearly from ub_start to ub_end over the search epochs; lb stays at the cheapest path."""

    lb: float
    ub_start: float
    ub_end: float
    epochs: int

    def ub(self, epoch: int) -> float:
        if self.epochs <= 1:
            return self.ub_end
        t = min(max(epoch, 0), self.epochs - 1) / (self.epochs - 1)
        return self.ub_start + (self.ub_end - self.ub_start) * t

    def bounds(self, epoch: int):
        ub = self.ub(epoch)
        if ub <= self.lb:
            raise ValueError(f"latency bounds at epoch {epoch}: ub {ub:.4g} <= lb {self.lb:.4g}; lower ub_end_frac's floor")
        return self.lb, ub
