"""Bundle export: every module and the controller to ONNX, a manifest validated against the shared
JSON Schema, and golden outputs (inputs, torch logits, chosen paths) for parity checks in both languages."""
from __future__ import annotations

import datetime as _dt
import io
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

import onnx
import torch

from .controller import Controller, greedy
from .latency import LatencyTable
from .macs import count_macs
from .metagraph import MetaGraph

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "schema" / "bundle-manifest.v1.schema.json"
PATH_ALPHABET = "0123456789abcdefghijklmnopqrstuv"


class ExportError(RuntimeError):
    pass


def load_schema() -> Dict[str, Any]:
    if not SCHEMA_PATH.is_file():
        raise ExportError(f"bundle schema {SCHEMA_PATH} not found: run from a checkout of the instanas repository")
    return json.loads(SCHEMA_PATH.read_text())


def validate_manifest(manifest: Dict[str, Any], where: str = "manifest.json") -> None:
    import jsonschema
    validator = jsonschema.Draft7Validator(load_schema())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        pointer = "/" + "/".join(str(p) for p in e.absolute_path)
        raise ExportError(f"{where}: {pointer}: {e.message}")


def path_code(executed: torch.Tensor) -> str:
    """executed: [cells, options] {0,1} -> one base-32 character per cell (bit j = option j), as the runtime writes it."""
    if executed.shape[1] > 5:
        return "".join(f"{PATH_ALPHABET[m >> 5]}{PATH_ALPHABET[m & 31]}" for m in _masks(executed))
    return "".join(PATH_ALPHABET[m] for m in _masks(executed))


def _masks(executed: torch.Tensor) -> List[int]:
    return [sum(1 << j for j in range(executed.shape[1]) if executed[i, j] > 0.5) for i in range(executed.shape[0])]


def path_cells(executed: torch.Tensor) -> List[List[int]]:
    return [[j for j in range(executed.shape[1]) if executed[i, j] > 0.5] for i in range(executed.shape[0])]


