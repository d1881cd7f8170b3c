"""Controller distillation: a cheaper controller that makes a shipped bundle's controller's choices.

Why: at batch 1 the controller is a session run of its own, and on onnxruntime-node a run of InstaNAS's small CNN
costs about twice an empty graph's (fixed per-run costs dominate on 28x28 inputs). A student (by default a 2-layer
MLP on the image pooled to 14x14) is trained to reproduce the teacher's per-(cell, option) decisions on the training
split (or cheaper ones: distill.target); the modules are not touched unless distill.finetune_epochs asks. The new bundle is the teacher's with the student as its controller;
its accuracy, MACs and paths are measured again (here with torch on the ONNX graphs, then by the runtime's `eval`).
A controller this small is evaluated in JS by the runtime at batch 1 (runtime/small-graph.ts): no session run at all.

    python -m instanas_search distill --config fashion-mnist-distill-cheap --out ../models/fashion-mnist

With `distill.target: cheapest-agreeing` the student learns cheaper choices than its teacher's (targets.py), and
`distill.finetune_epochs` then re-trains the modules on the student's paths (finetune.py): the default bundle since
session 13. `configs/fashion-mnist-distill.json` (the teacher's own choices, modules unchanged) made session 12's.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
import torch.nn.functional as F

from .bundle_torch import BundleTorch
from .config import ConfigError, ControllerConfig, DataConfig, ExportConfig, _merge, read_config_file
from .controller import Controller
from .data import augment, batches, load_dataset, normalize
from .finetune import finetune_modules, write_modules
from .targets import cheapest_agreeing, top_paths
from .export import (ExportError, _move_into_place, _to_onnx, git_commit, hardware, path_cells, path_code,
                     validate_manifest)
from .macs import count_macs

SEARCH_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class DistillConfig:
    teacher: str = "teachers/fashion-mnist-cnn"  # the bundle whose controller is imitated; relative: to cwd, else search/
    epochs: int = 30  # the student is tiny: an epoch over 55k images takes seconds
    batch_size: int = 256
    lr: float = 0.01  # Adam, cosine decay to 0
    seed: int = 0
    augment: bool = True  # the teacher labels each augmented image afresh: more distinct inputs than the split holds
    # Share of each batch made of synthetic images outside the data (flat grey levels, uniform noise), labelled by the
    # teacher: trained on garments only, an MLP student sent a flat grey image down every option of every cell (12x
    # the usual cost), where the CNN teacher picked a moderate path
    ood_fraction: float = 0.1
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    # What the student learns to choose. "teacher": the teacher's own decisions. "cheapest-agreeing": per image, the
    # cheapest (by the bundle's latency table) of the teacher's `candidates` most used paths whose prediction is the
    # teacher path's prediction with probability >= `min_confidence`; the teacher's own path where none is cheaper.
    # It spends the accuracy slack on latency: the search's controller picks paths by an expected reward, not by the
    # cheapest path that still gives the same answer for this image. Targets are computed once, on unaugmented images.
    target: str = "teacher"
    candidates: int = 8  # the teacher's most used paths on the training split; fewer paths also mean fewer switches
    min_confidence: float = 0.0  # 0: any candidate with the same top-1 as the teacher's path
    # Then fine-tune the modules on the student's greedy paths, the search's last phase (finetune.py); 0 keeps the
    # teacher's modules byte for byte
    finetune_epochs: int = 0
    finetune_lr: float = 0.005  # SGD, momentum 0.9, cosine to 0: low, the modules start trained


@dataclass
class DistillExperiment:
    data: DataConfig = field(default_factory=DataConfig)
    # The student: a 2-layer MLP on the image pooled to 14x14 (196 -> 16 -> 85: 4.5k MACs); session 12 measured it
    # against a linear layer on 7x7 and wider MLPs (docs/PERFORMANCE.md)
    student: ControllerConfig = field(default_factory=lambda: ControllerConfig(input_size=14, channels=[], pool="flatten",
                                                                               hidden=[16]))
    distill: DistillConfig = field(default_factory=DistillConfig)
    export: ExportConfig = field(default_factory=lambda: ExportConfig(name="fashion-mnist-distilled"))

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def load_distill_config(path: Optional[str]) -> DistillExperiment:
    cfg = DistillExperiment()
    if path:
        data = read_config_file(path)
        if "augment" in data.get("data", {}):
            raise ConfigError("data.augment: distill augments per distill.augment; set that instead")
        _merge(cfg, data, "")
    d = cfg.distill
    for key in ("epochs", "batch_size"):
        if getattr(d, key) < 1:
            raise ConfigError(f"distill.{key}: must be >= 1, got {getattr(d, key)}")
    if not d.lr > 0:
        raise ConfigError(f"distill.lr: must be > 0, got {d.lr}")
    if any(w < 1 for w in cfg.student.hidden) or any(w < 1 for w in cfg.student.channels):
        raise ConfigError(f"student.hidden/channels: widths must be >= 1, got {cfg.student.hidden}/{cfg.student.channels}")
    if not 0 <= cfg.distill.ood_fraction <= 1:
        raise ConfigError(f"distill.ood_fraction: {cfg.distill.ood_fraction} must be in [0, 1]")
    if d.target not in ("teacher", "cheapest-agreeing"):
        raise ConfigError(f"distill.target: {d.target!r} is not one of teacher, cheapest-agreeing")
    if d.target == "cheapest-agreeing" and d.augment:
        raise ConfigError("distill.augment: the cheapest-agreeing targets are computed once, on unaugmented images; "
                          "set distill.augment to false")
    if d.candidates < 1:
        raise ConfigError(f"distill.candidates: must be >= 1, got {d.candidates}")
    if d.finetune_epochs < 0:
        raise ConfigError(f"distill.finetune_epochs: must be >= 0, got {d.finetune_epochs}")
    if not d.finetune_lr > 0:
        raise ConfigError(f"distill.finetune_lr: must be > 0, got {d.finetune_lr}")
    if not 0 <= d.min_confidence <= 1:
        raise ConfigError(f"distill.min_confidence: {d.min_confidence} must be in [0, 1]")
    if cfg.student.pool not in ("mean", "flatten"):
        raise ConfigError(f"student.pool: {cfg.student.pool!r} is not one of mean, flatten")
    return cfg


def _teacher_dir(path: str) -> Path:
    p = Path(path)
    if not p.is_absolute() and not p.exists() and (SEARCH_ROOT / p).exists():
        p = SEARCH_ROOT / p
    if not (p / "manifest.json").is_file():
        raise ConfigError(f"distill.teacher: {path} is not a bundle folder (no manifest.json)")
    return p


@torch.no_grad()
def _decisions(b: BundleTorch, ctrl, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Executed options [N, cells, options] of controller `ctrl` (a callable giving probabilities) on x."""
    return torch.cat([b.resolve(ctrl(x[i:i + batch])) for i in range(0, len(x), batch)])


