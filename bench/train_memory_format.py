"""Training speed of the search on CPU, NCHW (contiguous) vs NHWC (channels_last), A/B interleaved.

The step is the search's own: the meta-graph of a shipped config, SGD with momentum, cross-entropy, on a
batch of 128 random 28x28 images; each workload runs one step of A, then one of B, `--rounds` times, and
the medians are compared. Workloads, as the phases of the search use the meta-graph:
  static     the baseline's MobileNetV2 chain (configs/fashion-mnist-mobilenetv2.json)
  pretrain   each module kept with probability 0.5 (the end of one-shot pretraining)
  finetune   a batch spread over 4 fixed paths (the frozen greedy controller)
Outputs of the two layouts are compared too (same weights, eval mode).

  /usr/bin/python3 bench/train_memory_format.py [--rounds 8] [--threads 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "search"))

from instanas_search.config import load_config  # noqa: E402
from instanas_search.metagraph import MetaGraph  # noqa: E402
from instanas_search.space import build_layout  # noqa: E402

LAYOUTS = {"nchw": torch.contiguous_format, "nhwc": torch.channels_last}


def workloads(n: int, g: torch.Generator):
    static_cfg = load_config(str(REPO / "search/configs/fashion-mnist-mobilenetv2.json"))
    insta_cfg = load_config(str(REPO / "search/configs/fashion-mnist-e6.json"))  # the config it ran on in session 6
    static = MetaGraph(build_layout(static_cfg.space, 1, (28, 28), 10))
    insta = MetaGraph(build_layout(insta_cfg.space, 1, (28, 28), 10))
    cells, opts = insta.num_cells, insta.num_options
    paths = (torch.rand(4, cells, opts, generator=g) < 0.15).float()
    return {
        "static": (static, static.chain(n)),
        "pretrain": (insta, (torch.rand(n, cells, opts, generator=g) < 0.5).float()),
        "finetune": (insta, paths[torch.randint(0, 4, (n,), generator=g)]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (args.batch,), generator=g)
    report = {"threads": args.threads, "batch": args.batch, "rounds": args.rounds, "torch": torch.__version__,
              "workloads": {}}
    for name, (graph, policy) in workloads(args.batch, g).items():
        models = {}
        for lay, fmt in LAYOUTS.items():
            m = copy.deepcopy(graph).to(memory_format=fmt)
            models[lay] = (m, torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9), x.contiguous(memory_format=fmt))

        def step(lay: str) -> float:
            m, opt, xx = models[lay]
            t = time.perf_counter()
            loss = F.cross_entropy(m(xx, policy), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return time.perf_counter() - t

        for lay in LAYOUTS:  # warm-up: oneDNN primitive creation
            step(lay), step(lay)
        times = {lay: [] for lay in LAYOUTS}
        for _ in range(args.rounds):
            for lay in LAYOUTS:
                times[lay].append(step(lay))
        a, b = (copy.deepcopy(models[lay][0]).eval() for lay in LAYOUTS)
        b.load_state_dict(a.state_dict())
        with torch.no_grad():
            diff = float((a(x, policy) - b(x.contiguous(memory_format=torch.channels_last), policy)).abs().max())
        med = {lay: statistics.median(v) for lay, v in times.items()}
        row = {f"{lay}_img_s": round(args.batch / med[lay], 1) for lay in LAYOUTS}
        row.update(speedup=round(med["nchw"] / med["nhwc"], 2), max_abs_logit_diff=diff)
        report["workloads"][name] = row
        print(f"{name:9s} nchw {row['nchw_img_s']:6.1f} img/s  nhwc {row['nhwc_img_s']:6.1f} img/s  "
              f"speed-up {row['speedup']:.2f}x  |logits diff| {diff:.1e}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