def _to_onnx(module: torch.nn.Module, shape, path: Path, opset: int) -> None:
    module.eval()
    dummy = torch.randn(*shape)
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, dummy, buf, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=opset, do_constant_folding=True)
    model = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(model)
    path.write_bytes(buf.getvalue())


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("-dirty" if dirty and commit != "unknown" else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _module_entry(mid: str, module, in_shape, out_dir: Path, opset: int, op: Optional[str] = None) -> Dict[str, Any]:
    macs, params, out_shape = count_macs(module, in_shape)
    fname = f"{mid}.onnx"
    _to_onnx(module, in_shape, out_dir / fname, opset)
    entry = {"id": mid, "file": fname, "inputShape": list(in_shape), "outputShape": list(out_shape),
             "macs": int(macs), "params": int(params)}
    if op:
        entry["op"] = op
    return entry


def export_bundle(out_dir: str, graph: MetaGraph, controller: Optional[Controller], *, name: str, version: str,
                  labels: List[str], mean: List[float], std: List[float], latency: LatencyTable,
                  accuracy: Optional[Dict[str, Any]], provenance: Dict[str, Any], threshold: float = 0.5,
                  opset: int = 13, golden_inputs: Optional[torch.Tensor] = None, description: str = "",
                  hot_paths: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """Writes the bundle folder; static when controller is None (only each cell's default option is exported).

    The bundle is written into a staging folder beside `out_dir` and moved into place once it is complete and valid:
    a failure part-way (a trace error, a refused manifest, a kill) leaves the previous bundle as it was, where
    deleting its modules first used to leave a folder that mixed two bundles. Files of the folder that are not the
    bundle's own (a model card, charts) are kept."""
    out = Path(out_dir).resolve()
    if out == Path.cwd().resolve() or out == out.parent:
        raise ExportError(f"{out_dir}: export into a folder of its own (the folder is replaced as a whole), not the working directory or /")
    stage = out.parent / f".{out.name}.export-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        manifest = _write_bundle(stage, out, graph, controller, name=name, version=version, labels=labels, mean=mean,
                                 std=std, latency=latency, accuracy=accuracy, provenance=provenance, threshold=threshold,
                                 opset=opset, golden_inputs=golden_inputs, description=description, hot_paths=hot_paths)
        _move_into_place(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return manifest


BUNDLE_FILES = ("manifest.json", "golden.json")  # with every *.onnx: what an export replaces


def _move_into_place(stage: Path, out: Path) -> None:
    """Replaces the bundle in `out` by the one in `stage`, keeping the folder's other files."""
    if not out.exists():
        os.replace(stage, out)
        return
    for f in out.iterdir():
        if f.suffix == ".onnx" or f.name in BUNDLE_FILES or (stage / f.name).exists():
            continue
        (shutil.copytree if f.is_dir() else shutil.copy2)(f, stage / f.name)
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    os.replace(out, old)  # two renames: the folder is never half old, half new
    os.replace(stage, out)
    shutil.rmtree(old, ignore_errors=True)


def _write_bundle(out: Path, final: Path, graph: MetaGraph, controller: Optional[Controller], *, name: str, version: str,
                  labels: List[str], mean: List[float], std: List[float], latency: LatencyTable,
                  accuracy: Optional[Dict[str, Any]], provenance: Dict[str, Any], threshold: float, opset: int,
                  golden_inputs: Optional[torch.Tensor], description: str,
                  hot_paths: Optional[List[Dict[str, Any]]]) -> Dict[str, Any]:
    """export_bundle's work, into the folder `out`; errors name `final`, where the bundle is going."""
    graph = graph.cpu().eval().to(memory_format=torch.contiguous_format)  # the layout the traced graphs assume
    layout = graph.layout
    static = controller is None
    in_shape = (1, layout.in_ch) + layout.in_hw
    stem = _module_entry("stem", graph.stem, in_shape, out, opset)
    cells = []
    for i, spec in enumerate(layout.cells):
        cshape = (1, spec.in_ch) + spec.in_hw
        chosen = [layout.default_option] if static else list(range(len(layout.options)))
        opts = [_module_entry(f"cell{i:02d}_op{j}", graph.cells[i][j], cshape, out, opset, layout.options[j]) for j in chosen]
        cells.append({"inputShape": list(cshape), "outputShape": [1, spec.out_ch, *spec.out_hw],
                      "defaultOption": 0 if static else layout.empty_option, "options": opts})
    head = _module_entry("head", graph.head, (1, layout.cells[-1].out_ch) + layout.cells[-1].out_hw, out, opset)
    ids = {stem["id"], head["id"]} | {o["id"] for c in cells for o in c["options"]}
    table = {k: v for k, v in latency.table.items() if k in ids or k == "controller"}
    manifest: Dict[str, Any] = {
        "schemaVersion": 1, "name": name, "version": version, "kind": "static" if static else "instanas",
        "description": description or ("MobileNetV2 chain of the InstaNAS meta-graph" if static else
                                       "InstaNAS meta-graph with an instance-aware controller"),
        "labels": list(labels),
        "input": {"height": layout.in_hw[0], "width": layout.in_hw[1], "channels": layout.in_ch, "layout": "NCHW",
                  "dtype": "float32", "mean": list(mean), "std": list(std), "resize": "stretch-bilinear",
                  "colorConversion": "luma-bt601" if layout.in_ch == 1 else "rgb"},
        "graph": {"combine": "sum", "emptySelection": "identity-else-default", "stem": stem, "cells": cells, "head": head},
        "latency": {"unit": "ms", "method": latency.method, "device": latency.device, "table": table},
        "accuracy": accuracy,
        "provenance": provenance,
    }
    if not static:
        controller = controller.cpu().eval().to(memory_format=torch.contiguous_format)
        cmacs, cparams, cout = count_macs(controller, in_shape)
        _to_onnx(controller, in_shape, out / "controller.onnx", opset)
        manifest["controller"] = {"file": "controller.onnx", "inputShape": list(in_shape), "outputShape": list(cout),
                                  "threshold": threshold, "macs": int(cmacs), "params": int(cparams)}
        if hot_paths:
            manifest["hotPaths"] = hot_paths
    if golden_inputs is not None:
        manifest["golden"] = "golden.json"
        (out / "golden.json").write_text(json.dumps(golden(graph, controller, golden_inputs, threshold, static)))
    validate_manifest(manifest, str(final / "manifest.json"))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


@torch.no_grad()
def hot_paths(graph: MetaGraph, controller: Controller, images: torch.Tensor, threshold: float, top: int = 32,
              batch_size: int = 500) -> List[Dict[str, Any]]:
    """The controller's `top` most frequent paths on `images` (normalised [N, C, H, W]), most frequent first,
    with their share: what a runtime should compile at load. Needs only the controller, not the meta-graph."""
    controller = controller.cpu().eval()
    counts: Dict[str, int] = {}
    for i in range(0, len(images), batch_size):
        executed = graph.resolve(greedy(controller.probs(images[i:i + batch_size]), threshold))  # [n, cells, options]
        for e in executed:
            code = path_code(e)
            counts[code] = counts.get(code, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [{"code": c, "share": round(n / max(len(images), 1), 6)} for c, n in ranked]


def fold_bn(model: torch.nn.Module) -> torch.nn.Module:
    """A copy with every eval-mode Conv2d+BatchNorm2d pair folded into one conv, as torch.onnx.export folds them:
    the same function, computed with the same float32 arithmetic as the exported graph, so the golden logits
    measure the export and not the rounding of an unfolded BatchNorm (which reaches ~2e-4 on trained logits)."""
    import copy
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    folded = copy.deepcopy(model).eval()
    for mod in folded.modules():
        if isinstance(mod, torch.nn.Sequential):
            names = list(mod._modules)
            for a, b in zip(names, names[1:]):
                conv, bn = mod._modules[a], mod._modules[b]
                if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                    mod._modules[a] = fuse_conv_bn_eval(conv, bn)
                    mod._modules[b] = torch.nn.Identity()
    return folded


@torch.no_grad()
def golden(graph: MetaGraph, controller: Optional[Controller], x: torch.Tensor, threshold: float, static: bool,
           margin: float = 1e-3) -> Dict[str, Any]:
    """Torch reference outputs. Inputs whose controller probabilities sit within `margin` of the threshold are
    dropped: float rounding between torch and onnxruntime could flip them, and paths must match exactly."""
    if static:
        probs = None
        policy = graph.chain(x.shape[0])
        keep = torch.ones(x.shape[0], dtype=torch.bool)
    else:
        probs = controller.probs(x)  # [N, cells, options]
        keep = ((probs - threshold).abs() >= margin).flatten(1).all(1)
        policy = greedy(probs, threshold)
    x, policy = x[keep], policy[keep]
    executed = graph.resolve(policy)
    if static:
        # A static bundle holds one option per cell, the chain's, at index 0: its paths are spelled in those terms
        # (with space.default_option = k they named option k, and the runtime's verify refused them).
        executed = executed.amax(dim=2, keepdim=True)  # [N, cells, 1]
    logits = fold_bn(graph)(x, policy)
    out: Dict[str, Any] = {
        "inputShape": list(x.shape),
        "inputs": [row.flatten().tolist() for row in x],
        "paths": [{"code": path_code(e), "cells": path_cells(e)} for e in executed],
        "logits": logits.tolist(),
        "labels": logits.argmax(1).tolist(),
    }
    if probs is not None:
        out["controllerProbs"] = [row.flatten().tolist() for row in probs[keep]]
    return out


def verify_with_runtime(bundle: str) -> Optional[str]:
    """Runs the bundle's golden file through the TypeScript runtime (onnxruntime-node) when it is built here:
    the export is only as good as what the deployment runtime computes from it. Returns its report, or None
    when the runtime is not built (a warning, not an error: the search can run on a machine without Node)."""
    cli = REPO_ROOT / "bin" / "instanas.js"
    if not (REPO_ROOT / "dist" / "cli" / "commands" / "verify.js").is_file():
        return None
    try:
        r = subprocess.run(["node", str(cli), "verify", "--model", bundle], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as e:
        raise ExportError(f"could not run the runtime's verify on {bundle}: {e}") from None
    if r.returncode != 0:
        raise ExportError(f"runtime parity check failed for {bundle}: {(r.stderr or r.stdout).strip()}")
    return r.stdout.strip()


def hardware(device: str = "cpu") -> str:
    """Where this process trains, for the model card: machine, CPU count, and the torch threads or CUDA device."""
    cpu = f"{platform.machine()}, {os.cpu_count()} CPUs"
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{cpu}, CUDA {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return f"{cpu}, {torch.get_num_threads()} torch threads"


def provenance(data: str, seed: int, command: str, config: Dict[str, Any], wall: Optional[float] = None,
               device: str = "cpu") -> Dict[str, Any]:
    p = {"data": data, "seed": seed, "command": command, "gitCommit": git_commit(),
         "createdAt": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
         "config": config, "torch": torch.__version__, "hardware": hardware(device)}
    if wall is not None:
        p["wallTimeSeconds"] = round(wall, 1)
    return p