def _evaluate(b: BundleTorch, ctrl, x: torch.Tensor, y: torch.Tensor) -> Dict[str, Any]:
    ex = _decisions(b, ctrl, x)
    pred = b.logits(x, ex).argmax(1)
    codes = b.path_codes(ex)
    return {"top1": float((pred == y).float().mean()), "meanMacs": float(b.macs(ex).mean()),
            "distinctPaths": len(set(codes)), "codes": codes}


def _ood(images: torch.Tensor, fraction: float, g: torch.Generator) -> torch.Tensor:
    """round(len(images) * fraction) uint8 images like `images`: half flat grey levels, half uniform noise."""
    k = int(round(len(images) * fraction))
    shape = (k,) + tuple(images.shape[1:])
    flat = torch.randint(0, 256, (k, 1, 1, 1), generator=g).expand(shape)
    noise = torch.randint(0, 256, shape, generator=g)
    return torch.where(torch.arange(k).view(-1, 1, 1, 1) % 2 == 0, flat, noise).to(torch.uint8)


def _targets(cfg: DistillExperiment, b: BundleTorch, data, g: torch.Generator, log):
    """cheapest-agreeing: the fixed training inputs (training split + OOD images, normalised) and their targets."""
    d = cfg.distill
    images = torch.cat([data.train.images, _ood(data.train.images, d.ood_fraction, g)])
    x = normalize(images, data.mean, data.std)  # [N, C, H, W]
    teacher = _decisions(b, b.controller, x)
    candidates = top_paths(b, teacher[:len(data.train.images)], d.candidates)
    target = cheapest_agreeing(b, x, teacher, candidates, d.min_confidence)
    moved = (target != teacher).flatten(1).any(1).float().mean()
    log(json.dumps({"targets": "cheapest-agreeing", "candidates": b.path_codes(candidates),
                    "candidateLatencyMs": [round(float(c), 5) for c in b.latency(candidates)],
                    "movedOffTeacherPath": round(float(moved), 4),
                    "meanLatencyMs": {"teacher": round(float(b.latency(teacher).mean()), 5),
                                      "target": round(float(b.latency(target).mean()), 5)}}))
    return x, target.flatten(1), candidates


