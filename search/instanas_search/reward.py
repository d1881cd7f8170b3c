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
    """correct: [N] bool; lat: [N] path latency -> [N] reward.

    A correct prediction earns R_lat * pos_w, a wrong one neg_w (the paper). With ub_slope > 0 the penalty above ub
    applies to a wrong prediction too: without it, a correct answer on a path past 1.5 x ub (slope 1, neg_w -0.5)
    earned less than a wrong one, and the self-critical advantage paid the controller for misclassifying there."""
    r_lat = latency_reward(lat, lb, ub, ub_slope)
    wrong = torch.full_like(r_lat, neg_w) + (r_lat * pos_w).clamp(max=0.0)
    return torch.where(correct, r_lat * pos_w, wrong)


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

    def check(self) -> None:
        """Raises ValueError unless both ends of the schedule lie above lb. Called when a search is set up, not when
        ub first crosses lb mid-search (after pretraining, with the reward section then locked against a resume)."""
        for name, v in (("ub_start", self.ub_start), ("ub_end", self.ub_end)):
            if v <= self.lb:
                raise ValueError(
                    f"latency bounds: {name} {v:.4g} <= lb {self.lb:.4g} (the cheapest legal path); raise reward.{name}_frac")

    def ub(self, epoch: int, progress: float = 0.0) -> float:
        if self.epochs <= 1:
            return self.ub_end
        t = min(max(epoch + progress, 0.0), self.epochs - 1) / (self.epochs - 1)
        return self.ub_start + (self.ub_end - self.ub_start) * t

    def bounds(self, epoch: int, progress: float = 0.0):
        ub = self.ub(epoch, progress)
        if ub <= self.lb:
            raise ValueError(f"latency bounds at epoch {epoch}: ub {ub:.4g} <= lb {self.lb:.4g}; raise reward.ub_end_frac (or ub_start_frac)")
        return self.lb, ub
