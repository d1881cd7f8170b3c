"""The floor for bench/compiled-path.ts: one child path of a bundle exported by torch itself as a single
static ONNX model (stem -> executed options, summed -> head; the controller excluded), with the bundle's
own weights. The torch graph is the search's own MetaGraph, built from the config in the manifest's provenance
(a distilled bundle: its teacher's). Its weights come from the bundle's ONNX modules themselves, or with --run from
the search run's checkpoint (refused for a bundle whose modules were fine-tuned after the search) (search/instanas_search/bundle_metagraph.py). compiled-path.ts checks the
floor's logits against the bundle's (1e-4).

  /usr/bin/python3 bench/export_static_path.py --bundle /tmp/b --out /tmp/floor --paths 0a1..,3b.. [--run DIR]
Writes <out>/<code>.onnx per path and prints one JSON line {code: file}.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "search"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from instanas_search.config import load_config  # noqa: E402
from instanas_search.export import PATH_ALPHABET  # noqa: E402
from instanas_search.bundle_metagraph import metagraph_from_bundle, search_config  # noqa: E402
from instanas_search.train import Searcher  # noqa: E402


class StaticPath(nn.Module):
    """graph(x, fixed policy) with the policy resolved at build time: only the executed modules, no masks."""

    def __init__(self, graph, cells):
        super().__init__()
        self.graph, self.cells = graph, cells

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.graph.stem(x)
        for i, opts in enumerate(self.cells):
            if not opts:
                continue  # identity cell
            y = self.graph.cells[i][opts[0]](h)
            for o in opts[1:]:
                y = y + self.graph.cells[i][o](h)
            h = y
        return self.graph.head(h)


def decode(code: str, counts):
    width = 2 if max(counts) > 5 else 1
    if len(code) != width * len(counts):
        raise SystemExit(f"--paths: '{code}' does not fit {len(counts)} cells")
    cells = []
    for i, n in enumerate(counts):
        mask = 0
        for ch in code[i * width:(i + 1) * width]:
            mask = mask * 32 + PATH_ALPHABET.index(ch)
        cells.append([o for o in range(n) if mask >> o & 1])
    return cells


def rebuild(manifest, run, bundle: Path):
    if not run:
        return metagraph_from_bundle(bundle)
    if manifest["provenance"].get("config", {}).get("distill", {}).get("finetune_epochs", 0):
        raise SystemExit("--run: this bundle's modules were fine-tuned after the search (distill.finetune_epochs); "
                         "the search checkpoint holds other weights. Drop --run: the bundle's own weights are read")
    with tempfile.TemporaryDirectory() as tmp:
        cfg_file = Path(tmp) / "config.json"
        cfg_file.write_text(json.dumps(search_config(manifest).to_dict()))
        searcher = Searcher(load_config(str(cfg_file)), run)
        if not searcher.resume():
            raise SystemExit(f"--run {run}: no checkpoint.pt there")
        return searcher.graph.cpu().eval()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--paths", required=True, help="comma-separated path codes")
    p.add_argument("--run", help="search output folder holding checkpoint.pt; without it, the bundle's own ONNX weights")
    a = p.parse_args()
    manifest = json.loads((Path(a.bundle) / "manifest.json").read_text())
    counts = [len(c["options"]) for c in manifest["graph"]["cells"]]
    graph = rebuild(manifest, a.run, Path(a.bundle)).to(memory_format=torch.contiguous_format)  # training's NHWC is not the traced layout
    opset = int(manifest["provenance"]["config"].get("export", {}).get("opset", 13))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    shape = manifest["graph"]["stem"]["inputShape"]
    written = {}
    for code in a.paths.split(","):
        module = StaticPath(graph, decode(code, counts)).eval()
        buf = io.BytesIO()
        with torch.no_grad():
            torch.onnx.export(module, torch.randn(*shape), buf, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=opset, do_constant_folding=True)
        (out / f"{code}.onnx").write_bytes(buf.getvalue())
        written[code] = str(out / f"{code}.onnx")
    print(json.dumps(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