def train_student(cfg: DistillExperiment, b: BundleTorch, data, log=print) -> Controller:
    g = torch.Generator().manual_seed(cfg.distill.seed)
    torch.manual_seed(cfg.distill.seed)
    c, h, w = data.shape
    cells, options = len(b.cells), b.options
    student = Controller(cfg.student, c, (h, w), cells, options)
    opt = torch.optim.Adam(student.parameters(), lr=cfg.distill.lr)
    pad = 2 if h <= 28 else 4
    val_x = normalize(data.val.images, data.mean, data.std)
    val_target = _decisions(b, b.controller, val_x)
    fixed = None
    if cfg.distill.target == "cheapest-agreeing":
        fixed = _targets(cfg, b, data, g, log)
        val_target = cheapest_agreeing(b, val_x, val_target, fixed[2], cfg.distill.min_confidence)
    n_rows = len(fixed[0]) if fixed else len(data.train.labels)
    steps = cfg.distill.epochs * -(-n_rows // cfg.distill.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    for epoch in range(cfg.distill.epochs):
        t0, total, n = time.time(), 0.0, 0
        student.train()
        if fixed:
            order = torch.randperm(n_rows, generator=g)
            feed = ((fixed[0][idx], fixed[1][idx]) for idx in order.split(cfg.distill.batch_size))
        else:
            feed = _teacher_batches(cfg, b, data, g, pad)
        for x, target in feed:  # x [B, C, H, W] normalised; target [B, cells*options] in {0, 1}
            loss = F.binary_cross_entropy_with_logits(student.scores(x), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + float(loss) * len(x), n + len(x)
        student.eval()
        agree = (_decisions(b, student, val_x) == val_target).flatten(1).all(1).float().mean()
        log(json.dumps({"epoch": epoch + 1, "loss": round(total / max(n, 1), 5), "valPathAgreement": round(float(agree), 4),
                        "seconds": round(time.time() - t0, 1)}))
    return student.eval()


def _teacher_batches(cfg: DistillExperiment, b: BundleTorch, data, g: torch.Generator, pad: int):
    """target "teacher": each batch (augmented, OOD images added) labelled afresh with the teacher's decisions."""
    for images, _ in batches(data.train, cfg.distill.batch_size, shuffle=True, g=g):
        if cfg.distill.augment:
            images = augment(images, pad, g)
        images = torch.cat([images, _ood(images, cfg.distill.ood_fraction, g)])
        x = normalize(images, data.mean, data.std)  # [B, C, H, W]
        with torch.no_grad():
            target = (b.controller(x) >= b.threshold).float()  # [B, cells*options]: the teacher's decisions
        yield x, target  # outside no_grad: the caller's forward and backward run between two yields


def _golden(b: BundleTorch, student: Controller, x: torch.Tensor, margin: float = 1e-3) -> Dict[str, Any]:
    """As export.golden: inputs whose probabilities sit within `margin` of the threshold are dropped."""
    with torch.no_grad():
        probs = student(x)
    keep = ((probs - b.threshold).abs() >= margin).all(1)
    x, probs = x[keep], probs[keep]
    ex = b.resolve(probs)
    logits = b.logits(x, ex)
    return {"inputShape": list(x.shape), "inputs": [r.flatten().tolist() for r in x],
            "paths": [{"code": path_code(e), "cells": path_cells(e)} for e in ex],
            "logits": logits.tolist(), "labels": logits.argmax(1).tolist(),
            "controllerProbs": probs.tolist()}


def _check_out(out_dir: str, b: BundleTorch) -> Path:
    out = Path(out_dir).resolve()
    if out == b.dir.resolve():
        raise ExportError(f"{out_dir}: the student's bundle must go to a folder of its own, not the teacher's")
    if out == Path.cwd().resolve() or out == out.parent:
        raise ExportError(f"{out_dir}: export into a folder of its own, not the working directory or /")
    return out


def write_bundle(out_dir: str, cfg: DistillExperiment, b: BundleTorch, student: Controller, *, accuracy: Dict[str, Any],
                 hot: List[Dict[str, Any]], command: str, wall: float) -> Dict[str, Any]:
    out = _check_out(out_dir, b)
    m = json.loads(json.dumps(b.manifest))
    stage = out.parent / f".{out.name}.distill-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        g = m["graph"]
        for name in {g["stem"]["file"], g["head"]["file"]} | {o["file"] for c in g["cells"] for o in c["options"]}:
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(b.dir / name, stage / name)  # the files the manifest names, wherever they are
        in_shape = list(m["controller"]["inputShape"])
        macs, params, cout = count_macs(student, tuple(in_shape))
        _to_onnx(student, tuple(in_shape), stage / "controller.onnx", cfg.export.opset)
        m["name"], m["version"] = cfg.export.name, cfg.export.version
        st = cfg.student
        kind = "CNN" if st.channels else ("MLP " + "-".join(str(w) for w in st.hidden) if st.hidden else "linear layer")
        m["description"] = (f"{b.manifest['name']} {b.manifest['version']}'s meta-graph with a distilled controller "
                            f"({kind} on the image pooled to {st.input_size or 'full size'})"
                            + (f", modules fine-tuned {cfg.distill.finetune_epochs} epochs on its paths"
                               if cfg.distill.finetune_epochs else ""))
        m["controller"] = {"file": "controller.onnx", "inputShape": in_shape, "outputShape": list(cout),
                           "threshold": b.threshold, "macs": int(macs), "params": int(params)}
        # The table is the one the teacher's search used; its controller entry measured the teacher's graph.
        m["latency"]["table"].pop("controller", None)
        m["accuracy"] = accuracy
        m["hotPaths"] = hot
        m["provenance"] = {
            "data": b.manifest["provenance"]["data"], "seed": cfg.distill.seed, "command": command,
            "gitCommit": git_commit(),
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            "config": cfg.to_dict(), "torch": torch.__version__, "hardware": hardware("cpu"),
            "wallTimeSeconds": round(wall, 1),
            "distilledFrom": {"name": b.manifest["name"], "version": b.manifest["version"],
                              "provenance": b.manifest["provenance"]},
        }
        golden_file = b.manifest.get("golden")
        if golden_file:
            gx = torch.tensor(json.loads((b.dir / golden_file).read_text())["inputs"])
            gx = gx.view(-1, *in_shape[1:])
            (stage / "golden.json").write_text(json.dumps(_golden(b, student, gx)))
            m["golden"] = "golden.json"
        validate_manifest(m, str(out / "manifest.json"))
        (stage / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")
        _move_into_place(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return m


def run_distill(cfg: DistillExperiment, out: str, command: str, log=print) -> Dict[str, Any]:
    if cfg.distill.threads > 0:
        torch.set_num_threads(cfg.distill.threads)
    b = BundleTorch(str(_teacher_dir(cfg.distill.teacher)))
    _check_out(out, b)  # before training, not after it
    data = load_dataset(cfg.data, cfg.distill.seed)
    # The student sees what the runtime will feed it: images normalised with the teacher's own input spec.
    data.mean, data.std = list(b.manifest["input"]["mean"]), list(b.manifest["input"]["std"])
    if list(data.shape) != list(b.manifest["controller"]["inputShape"][1:]):
        raise ConfigError(f"data: images of shape {list(data.shape)} do not fit the teacher's input "
                          f"{b.manifest['controller']['inputShape'][1:]}")
    t0 = time.time()
    student = train_student(cfg, b, data, log)
    tuned = None
    try:
        if cfg.distill.finetune_epochs:
            graph = finetune_modules(b, student, data, epochs=cfg.distill.finetune_epochs, lr=cfg.distill.finetune_lr,
                                     batch_size=cfg.distill.batch_size, seed=cfg.distill.seed, log=log)
            # The teacher's bundle with the tuned modules, beside the output: evaluated and copied from like a teacher.
            tuned = Path(out).resolve().parent / f".{Path(out).name}.finetune-{os.getpid()}"
            shutil.rmtree(tuned, ignore_errors=True)
            tuned.mkdir(parents=True)
            shutil.copy2(b.dir / "manifest.json", tuned / "manifest.json")
            for name in (b.manifest["controller"]["file"], b.manifest.get("golden")):
                if name:  # the golden file's inputs are reused for the new bundle's golden outputs
                    shutil.copy2(b.dir / name, tuned / name)
            write_modules(graph, b.manifest, tuned, cfg.export.opset)
            b = BundleTorch(str(tuned))
        wall = time.time() - t0
        return _measure_and_write(cfg, b, student, data, out, command, wall, log)
    finally:
        if tuned:
            shutil.rmtree(tuned, ignore_errors=True)


def _measure_and_write(cfg: DistillExperiment, b: BundleTorch, student: Controller, data, out: str, command: str,
                       wall: float, log) -> Dict[str, Any]:
    val_x = normalize(data.val.images, data.mean, data.std)
    hot_counts: Dict[str, int] = {}
    for code in b.path_codes(_decisions(b, student, val_x)):
        hot_counts[code] = hot_counts.get(code, 0) + 1
    hot = [{"code": c, "share": round(n / len(val_x), 6)}
           for c, n in sorted(hot_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:32]]
    test_x = normalize(data.test.images, data.mean, data.std)
    report = {}
    for name, ctrl in (("teacher", b.controller), ("student", student)):
        r = _evaluate(b, ctrl, test_x, data.test.labels)
        report[name] = r
        log(json.dumps({"test": name, "top1": round(r["top1"], 4), "meanMacs": round(r["meanMacs"]),
                        "distinctPaths": r["distinctPaths"]}))
    agree = sum(a == s for a, s in zip(report["teacher"]["codes"], report["student"]["codes"])) / len(test_x)
    log(json.dumps({"test": "path agreement", "share": round(agree, 4)}))
    s = report["student"]
    accuracy = {"dataset": cfg.data.dataset, "split": "test", "top1": round(s["top1"], 4), "count": len(test_x),
                "meanMacs": round(s["meanMacs"], 1), "distinctPaths": s["distinctPaths"],
                "measuredWith": f"torch {torch.__version__} on the bundle's ONNX graphs, at distillation"}
    return write_bundle(out, cfg, b, student, accuracy=accuracy, hot=hot, command=command, wall=wall)
