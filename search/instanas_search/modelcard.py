"""MODEL.md for a bundle, from the runtime's own evaluation (`instanas eval --json`) and the run's log.

Every number in the card comes from those two files; the card names the commands that made them.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any, Dict, List, Optional


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _chart(ev: Dict[str, Any], out: Path, title: str) -> Optional[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    top = ev["paths"]["top"]
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    ax[0].bar(range(len(top)), [t["share"] * 100 for t in top], color="#4c72b0")
    ax[0].set_xticks(range(len(top)), [t["code"] for t in top], rotation=60, fontsize=7, family="monospace")
    ax[0].set_ylabel("% of test images")
    ax[0].set_title(f"{title}: most used paths ({ev['paths']['distinct']} distinct)")
    rows = ev["perClass"]
    ax[1].barh([r["label"] for r in rows], [r["meanMacs"] / 1e6 for r in rows], color="#55a868")
    ax[1].set_xlabel("mean MMACs per image")
    ax[1].set_title("MACs by class")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out.name


def _distilled_lines(prov: Dict[str, Any]) -> List[str]:
    """For a bundle made by `distill`: what its modules come from, and what that search cost."""
    d = prov.get("distilledFrom")
    if not d:
        return []
    tp = d.get("provenance", {})
    tw = tp.get("wallTimeSeconds")
    dc = prov.get("config", {}).get("distill", {})
    teacher = dc.get("teacher", "?")
    if dc.get("target", "teacher") == "cheapest-agreeing":
        goal = (f"to pick, per image, the cheapest of the teacher's {dc.get('candidates', '?')} most used paths "
                f"that gives the teacher's answer (probability >= {dc.get('min_confidence', 0)})")
    else:
        goal = "to make the teacher's choices"
    tuned = dc.get("finetune_epochs", 0)
    modules = (f"the modules are that bundle's, fine-tuned here {tuned} epochs on the new controller's paths "
               "(BatchNorm statistics frozen)" if tuned else "the modules are that bundle's, unchanged")
    return [f"- Distilled from {d['name']} {d['version']} (`distill.teacher`: `{teacher}`): {modules}; the controller "
            f"was trained here, {goal}.",
            f"- The teacher's search: `{tp.get('command', '?')}`, seed {tp.get('seed', '?')}, "
            + (f"{tw / 60:.1f} min of training" if tw else "training time not recorded")
            + f", git commit `{tp.get('gitCommit', '?')}`."]


def write_card(bundle: Path, eval_json: Path, run_dir: Optional[Path], eval_command: str,
               baseline_eval: Optional[Path] = None) -> Path:
    m = json.loads((bundle / "manifest.json").read_text())
    ev = json.loads(eval_json.read_text())
    base = json.loads(baseline_eval.read_text()) if baseline_eval else None
    prov = m["provenance"]
    log: List[Dict[str, Any]] = []
    if run_dir and (run_dir / "log.jsonl").is_file():
        log = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines() if x.strip()]
    chart = _chart(ev, bundle / "paths.png", m["name"])  # a static bundle's shows its one path
    wall = prov.get("wallTimeSeconds")
    section = "distill" if "distilledFrom" in prov else "train"
    threads = prov.get("config", {}).get(section, {}).get("threads", "?")  # as trained, from the provenance
    lines = [
        f"# {m['name']} {m['version']} ({m['kind']})", "",
        m.get("description", ""), "",
        "## Data", "",
        f"- {prov['data']}; the test split ({ev['count']} images) is used only for the numbers below.", "",
        "## How it was made", "",
        f"- Command (from `search/`): `{prov['command']}`",
        f"- Seed {prov['seed']}, torch {prov.get('torch', '?')}, git commit `{prov['gitCommit']}`, created {prov['createdAt']}.",
        (f"- {'Distillation' if 'distilledFrom' in prov else 'Training'} wall time: {wall / 60:.1f} min" if wall
         else "- Training wall time: not recorded"),
        (f"- Hardware (recorded when the bundle was exported): {prov['hardware']}; `{section}.threads={threads}`."
         if "hardware" in prov else
         f"- Hardware: not recorded in the bundle (exported before 2026-11-30); `train.threads={threads}`, "
         f"card written on {platform.machine()} with {os.cpu_count()} CPUs."),
        (f"- Latency table used by the {'teacher' + chr(39) + 's ' if 'distilledFrom' in prov else ''}search: {m['latency']['method']} ({m['latency']['device']})." if m["kind"] == "instanas"
         else f"- No search (static training); the manifest's latency table is a {m['latency']['method']}."),
        *_distilled_lines(prov), "",
        "## Results on the test set, measured through the TypeScript runtime (onnxruntime-node)", "",
        f"Command: `{eval_command}`", "",
        "| metric | value |", "|---|---|",
        f"| top-1 accuracy | {_pct(ev['accuracy'])} ({ev['count']} images) |",
        f"| mean MACs per image (child path) | {ev['macs']['mean'] / 1e6:.2f} M |",
        f"| MACs p50 / min / max | {ev['macs']['p50'] / 1e6:.2f} / {ev['macs']['min'] / 1e6:.2f} / {ev['macs']['max'] / 1e6:.2f} M |",
        f"| controller MACs | {ev['macs'].get('controller', 0) / 1e6:.3f} M |",
        f"| distinct architectures used | {ev['paths']['distinct']} |",
        f"| latency per image, batch 1 (mean / p50 / p99) | {ev['latency']['meanMs']:.3f} / {ev['latency']['p50Ms']:.3f} / {ev['latency']['p99Ms']:.3f} ms |",
    ]
    if base:
        lines += [f"| vs static baseline ({base['model']['name']}): accuracy | {_pct(ev['accuracy'])} vs {_pct(base['accuracy'])} "
                  f"({100 * (ev['accuracy'] - base['accuracy']):+.2f} points) |",
                  f"| vs static baseline: mean MACs | {100 * ev['macs']['mean'] / base['macs']['mean']:.1f}% of the baseline's |"]
    if m["kind"] == "instanas":
        bc = ev.get("byCorrectness", {})
        lines += ["", "## Does the path depend on the instance?", "",
                  "Mean MACs per class (an instance-blind model would give one number for all):", "",
                  "| class | images | accuracy | mean MMACs |", "|---|---|---|---|"]
        lines += [f"| {r['label']} | {r['count']} | {_pct(r['accuracy'])} | {r['meanMacs'] / 1e6:.2f} |" for r in ev["perClass"]]
        if bc:
            lines += ["", f"Correctly classified images: {bc['correct']['count']}, mean {bc['correct']['meanMacs'] / 1e6:.2f} MMACs; "
                      f"wrongly classified: {bc['wrong']['count']}, mean {bc['wrong']['meanMacs'] / 1e6:.2f} MMACs."]
        lines += ["", "Most used paths (one character per cell, the bitmask of options that ran, base 32):", "",
                  "| path | share | MMACs |", "|---|---|---|"]
        lines += [f"| `{t['code']}` | {_pct(t['share'])} | {t['macs'] / 1e6:.2f} |" for t in ev["paths"]["top"]]
    if chart:  # a static bundle's chart shows its one path and the same MACs for every class
        lines += ["", f"![architecture usage]({chart})"]
    if log:
        lines += ["", "## Training log (validation split)", "", "| phase | epoch | val acc | val MMACs | val paths | seconds |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['phase']} | {r['epoch']} | {_pct(r['val_acc'])} | {r.get('val_macs', 0) / 1e6:.2f} | "
                  f"{r.get('val_paths', '')} | {r['seconds']:.0f} |" for r in log]
    dlog = bundle / "distill-log.jsonl"
    if dlog.is_file():
        rows = [json.loads(x) for x in dlog.read_text().splitlines() if x.strip()]
        lines += ["", "## Distillation log", ""]
        target = next((r for r in rows if "targets" in r), None)
        if target:
            lines += [f"Targets ({target['targets']}, training split + synthetic images): "
                      f"{_pct(target['movedOffTeacherPath'])} of the images moved off the teacher's path; mean table "
                      f"latency {target['meanLatencyMs']['teacher']:.4f} -> {target['meanLatencyMs']['target']:.4f} ms. "
                      "Candidates (the teacher's most used paths, most used first): " + ", ".join(f"`{c}`" for c in target["candidates"]) + ".", ""]
        whose = "its targets" if target else "the teacher"
        lines += [f"Per epoch, on the validation split: the share of images whose path the student and {whose} agree on.",
                  "", "| epoch | loss | path agreement | seconds |", "|---|---|---|---|"]
        lines += [f"| {r['epoch']} | {r['loss']:.5f} | {_pct(r['valPathAgreement'])} | {r['seconds']:.1f} |" for r in rows if "epoch" in r]
        tuned = [r for r in rows if "finetuneEpoch" in r]
        if tuned:
            lines += ["", "Fine-tuning the modules on the student's paths (validation split; epoch 0: before):", "",
                      "| epoch | loss | val top-1 | seconds |", "|---|---|---|---|"]
            lines += [f"| {r['finetuneEpoch']} | {r['loss']:.5f} | {_pct(r['valTop1'])} | {r['seconds']:.1f} |" if "loss" in r
                      else f"| {r['finetuneEpoch']} | | {_pct(r['valTop1'])} | |" for r in tuned]
        tests = [r for r in rows if "test" in r]
        if tests:
            lines += ["", "On the test split, with torch on the ONNX graphs" + (" (every row on this bundle's modules)" if tuned else "") + ":", ""]
            lines += [f"- {'the teacher' + chr(39) + 's controller' if r['test'] == 'teacher' and tuned else r['test']}: " + (f"top-1 {_pct(r['top1'])}, mean {r['meanMacs'] / 1e6:.2f} MMACs, {r['distinctPaths']} paths"
                                            if "top1" in r else f"{_pct(r['share'])}") for r in tests]
    out = bundle / "MODEL.md"
    out.write_text("\n".join(lines) + "\n")
    return out
