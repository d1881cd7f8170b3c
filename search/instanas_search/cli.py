"""`python -m instanas_search` commands: search, export, distill, plot, card."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import List, Optional

import torch

from .config import ConfigError, ExperimentConfig, load_config
from .data import DataError, Dataset, load_dataset, normalize, synthetic, STATS
from .export import ExportError, export_bundle, hot_paths, provenance, verify_with_runtime
from .latency import LatencyTable
from .train import Searcher

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def resolve_config_path(name: Optional[str]) -> Optional[str]:
    """--config takes a file path or the name of a file in search/configs (without .json)."""
    if not name:
        return None
    p = Path(name)
    if p.is_file():
        return str(p)
    named = CONFIG_DIR / f"{name}.json"
    if named.is_file():
        return str(named)
    known = ", ".join(sorted(f.stem for f in CONFIG_DIR.glob("*.json")))
    raise ConfigError(f"--config {name}: no such file, nor a named config (known: {known})")


def _golden_inputs(data: Dataset, n: int) -> torch.Tensor:
    return normalize(data.test.images[:n], data.mean, data.std)


@torch.no_grad()
def calibrate_bn(searcher: Searcher, x: torch.Tensor) -> None:
    """Give a randomly initialised graph realistic BN statistics (cumulative average over one all-on pass),
    so that its activations, logits and golden outputs are well scaled."""
    g = searcher.graph
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    g.train()
    g(x, g.all_on(x.shape[0]), subset=False)
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
    if searcher.controller is not None:
        for m in searcher.controller.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
        searcher.controller.train()
        searcher.controller(x)
    g.eval()


def _overrides(args) -> List[str]:
    return list(args.set) + ([f"train.device={args.device}"] if args.device else [])


def cmd_search(args) -> int:
    cfg = load_config(resolve_config_path(args.config), _overrides(args))
    searcher = Searcher(cfg, args.out)
    if args.start_from:
        if searcher.rank == 0:  # one rank copies; the others wait at the barrier below
            if (Path(args.out) / "checkpoint.pt").exists():
                raise ConfigError(f"--from: {args.out}/checkpoint.pt exists; --from starts a new run folder (use --resume to continue one)")
            if not Path(args.start_from).is_file():
                raise ConfigError(f"--from: {args.start_from} is not a file (a run folder's after-<phase>.pt)")
            Path(args.out).mkdir(parents=True, exist_ok=True)
            tmp = Path(args.out) / "checkpoint.pt.from"
            shutil.copyfile(args.start_from, tmp)
            os.replace(tmp, Path(args.out) / "checkpoint.pt")  # never a half-written checkpoint
        if searcher.world > 1:
            import torch.distributed as dist
            dist.barrier()
        args.resume = True  # the config check of resume() applies: only phases that have not begun may change
    if args.resume and searcher.resume():
        print(f"resumed from {args.out}/checkpoint.pt at phase {searcher.next[0]} epoch {searcher.next[1]}", file=sys.stderr)
    elif (Path(args.out) / "checkpoint.pt").exists() and not args.resume:
        raise ConfigError(f"{args.out}/checkpoint.pt exists: pass --resume to continue it, or choose another --out")
    elif args.resume:
        # Not an error (a job restarted with the same command starts its first run this way), but said: a typo in
        # --out would otherwise silently begin again from scratch.
        print(f"--resume: no checkpoint.pt in {args.out}; starting a new run", file=sys.stderr)

    def show(row):
        keys = [k for k in ("loss", "train_acc", "val_acc", "val_latency", "val_paths", "reward", "ub") if k in row]
        print(f"[{row['phase']} {row['epoch']}] " + " ".join(f"{k}={row[k]:.4g}" for k in keys) + f" ({row['seconds']}s)",
              file=sys.stderr, flush=True)

    searcher.run(show)
    if searcher.rank != 0:
        return 0
    try:
        from .plot import plot_log
        plot_log(Path(args.out) / "log.jsonl", Path(args.out) / "training.png")
    except ImportError:
        print("matplotlib missing: no training.png (apt-get install python3-matplotlib)", file=sys.stderr)
    return _export_from(searcher, cfg, args.export or str(Path(args.out) / "bundle"), args.command_line)


def _export_from(searcher: Searcher, cfg: ExperimentConfig, out: str, command: str) -> int:
    test = searcher.evaluate("test")
    accuracy = {"dataset": cfg.data.dataset, "split": "test", "top1": round(test["test_acc"], 6),
                "count": len(searcher.data.test.labels), "meanMacs": round(test["test_macs"], 1),
                "distinctPaths": test["test_paths"], "measuredWith": f"torch {torch.__version__} at export"}
    prov = provenance(f"{cfg.data.dataset} ({cfg.data.root}), val_size {cfg.data.val_size}", cfg.train.seed, command,
                      cfg.to_dict(), searcher.wall, device=str(searcher.device))
    if searcher.resume_changes:
        prov["config"]["resumedWithChanges"] = searcher.resume_changes  # {key: [before, after]}
    hot = None
    if searcher.controller is not None:  # from the validation split: the test set only gives final numbers
        val = normalize(searcher.data.val.images, searcher.data.mean, searcher.data.std)
        hot = hot_paths(searcher.graph, searcher.controller, val, cfg.controller.threshold)
    export_bundle(out, searcher.graph, searcher.controller, name=cfg.export.name, version=cfg.export.version,
                  labels=searcher.data.labels, mean=searcher.data.mean, std=searcher.data.std, latency=searcher.latency,
                  accuracy=accuracy, provenance=prov, threshold=cfg.controller.threshold, opset=cfg.export.opset,
                  golden_inputs=_golden_inputs(searcher.data, cfg.export.golden_samples), hot_paths=hot)
    _verify(out)
    print(json.dumps({"bundle": out, **test}))
    return 0


def _verify(out: str) -> None:
    report = verify_with_runtime(out)
    if report is None:
        print("note: the TypeScript runtime is not built here (npm ci), so the export was not checked against "
              "onnxruntime; run `npx instanas verify --model " + out + "`", file=sys.stderr)
    else:
        print(report, file=sys.stderr)


def cmd_export(args) -> int:
    cfg = load_config(resolve_config_path(args.config), _overrides(args))
    if args.random:
        torch.manual_seed(cfg.train.seed)
        searcher = Searcher(cfg, args.out)
        x = _golden_inputs(searcher.data, max(cfg.export.golden_samples, 64))
        if searcher.controller is not None:
            # Spread the untrained controller's logits so that the sample inputs take many different paths.
            searcher.controller.fc.weight.data.mul_(args.spread)
        calibrate_bn(searcher, x)
        prov = provenance(f"{cfg.data.dataset}: random initialisation, no training", cfg.train.seed,
                          args.command_line, cfg.to_dict())
        export_bundle(args.out, searcher.graph, searcher.controller, name=cfg.export.name, version=cfg.export.version,
                      labels=searcher.data.labels, mean=searcher.data.mean, std=searcher.data.std,
                      latency=searcher.latency, accuracy=None, provenance=prov, threshold=cfg.controller.threshold,
                      opset=cfg.export.opset, golden_inputs=x[:cfg.export.golden_samples])
        _verify(args.out)
        print(json.dumps({"bundle": args.out, "random": True}))
        return 0
    if not args.run:
        raise ConfigError("export: pass --random, or --run <search output folder> to export a trained checkpoint")
    searcher = Searcher(cfg, args.run)
    if not searcher.resume():
        raise ConfigError(f"--run {args.run}: no checkpoint.pt there")
    return _export_from(searcher, cfg, args.out, args.command_line)


def cmd_plot(args) -> int:
    from .plot import plot_log
    plot_log(Path(args.run) / "log.jsonl", Path(args.out or Path(args.run) / "training.png"))
    return 0


def cmd_card(args) -> int:
    from .modelcard import write_card
    out = write_card(Path(args.bundle), Path(args.eval), Path(args.run) if args.run else None, args.eval_command,
                     Path(args.baseline_eval) if args.baseline_eval else None)
    print(out)
    return 0


def cmd_distill(args) -> int:
    from .distill import load_distill_config, run_distill
    from .onnx_torch import OnnxTorchError
    from .bundle_torch import BundleError
    cfg = load_distill_config(resolve_config_path(args.config))
    lines: List[str] = []

    def log(line: str) -> None:
        print(line, flush=True)
        lines.append(line)
    try:
        run_distill(cfg, args.out, args.command_line, log=log)
    except (OnnxTorchError, BundleError) as e:
        raise ConfigError(str(e)) from None
    # Beside the bundle, as a search run's log.jsonl is (the model card renders it).
    (Path(args.out) / "distill-log.jsonl").write_text("".join(x + "\n" for x in lines))
    _verify(args.out)
    print(json.dumps({"bundle": args.out}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m instanas_search", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp):
        sp.add_argument("--config", default="fashion-mnist", help="config file, or a name in search/configs")
        sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key, e.g. --set train.lr=0.05 (repeatable)")
        sp.add_argument("--device", choices=("auto", "cpu", "cuda"),
                        help="where to train: short for --set train.device=... (default: the config's, auto)")

    s = sub.add_parser("search", help="run the search (or the static baseline) and export a bundle")
    common(s)
    s.add_argument("--out", required=True, help="run folder: checkpoint.pt, log.jsonl, training.png, bundle/")
    s.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    s.add_argument("--from", dest="start_from", metavar="SNAPSHOT",
                   help="start a new OUT from another run's after-<phase>.pt (e.g. after-search.pt), with a config that "
                        "may change only the phases that follow it")
    s.add_argument("--export", help="bundle folder (default OUT/bundle)")
    s.set_defaults(fn=cmd_search)

    e = sub.add_parser("export", help="export a bundle from a run's checkpoint, or from a random initialisation")
    common(e)
    e.add_argument("--out", required=True, help="bundle folder to write")
    e.add_argument("--run", help="search output folder holding checkpoint.pt")
    e.add_argument("--random", action="store_true", help="export an untrained meta-graph (seconds; fixtures, profiling)")
    e.add_argument("--spread", type=float, default=4.0, help="--random: scale of the controller's last layer")
    e.set_defaults(fn=cmd_export)

    d = sub.add_parser("distill", help="train a cheaper controller that makes a bundle's controller's choices")
    d.add_argument("--config", default="fashion-mnist-distill-cheap", help="distill config file, or a name in search/configs")
    d.add_argument("--out", required=True, help="bundle folder to write (the teacher's modules, the student controller)")
    d.set_defaults(fn=cmd_distill)

    pl = sub.add_parser("plot", help="plot a run's log.jsonl")
    pl.add_argument("--run", required=True)
    pl.add_argument("--out")
    pl.set_defaults(fn=cmd_plot)
    c = sub.add_parser("card", help="write a bundle's MODEL.md from `instanas eval --json` output")
    c.add_argument("--bundle", required=True)
    c.add_argument("--eval", required=True, help="JSON written by `instanas eval --json`")
    c.add_argument("--eval-command", required=True, help="the eval command line, quoted in the card")
    c.add_argument("--run", help="search output folder (log.jsonl)")
    c.add_argument("--baseline-eval", help="eval JSON of the static baseline, for the comparison rows")
    c.set_defaults(fn=cmd_card)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = "python -m instanas_search " + " ".join(shlex.quote(a) for a in argv)
    try:
        return args.fn(args)
    except (ConfigError, DataError, ExportError, FileNotFoundError, ValueError) as e:
        print(f"instanas_search: error: {e}", file=sys.stderr)
        return 1
