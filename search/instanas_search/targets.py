"""What a distilled controller learns to choose, besides its teacher's own decisions (distill.target).

"cheapest-agreeing": per image, the cheapest of the teacher's most used paths that still gives the teacher's
answer. InstaNAS's controller picks paths by an expected reward (accuracy x a latency parabola); this asks instead,
image by image, how cheap a path can be without changing the answer, and so spends the accuracy slack on latency.
It also concentrates the traffic on few paths, which at batch 1 saves the cost of switching between them.
"""
from __future__ import annotations

from typing import Dict

import torch

from .bundle_torch import BundleTorch


def top_paths(b: BundleTorch, executed: torch.Tensor, k: int) -> torch.Tensor:
    """The k most frequent rows of executed [N, cells, options] (ties: first seen), most used first: [k', cells, options]."""
    first: Dict[str, int] = {}
    counts: Dict[str, int] = {}
    for n, code in enumerate(b.path_codes(executed)):
        first.setdefault(code, n)
        counts[code] = counts.get(code, 0) + 1
    ranked = sorted(counts, key=lambda c: (-counts[c], first[c]))[:k]
    return torch.stack([executed[first[c]] for c in ranked])


@torch.no_grad()
def cheapest_agreeing(b: BundleTorch, x: torch.Tensor, teacher: torch.Tensor, candidates: torch.Tensor,
                      min_confidence: float) -> torch.Tensor:
    """Per row of x, the cheapest candidate path (latency table) predicting the class the teacher's path predicts,
    with probability >= min_confidence; the teacher's own path where no such candidate is cheaper. [N, cells, options]"""
    pred = b.logits(x, teacher).argmax(1)  # [N]
    cost = b.latency(teacher)  # [N]
    target = teacher.clone()
    cand_cost = b.latency(candidates)  # [K]
    # Cheapest first (ties: the more used candidate first): the first agreeing candidate wins.
    for k in torch.sort(cand_cost, stable=True).indices.tolist():
        rows = (cand_cost[k] < cost).nonzero()[:, 0]  # rows not yet on a path this cheap: only these can move
        if len(rows) == 0:
            continue
        probs = b.logits(x[rows], candidates[k].expand(len(rows), -1, -1)).softmax(1)  # [R, classes]
        p = pred[rows]
        ok = rows[(probs.argmax(1) == p) & (probs.gather(1, p[:, None])[:, 0] >= min_confidence)]
        target[ok] = candidates[k]
        cost[ok] = cand_cost[k]
    return target
