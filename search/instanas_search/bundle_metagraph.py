"""A bundle's modules back in the search's own MetaGraph (torch modules, trainable), from the ONNX graphs alone.

Export folded each BatchNorm into the Conv before it. Each Conv here takes the folded weight and bias, and its
BatchNorm becomes the identity (mean 0, variance 1, eps 0, scale 1, shift = the folded bias): the function is the
bundle's, exactly, and torch's export folds that BatchNorm again into the same weights. Used for the floor of
bench/compiled-path.ts (one path exported by torch) and by `distill` to fine-tune the modules on the student's
paths (BatchNorm statistics stay frozen: there are none left to learn from).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import onnx
import torch
from onnx import numpy_helper
from torch import nn

from .config import ConfigError, ExperimentConfig, _merge
from .metagraph import MetaGraph
from .space import build_layout


def search_config(manifest: Dict[str, Any]) -> ExperimentConfig:
    """The search config behind a bundle (a distilled bundle's: its teacher's, recursively)."""
    prov = manifest["provenance"]
    while "distilledFrom" in prov:
        prov = prov["distilledFrom"]["provenance"]
    cfg = ExperimentConfig()
    _merge(cfg, {k: v for k, v in prov["config"].items() if k != "resumedWithChanges"}, "")  # a record, not a key
    return cfg


def load_from_onnx(module: nn.Module, file: Path) -> None:
    """Give `module` the weights of its own exported graph `file` (Conv+BN folded, Gemm = Linear), in forward order."""
    g = onnx.load(str(file)).graph
    if any(n.op_type == "BatchNormalization" for n in g.node):
        raise ConfigError(f"{file}: holds BatchNormalization nodes; only graphs with BN folded into Conv are read")
    inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in g.initializer}

    def init(node, i: int, shape) -> torch.Tensor:
        if len(node.input) <= i:
            return torch.zeros(shape)
        t = inits.get(node.input[i])
        if t is None:
            raise ConfigError(f"{file}: {node.op_type} {node.name} input {i} is not an initializer")
        if tuple(t.shape) != tuple(shape):
            raise ConfigError(f"{file}: {node.op_type} {node.name} input {i} has shape {list(t.shape)}, "
                              f"the torch module wants {list(shape)}")
        return t

    if any(n.op_type == "MatMul" for n in g.node):  # torch exports Linear as Gemm; a MatMul's bias is a separate Add
        raise ConfigError(f"{file}: holds MatMul nodes; only Gemm (torch's Linear) is read")
    convs = [n for n in g.node if n.op_type == "Conv"]
    gemms = [n for n in g.node if n.op_type == "Gemm"]
    tconvs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    tbns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    tfcs = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if len(convs) != len(tconvs) or len(tbns) != len(tconvs) or len(gemms) != len(tfcs):
        raise ConfigError(f"{file}: {len(convs)} Conv / {len(gemms)} Gemm nodes, the torch module has "
                          f"{len(tconvs)} Conv2d / {len(tbns)} BatchNorm2d / {len(tfcs)} Linear")
    with torch.no_grad():
        for node, conv, bn in zip(convs, tconvs, tbns):
            conv.weight.copy_(init(node, 1, conv.weight.shape))
            bn.weight.fill_(1.0)
            bn.bias.copy_(init(node, 2, bn.bias.shape))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
            bn.eps = 0.0  # sqrt(var + eps) = 1 exactly: the refold gives back the same weights
        for node, fc in zip(gemms, tfcs):
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if attrs.get("transB", 0):
                fc.weight.copy_(init(node, 1, fc.weight.shape))
            else:
                fc.weight.copy_(init(node, 1, fc.weight.t().shape).t())
            fc.bias.copy_(init(node, 2, fc.bias.shape))


def metagraph_from_bundle(folder: Path) -> MetaGraph:
    """The bundle in `folder` as a MetaGraph in eval mode, every module's weights read from its ONNX file."""
    manifest = json.loads((Path(folder) / "manifest.json").read_text())
    cfg = search_config(manifest)
    g = manifest["graph"]
    in_shape = g["stem"]["inputShape"]
    layout = build_layout(cfg.space, in_shape[1], tuple(in_shape[2:]), int(g["head"]["outputShape"][1]))
    graph = MetaGraph(layout).eval()
    for spec, cell in zip(layout.cells, g["cells"]):
        # The runtime's empty-selection rule reads the manifest's shapes, MetaGraph's its own: they must agree, or
        # training would run a default option where the bundle skips the cell.
        if spec.shape_preserving != (list(cell["inputShape"][1:]) == list(cell["outputShape"][1:])):
            raise ConfigError(f"{folder}: cell {spec.index} is identity-capable in one of the manifest and the search "
                              "config and not in the other")
    files = {"stem": g["stem"]["file"], "head": g["head"]["file"]}
    files.update({o["id"]: o["file"] for c in g["cells"] for o in c["options"]})
    for mid, module, _, _ in graph.modules_for_export():
        if mid not in files:
            raise ConfigError(f"{folder}: the manifest has no module {mid} (its search config and graph disagree)")
        load_from_onnx(module, Path(folder) / files[mid])
    return graph
