"""Latency-aware reward and the moving latency bounds of the InstaNAS search."""
from __future__ import annotations

from dataclasses import dataclass

import torch


def latency_reward(lat: torch.Tensor, lb: float, ub: float, ub_slope: float = 0.0) -> torch.Tensor:
    """Parabola that is 1 midway between the bounds and 0 at and outside them (the paper's R_lat).

    ub_slope > 0 replaces the flat zero above ub by -ub_slope * (lat - ub) / ub: with the paper's flat
    zero, a controller whose paths all lie above a falling ub sees no latency signal at all and drifts
    to heavier paths on the accuracy term alone."""
    if ub <= lb:
        raise ValueError(f"latency bounds: ub ({ub}) must exceed lb ({lb})")
    r = (-(lat - ub) * (lat - lb) / ((ub - lb) ** 2 / 4)).clamp(min=0.0)
    if ub_slope > 0:
        r = torch.where(lat > ub, -ub_slope * (lat - ub) / ub, r)
    return r


def reward(correct: torch.Tensor, lat: torch.Tensor, lb: float, ub: float, pos_w: float, neg_w: float,
           ub_slope: float = 0.0) -> torch.Tensor:
    """correct: [N] bool; lat: [N] path latency -> [N] reward."""
    r_lat = latency_reward(lat, lb, ub, ub_slope)
    return torch.where(correct, r_lat * pos_w, torch.full_like(r_lat, neg_w))


UB_END_REFS = ("chain", "span")


def ub_end(ref: str, frac: float, lb: float, chain: float) -> float:
    """The final upper bound. 'chain' is the paper's frac x chain. 'span' is lb + frac x (chain - lb): with a
    latency table measured by a runtime whose every session run carries a fixed cost, frac x chain can sit barely
    above the cheapest legal path (lb), leaving the controller no room between the bounds; 'span' keeps the
    window a fixed share of the distance between the cheapest path and the MobileNetV2 chain."""
    if ref not in UB_END_REFS:
        raise ValueError(f"reward.ub_end_ref: {ref!r} is not one of {', '.join(UB_END_REFS)}")
    if not 0.0 < frac:
        raise ValueError(f"reward.ub_end_frac: must be > 0, got {frac}")
    return frac * chain if ref == "chain" else lb + frac * (chain - lb)


@dataclass(frozen=True)
class BoundSchedule:
    """ub moves linearly from ub_start (start of the first search epoch) to ub_end (start of the last one)
    and then stays; lb stays at the cheapest path. `progress` in [0, 1) moves ub within an epoch, so the
    bound falls step by step instead of jumping between epochs."""

    lb: float
    ub_start: float
    ub_end: float
    epochs: int

    def ub(self, epoch: int, progress: float = 0.0) -> float:
        if self.epochs <= 1:
            return self.ub_end
        t = min(max(epoch + progress, 0.0), self.epochs - 1) / (self.epochs - 1)
        return self.ub_start + (self.ub_end - self.ub_start) * t

    def bounds(self, epoch: int, progress: float = 0.0):
        ub = self.ub(epoch, progress)
        if ub <= self.lb:
            raise ValueError(f"latency bounds at epoch {epoch}: ub {ub:.4g} <= lb {self.lb:.4g}; lower ub_end_frac's floor")
        return self.lb, ub
