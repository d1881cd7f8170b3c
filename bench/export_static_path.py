"""The floor for bench/compiled-path.ts: one child path of a bundle exported by torch itself as a single
static ONNX model (stem -> executed options, summed -> head; the controller excluded), with the bundle's
own weights. The torch graph is the search's own MetaGraph, built from the config in the manifest's provenance
(a distilled bundle: its teacher's). Its weights come from the search run's checkpoint (--run), or else from
the bundle's ONNX modules themselves: export folded each BatchNorm into its Conv, so each Conv takes the folded
weight and bias, and its BatchNorm becomes the identity (mean 0, variance 1, eps 0, scale 1, shift = the folded
bias); torch's export folds that BatchNorm again, exactly. compiled-path.ts checks the floor's logits against
the bundle's (1e-4).

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

import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from torch import nn  # noqa: E402

from instanas_search.config import load_config  # noqa: E402
from instanas_search.export import PATH_ALPHABET  # noqa: E402
from instanas_search.metagraph import MetaGraph  # noqa: E402
from instanas_search.space import build_layout  # noqa: E402
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


def search_config(manifest):
    """The search's config behind a bundle (a distilled bundle's teacher's), without provenance-only keys."""
    prov = manifest["provenance"]
    while "distilledFrom" in prov:
        prov = prov["distilledFrom"]["provenance"]
    return {k: v for k, v in prov["config"].items() if k != "resumedWithChanges"}  # a record, not a config key


def load_from_onnx(module: nn.Module, file: Path) -> None:
    """Give `module` (eval mode) the weights of its own exported graph `file` (Conv+BN folded, Gemm = Linear)."""
    g = onnx.load(str(file)).graph
    init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}
    if any(n.op_type == "BatchNormalization" for n in g.node):
        raise SystemExit(f"{file}: holds BatchNormalization nodes; only graphs with BN folded into Conv are read")
    convs = [n for n in g.node if n.op_type == "Conv"]
    gemms = [n for n in g.node if n.op_type in ("Gemm", "MatMul")]
    tconvs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    tbns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    tfcs = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if len(convs) != len(tconvs) or len(tbns) != len(tconvs) or len(gemms) != len(tfcs):
        raise SystemExit(f"{file}: {len(convs)} Conv / {len(gemms)} Gemm nodes, the torch module has "
                         f"{len(tconvs)} Conv2d / {len(tbns)} BatchNorm2d / {len(tfcs)} Linear")
    with torch.no_grad():
        for node, conv, bn in zip(convs, tconvs, tbns):  # both in forward order
            w = init[node.input[1]]
            if w.shape != conv.weight.shape:
                raise SystemExit(f"{file}: Conv {node.name} weight {list(w.shape)} != torch {list(conv.weight.shape)}")
            conv.weight.copy_(w)
            bias = init[node.input[2]] if len(node.input) > 2 else torch.zeros(w.shape[0])
            bn.weight.fill_(1.0)
            bn.bias.copy_(bias)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
            bn.eps = 0.0  # sqrt(var + eps) = 1 exactly: the refold gives back the same weights
        for node, fc in zip(gemms, tfcs):
            w = init[node.input[1]]
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "MatMul" or not attrs.get("transB", 0):
                w = w.t()
            fc.weight.copy_(w)
            fc.bias.copy_(init[node.input[2]] if len(node.input) > 2 else torch.zeros(w.shape[0]))


def rebuild(manifest, run, bundle: Path):
    config = search_config(manifest)
    with tempfile.TemporaryDirectory() as tmp:
        cfg_file = Path(tmp) / "config.json"
        cfg_file.write_text(json.dumps(config))
        cfg = load_config(str(cfg_file))
        if run:
            searcher = Searcher(cfg, run)
            if not searcher.resume():
                raise SystemExit(f"--run {run}: no checkpoint.pt there")
            return searcher.graph.cpu().eval()
    g = manifest["graph"]
    in_shape = g["stem"]["inputShape"]
    layout = build_layout(cfg.space, in_shape[1], tuple(in_shape[2:]), int(g["head"]["outputShape"][1]))
    graph = MetaGraph(layout).eval()
    files = {"stem": g["stem"]["file"], "head": g["head"]["file"]}
    files.update({o["id"]: o["file"] for c in g["cells"] for o in c["options"]})
    for mid, module, _, _ in graph.modules_for_export():
        if mid not in files:
            raise SystemExit(f"{bundle}: the manifest has no module {mid} (config and bundle disagree)")
        load_from_onnx(module, bundle / files[mid])
    return graph


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
