"""Per-module latency table: measured by the deployment runtime (`instanas profile`) or a MAC proxy.

A path's latency is the sum of its modules' entries, exactly as the bundle's latency table reads.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import torch

from .metagraph import MetaGraph


@dataclass
class LatencyTable:
    table: Dict[str, float]
    method: str
    device: str
    overhead_ms: float = 0.0  # per-run cost included once in every entry (`instanas profile`'s overheadMs; per image at --batch N)

    @staticmethod
    def from_file(path: str) -> "LatencyTable":
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"latency table {path} does not exist; make one with "
                                    "`instanas profile --model <bundle>` or set reward.macs_proxy=true")
        data = json.loads(p.read_text())
        lat = data.get("latency", data)  # a bundle manifest or a bare {method, device, table}
        for key in ("table", "method", "device"):
            if key not in lat:
                raise ValueError(f"latency table {path}: missing field {key!r}")
        return LatencyTable({k: float(v) for k, v in lat["table"].items()}, lat["method"], lat["device"],
                            float(lat.get("overheadMs", 0.0)))

    def compute_only(self) -> "LatencyTable":
        """Every entry minus the per-run overhead: what a module adds to a compiled path, where the whole path is one
        session run. A table measured module by module otherwise ranks paths by how many modules they run."""
        if self.overhead_ms <= 0:
            raise ValueError("reward.latency_compute_only: the latency table has no overheadMs; profile it again "
                             "with `instanas profile` (it measures the per-run overhead since 2026-11-30)")
        table = {k: max(v - self.overhead_ms, 0.0) for k, v in self.table.items()}
        return LatencyTable(table, f"{self.method}; per-run overhead {self.overhead_ms:.4f} ms subtracted",
                            self.device, 0.0)

    @staticmethod
    def macs_proxy(macs: Dict[str, int]) -> "LatencyTable":
        # MACs in millions stand in for milliseconds; only ratios matter to the reward.
        return LatencyTable({k: v / 1e6 for k, v in macs.items()}, "macs-proxy", "none (MACs / 1e6)")


class PathCost:
    """Vectorised path latency: cost(executed policy [N, cells, options]) -> [N]."""

    def __init__(self, graph: MetaGraph, table: Dict[str, float]):
        missing: List[str] = [mid for mid, *_ in graph.modules_for_export() if mid not in table]
        if missing:
            raise ValueError(f"latency table lacks modules {missing[:5]}{'...' if len(missing) > 5 else ''}; "
                             "was it profiled on a bundle of this search space?")
        self.graph = graph
        self.fixed = table["stem"] + table["head"]
        self.per_option = torch.tensor(
            [[table[f"cell{i:02d}_op{j}"] for j in range(graph.num_options)] for i in range(graph.num_cells)]
        )  # [cells, options]

    def __call__(self, executed: torch.Tensor) -> torch.Tensor:
        return self.fixed + (executed * self.per_option.to(executed.device)).flatten(1).sum(1)

    def all_modules(self) -> float:
        return float(self.fixed + self.per_option.sum())

    def chain(self) -> float:
        return float(self(self.graph.chain(1))[0])

    def cheapest(self) -> float:
        # Identity wherever allowed; the cheapest option where the shape changes.
        cost = self.fixed
        for i, spec in enumerate(self.graph.layout.cells):
            if not spec.shape_preserving:
                cost = cost + self.per_option[i].min()
        return float(cost)
