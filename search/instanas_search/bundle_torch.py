"""An exported bundle (manifest + ONNX modules) as a torch model: controller probabilities, paths, logits.

It follows the bundle contract exactly as the TypeScript runtime does (runtime/path.ts): a cell runs the options
whose probability is >= the threshold, outputs summed; an empty selection is identity when the cell keeps its
shape, else the cell's default option. Used by `distill` to re-train a controller against a shipped bundle whose
search checkpoint is gone, and to write golden outputs that onnxruntime did not compute.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

import torch

from .export import path_cells, path_code
from .onnx_torch import OnnxGraph


class BundleError(RuntimeError):
    pass


class BundleTorch:
    def __init__(self, folder: str):
        self.dir = Path(folder)
        mf = self.dir / "manifest.json"
        try:
            self.manifest = json.loads(mf.read_text())
        except (OSError, ValueError) as err:
            raise BundleError(f"{mf}: cannot read the manifest ({err})") from None
        m = self.manifest
        if m.get("kind") != "instanas":
            raise BundleError(f"{mf}: kind is {m.get('kind')!r}; a controller needs an 'instanas' bundle")
        if m["graph"].get("combine") != "sum" or m["graph"].get("emptySelection") != "identity-else-default":
            raise BundleError(f"{mf}: graph.combine/emptySelection {m['graph'].get('combine')}/"
                              f"{m['graph'].get('emptySelection')} are not supported here")
        g = m["graph"]
        self.stem = OnnxGraph(self.dir / g["stem"]["file"])
        self.head = OnnxGraph(self.dir / g["head"]["file"])
        self.cells = [[OnnxGraph(self.dir / o["file"]) for o in c["options"]] for c in g["cells"]]
        counts = {len(c["options"]) for c in g["cells"]}
        if len(counts) != 1:  # probabilities are laid out [cells, options]; the runtime allows ragged cells, not this
            raise BundleError(f"{mf}: cells have different option counts {sorted(counts)}; not supported here")
        self.options = counts.pop()
        self.identity = [list(c["inputShape"][1:]) == list(c["outputShape"][1:]) for c in g["cells"]]
        self.default = [int(c["defaultOption"]) for c in g["cells"]]
        self.threshold = float(m["controller"]["threshold"])
        self.controller = OnnxGraph(self.dir / m["controller"]["file"])

    def resolve(self, probs: torch.Tensor, threshold: Optional[float] = None) -> torch.Tensor:
        """probs [N, cells*options] -> executed options [N, cells, options] in {0, 1}."""
        t = self.threshold if threshold is None else threshold
        chosen = (probs.view(probs.shape[0], len(self.cells), self.options) >= t).to(torch.float32)
        empty = chosen.sum(2) == 0  # [N, cells]
        for i, keeps in enumerate(self.identity):
            if not keeps:
                chosen[:, i, self.default[i]] = torch.maximum(chosen[:, i, self.default[i]], empty[:, i].float())
        return chosen

    @torch.no_grad()
    def logits(self, x: torch.Tensor, executed: torch.Tensor, batch: int = 500) -> torch.Tensor:
        """x [N, C, H, W] normalised; executed [N, cells, options] -> logits [N, classes], grouped by path."""
        out: Optional[torch.Tensor] = None
        groups: Dict[str, List[int]] = {}
        for n, e in enumerate(executed):
            groups.setdefault(path_code(e), []).append(n)
        for rows in groups.values():
            e = executed[rows[0]]
            for s in range(0, len(rows), batch):
                idx = torch.tensor(rows[s:s + batch])
                h = self.stem(x[idx])
                for i, options in enumerate(self.cells):
                    picked = [j for j in range(len(options)) if e[i, j] > 0.5]
                    if picked:
                        h = sum(options[j](h) for j in picked)
                y = self.head(h)
                if out is None:
                    out = torch.empty(len(x), y.shape[1])
                out[idx] = y
        assert out is not None
        return out

    def path_codes(self, executed: torch.Tensor) -> List[str]:
        return [path_code(e) for e in executed]

    def path_cells(self, executed: torch.Tensor) -> List[List[List[int]]]:
        return [path_cells(e) for e in executed]

    def _path_sum(self, executed: torch.Tensor, value) -> torch.Tensor:
        """stem + executed options + head of value(module's manifest entry), per row of executed: [N] float64."""
        g = self.manifest["graph"]
        cells = torch.tensor([[float(value(o)) for o in c["options"]] for c in g["cells"]], dtype=torch.float64)
        return float(value(g["stem"])) + float(value(g["head"])) + (executed.double() * cells).sum((1, 2))

    def macs(self, executed: torch.Tensor) -> torch.Tensor:
        """MACs of each row's child path (stem + executed options + head), as the manifest counts them: [N]."""
        return self._path_sum(executed, lambda e: e["macs"])

    def latency(self, executed: torch.Tensor) -> torch.Tensor:
        """Each row's child-path latency from the manifest's latency table (stem + executed options + head), in the
        table's unit, as the search's reward sums it: [N]."""
        g = self.manifest["graph"]
        table = (self.manifest.get("latency") or {}).get("table") or {}
        ids = ["stem", "head"] + [o["id"] for c in g["cells"] for o in c["options"]]
        missing = [i for i in ids if not isinstance(table.get(i), (int, float))]
        if missing:
            raise BundleError(f"{self.dir / 'manifest.json'}: latency.table has no entry for {', '.join(missing[:5])}"
                              f"{' ...' if len(missing) > 5 else ''}; run `instanas profile` on the bundle first")
        return self._path_sum(executed, lambda e: table[e["id"]])
