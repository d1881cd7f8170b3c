"""Fine-tuning a bundle's modules on the paths its (new) controller picks: InstaNAS's last phase, for `distill`.

A student trained to the cheapest-agreeing targets sends most images down one cheap path; the teacher's modules
were trained for the teacher's mix of paths. Here the meta-graph (read back from the ONNX modules into the search's
own MetaGraph, bundle_metagraph.py) trains on the training split with the student frozen and greedy, as the search's
fine-tuning phase does with its controller. BatchNorm was folded into the convs at export, so there are no
statistics left to learn: the BatchNorms stay in eval mode (running statistics frozen at mean 0, variance 1); their
scale and shift train with the conv weights and fold back into them at export.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .bundle_metagraph import metagraph_from_bundle
from .bundle_torch import BundleTorch
from .data import augment, batches, normalize
from .export import _to_onnx
from .metagraph import MetaGraph


@torch.no_grad()
def _top1(graph: MetaGraph, x: torch.Tensor, policy: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    pred = torch.cat([graph(x[i:i + batch], policy[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])
    return float((pred == y).float().mean())


def finetune_modules(b: BundleTorch, student: nn.Module, data, *, epochs: int, lr: float, batch_size: int, seed: int,
                     log=print) -> MetaGraph:
    """The bundle's MetaGraph after `epochs` of SGD on the student's greedy paths (augmented training split)."""
    g = torch.Generator().manual_seed(seed)
    graph = metagraph_from_bundle(b.dir)
    fmt = torch.channels_last  # NHWC: oneDNN's depthwise and 1x1 convolutions without reorders (as in train.py)
    graph = graph.to(memory_format=fmt)
    opt = torch.optim.SGD(graph.parameters(), lr=lr, momentum=0.9, nesterov=True)
    steps = epochs * -(-len(data.train.labels) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    pad = 2 if data.shape[1] <= 28 else 4
    val_x = normalize(data.val.images, data.mean, data.std).contiguous(memory_format=fmt)
    with torch.no_grad():
        val_policy = b.resolve(student(val_x))  # [N, cells, options]
    log(json.dumps({"finetuneEpoch": 0, "valTop1": round(_top1(graph, val_x, val_policy, data.val.labels), 4)}))
    for epoch in range(epochs):
        t0, total, n = time.time(), 0.0, 0
        graph.train()
        for m in graph.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()  # folded: mean 0, variance 1 are the bundle's function, not statistics to re-estimate
        for images, labels in batches(data.train, batch_size, shuffle=True, g=g):
            x = normalize(augment(images, pad, g), data.mean, data.std).contiguous(memory_format=fmt)  # [B, C, H, W]
            with torch.no_grad():
                policy = b.resolve(student(x))  # [B, cells, options]: the student's greedy paths
            loss = F.cross_entropy(graph(x, policy), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + float(loss) * len(x), n + len(x)
        graph.eval()
        log(json.dumps({"finetuneEpoch": epoch + 1, "loss": round(total / max(n, 1), 5),
                        "valTop1": round(_top1(graph, val_x, val_policy, data.val.labels), 4),
                        "seconds": round(time.time() - t0, 1)}))
    return graph.to(memory_format=torch.contiguous_format).eval()


def write_modules(graph: MetaGraph, manifest, folder: Path, opset: int) -> None:
    """Every module of `graph` into `folder` under the file names (and input shapes) the manifest gives them."""
    gm = manifest["graph"]
    entries = {"stem": gm["stem"], "head": gm["head"]}
    entries.update({o["id"]: o for c in gm["cells"] for o in c["options"]})
    for mid, module, _, _ in graph.modules_for_export():
        e = entries[mid]
        (folder / e["file"]).parent.mkdir(parents=True, exist_ok=True)
        _to_onnx(module, tuple(e["inputShape"]), folder / e["file"], opset)
