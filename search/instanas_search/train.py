"""The InstaNAS search: one-shot pretraining, joint search (controller <-> meta-graph), fine-tuning.

Checkpoints after every epoch; a resumed run repeats at most the epoch that was cut short. Every
random draw of an epoch comes from a generator seeded by (seed, global epoch), so a resumed run is
bit-identical to an uninterrupted one on CPU.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .config import ConfigError, ExperimentConfig, with_defaults
from .controller import Controller, entropy, explore, greedy, log_prob
from .data import Dataset, augment, batches, load_dataset, normalize
from .latency import LatencyTable, PathCost
from .macs import count_macs
from .metagraph import MetaGraph
from .reward import BoundSchedule, reward, ub_end
from .space import build_layout


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but torch sees no CUDA device (torch.cuda.is_available() is False)")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"train.device: {name!r} is not one of auto, cpu, cuda")
    return torch.device(name)


def pick_memory_format(name: str, device: torch.device) -> torch.memory_format:
    formats = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}
    if name == "auto":
        return torch.channels_last if device.type == "cpu" else torch.contiguous_format
    if name not in formats:
        raise ValueError(f"train.memory_format: {name!r} is not one of auto, channels_last, contiguous")
    return formats[name]


def policy_loss(p: torch.Tensor, sampled: torch.Tensor, advantage: torch.Tensor, alpha: float,
                entropy_w: float) -> torch.Tensor:
    """Self-critical REINFORCE loss of the controller. p: [N, cells, options] keep probabilities; sampled: the
    actions drawn from p' = explore(p, alpha), so their log-probability is taken under p'; advantage: [N],
    reward(sampled) - reward(greedy). The entropy bonus keeps p from collapsing early."""
    return -(advantage * log_prob(explore(p, alpha), sampled)).mean() - entropy_w * entropy(p).mean()


def module_macs(graph: MetaGraph) -> Dict[str, int]:
    layout = graph.layout
    shapes = {"stem": (1, layout.in_ch) + layout.in_hw, "head": (1, layout.cells[-1].out_ch) + layout.cells[-1].out_hw}
    out: Dict[str, int] = {}
    for mid, mod, i, _ in graph.modules_for_export():
        shape = shapes[mid] if i is None else (1, layout.cells[i].in_ch) + layout.cells[i].in_hw
        out[mid] = count_macs(mod, shape)[0]
    return out


@dataclass
class Phase:
    name: str
    epochs: int


class Searcher:
    def __init__(self, cfg: ExperimentConfig, out_dir: str, data: Optional[Dataset] = None):
        self.cfg = cfg
        self.out = Path(out_dir)  # created on the first save, so a dry use (random export) writes nothing
        t = cfg.train
        if t.mode not in ("instanas", "static"):
            raise ValueError(f"train.mode: {t.mode!r} is not one of instanas, static")
        if t.threads > 0:
            torch.set_num_threads(t.threads)
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = pick_device(t.device)
        if self.world > 1:
            self._init_distributed()
        torch.manual_seed(t.seed)
        self.data = data or load_dataset(cfg.data, t.seed)
        c, h, w = self.data.shape
        self.layout = build_layout(cfg.space, c, (h, w), len(self.data.labels))
        # NHWC activations let oneDNN run the depthwise and 1x1 convolutions without layout reorders.
        self.memory_format = pick_memory_format(t.memory_format, self.device)
        self.graph = MetaGraph(self.layout).to(self.device, memory_format=self.memory_format)
        self.static = t.mode == "static"
        self.controller: Optional[Controller] = None
        if not self.static:
            self.controller = Controller(cfg.controller, c, (h, w), self.graph.num_cells, self.graph.num_options).to(self.device, memory_format=self.memory_format)
        self.macs = module_macs(self.graph)
        self.latency = self._latency_table()
        self.cost = PathCost(self.graph, self.latency.table)
        self.phases = [Phase("pretrain", t.pretrain_epochs)] if self.static else [
            Phase("pretrain", t.pretrain_epochs), Phase("search", t.search_epochs), Phase("finetune", t.finetune_epochs)]
        self.bounds = BoundSchedule(self.cost.cheapest(), cfg.reward.ub_start_frac * self.cost.all_modules(),
                                    ub_end(cfg.reward.ub_end_ref, cfg.reward.ub_end_frac, self.cost.cheapest(),
                                           self.cost.chain()), t.search_epochs)
        if not self.static:
            self.bounds.check()
        self.log: List[Dict[str, Any]] = []
        self.next = (0, 0)  # (phase index, epoch within phase) to run next
        self.graph_opt: Optional[torch.optim.Optimizer] = None
        self.ctrl_opt = torch.optim.Adam(self.controller.parameters(), lr=t.controller_lr) if self.controller else None
        self.wall = 0.0
        self.resume_changes: Dict[str, Any] = {}
        self._ddp_graph = self._wrap(self.graph)

    # ---------- setup ----------
    def _init_distributed(self) -> None:
        import torch.distributed as dist
        backend = "nccl" if self.device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend)
        if self.device.type == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)

    def _wrap(self, module):
        if self.world <= 1:
            return module
        from torch.nn.parallel import DistributedDataParallel as DDP
        # Subset compute leaves the options no sample picked without gradients on some ranks.
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(module, device_ids=ids, find_unused_parameters=True)

    def _latency_table(self) -> LatencyTable:
        r = self.cfg.reward
        if r.latency_table:
            path = Path(r.latency_table)
            if not path.is_absolute() and not path.exists():
                path = Path(__file__).resolve().parents[1] / path  # relative to search/, like the configs
            table = LatencyTable.from_file(str(path))
            return table.compute_only() if r.latency_compute_only else table
        if r.latency_compute_only:
            raise ValueError("reward.latency_compute_only needs reward.latency_table (a profiled table)")
        if r.macs_proxy or self.static:
            return LatencyTable.macs_proxy(self.macs)  # a static chain has no choice for latency to steer
        raise ValueError("reward.latency_table is empty: profile a bundle of this space with "
                         "`instanas profile --model <bundle>` and pass its manifest, or set reward.macs_proxy=true")

    def _phase_optimizer(self, phase: Phase) -> None:
        t = self.cfg.train
        lr = t.finetune_lr if phase.name == "finetune" else t.lr
        self.graph_opt = torch.optim.SGD(self.graph.parameters(), lr=lr, momentum=t.momentum,
                                         weight_decay=t.weight_decay, nesterov=True)
        self._base_lr = lr

    def _set_lr(self, phase: Phase, epoch: int, step: int, steps: int) -> None:
        # Cosine decay over the phase, per step.
        progress = (epoch + step / max(steps, 1)) / max(phase.epochs, 1)
        for g in self.graph_opt.param_groups:
            g["lr"] = 0.5 * self._base_lr * (1 + math.cos(math.pi * progress))

    # ---------- checkpoints ----------
    def state(self) -> Dict[str, Any]:
        return {
            "config": self.cfg.to_dict(), "next": self.next, "log": self.log, "wall": self.wall,
            "graph": self.graph.state_dict(),
            "controller": self.controller.state_dict() if self.controller else None,
            "graph_opt": self.graph_opt.state_dict() if self.graph_opt else None,
            "ctrl_opt": self.ctrl_opt.state_dict() if self.ctrl_opt else None,
        }

    def save(self) -> None:
        if self.rank != 0:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        tmp = self.out / "checkpoint.pt.tmp"
        torch.save(self.state(), tmp)
        os.replace(tmp, self.out / "checkpoint.pt")  # atomic: a kill never leaves half a checkpoint

    def snapshot(self, phase: str) -> None:
        """Keeps the checkpoint written at the end of `phase` as OUT/after-<phase>.pt: a later run can start
        from it (`search --from`) and change the phases that follow, e.g. fine-tune longer without
        repeating the pretraining and the search."""
        if self.rank != 0:
            return
        tmp = self.out / f"after-{phase}.pt.tmp"
        shutil.copyfile(self.out / "checkpoint.pt", tmp)
        os.replace(tmp, self.out / f"after-{phase}.pt")

    def resume(self) -> bool:
        path = self.out / "checkpoint.pt"
        if not path.is_file():
            return False
        try:
            st = torch.load(path, map_location=self.device)
        except Exception as e:  # a truncated or foreign file: the user's to fix, not a stack trace
            raise ConfigError(f"{path}: not a readable checkpoint ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
        if not isinstance(st, dict) or not {"config", "graph", "next", "log"} <= set(st):
            raise ConfigError(f"{path}: not a checkpoint of this search (no config/graph/next/log entries)")
        self._check_resumable(st, path)
        self.graph.load_state_dict(st["graph"])
        if self.controller is not None:
            self.controller.load_state_dict(st["controller"])
            self.ctrl_opt.load_state_dict(st["ctrl_opt"])
        self.next, self.log, self.wall = tuple(st["next"]), st["log"], st["wall"]
        if self.next[0] < len(self.phases) and st["graph_opt"] is not None:
            self._phase_optimizer(self.phases[self.next[0]])
            if self.next[1] > 0:
                self.graph_opt.load_state_dict(st["graph_opt"])
        return True

    # Keys a resumed run may change: where to run, and the length of phases that have not begun yet
    # (a phase in progress keeps its length, since its LR schedule depends on it).
    _FREE_KEYS = ("device", "threads", "memory_format")
    _PHASE_KEYS = {"pretrain": ("pretrain_epochs", "pretrain_full_epochs", "keep_prob_end"),
                   "search": ("search_epochs", "controller_passes", "controller_batches"),
                   "finetune": ("finetune_epochs", "finetune_lr")}
    # Config sections that only one phase reads: free while that phase has not begun (the reward shapes the search
    # alone, so a pretrained snapshot can be searched again under another latency bound).
    _PHASE_SECTIONS = {"search": ("reward",)}

    def _check_resumable(self, st: Dict[str, Any], path: Path) -> None:
        saved, now = with_defaults(st["config"]), self.cfg.to_dict()
        pi, e = st["next"]
        names = [p.name for p in self.phases]
        free = set(self._FREE_KEYS)
        free_sections: set = {"export"}  # the bundle's name, version, opset, goldens: nothing a phase trained on
        for i, name in enumerate(names):
            if i > pi or (i == pi and e == 0):
                free.update(self._PHASE_KEYS.get(name, ()))
                free_sections.update(self._PHASE_SECTIONS.get(name, ()))
        changed = sorted(k for k in set(saved["train"]) | set(now["train"])
                         if saved["train"].get(k) != now["train"].get(k))
        train_changes = {k: [saved["train"].get(k), now["train"].get(k)] for k in changed}
        if any(k not in free for k in changed):
            bad = [k for k in changed if k not in free]
            raise ValueError(f"{path} was written with another config (train.{', train.'.join(bad)}); use a fresh --out "
                             "or the same config (only phases that have not begun may change length)")
        saved.pop("train"), now.pop("train")
        section_changes = {f"{sec}.{k}": [saved[sec].get(k), now[sec].get(k)] for sec in sorted(free_sections)
                           for k in sorted(set(saved.get(sec, {})) | set(now.get(sec, {})))
                           if saved.get(sec, {}).get(k) != now.get(sec, {}).get(k)}
        for sec in free_sections:
            saved.pop(sec, None), now.pop(sec, None)
        if json.dumps(saved, sort_keys=True, default=list) != json.dumps(now, sort_keys=True, default=list):
            differ = sorted(f"{sec}.{k}" for sec in set(saved) | set(now) if isinstance(saved.get(sec, {}), dict)
                            for k in set(saved.get(sec) or {}) | set(now.get(sec) or {})
                            if (saved.get(sec) or {}).get(k) != (now.get(sec) or {}).get(k))
            raise ValueError(f"{path} was written with another config ({', '.join(differ[:8]) or 'top-level keys'}); "
                             "use a fresh --out or the same config")
        self.resume_changes = train_changes
        self.resume_changes.update(section_changes)

    # ---------- policies ----------
    def _x(self, images: torch.Tensor, train: bool, g: torch.Generator) -> torch.Tensor:
        if train and self.cfg.data.augment:
            images = augment(images, 2 if images.shape[-1] <= 28 else 4, g)
        return normalize(images.to(self.device), self.data.mean, self.data.std).contiguous(memory_format=self.memory_format)

    def _keep_prob(self, epoch: int) -> float:
        t = self.cfg.train
        if epoch < t.pretrain_full_epochs:
            return 1.0
        span = max(t.pretrain_epochs - t.pretrain_full_epochs, 1)
        frac = (epoch - t.pretrain_full_epochs + 1) / span
        return 1.0 - (1.0 - t.keep_prob_end) * min(frac, 1.0)

    def _random_policy(self, n: int, keep: float, g: torch.Generator) -> torch.Tensor:
        shape = (n, self.graph.num_cells, self.graph.num_options)
        if keep >= 1.0:
            return torch.ones(shape, device=self.device)
        return (torch.rand(shape, generator=g) < keep).to(torch.float32).to(self.device)

    @torch.no_grad()
    def greedy_policy(self, x: torch.Tensor) -> torch.Tensor:
        if self.controller is None:
            return self.graph.chain(x.shape[0], self.device)
        self.controller.eval()
        return greedy(self.controller.probs(x), self.cfg.controller.threshold)

    # ---------- epochs ----------
    def _graph_epoch(self, phase: Phase, epoch: int, g: torch.Generator) -> Dict[str, float]:
        t = self.cfg.train
        self.graph.train()
        split = self.data.train
        steps = math.ceil(len(split.labels) / self.world / t.batch_size)
        keep = self._keep_prob(epoch) if phase.name == "pretrain" else None
        tot_loss = tot_ok = tot_n = 0.0
        lat_sum = 0.0
        bar = tqdm(batches(split, t.batch_size, True, g, self.rank, self.world), total=steps,
                   desc=f"{phase.name} {epoch + 1}/{phase.epochs}", disable=None, leave=False)
        for step, (images, labels) in enumerate(bar):
            self._set_lr(phase, epoch, step, steps)
            x, y = self._x(images, True, g), labels.to(self.device)
            if self.static:
                policy = self.graph.chain(len(y), self.device)
            elif phase.name == "pretrain":
                policy = self._random_policy(len(y), keep, g)
            else:
                with torch.no_grad():
                    self.controller.eval()
                    p = self.controller.probs(x)
                    if phase.name == "search":
                        policy = torch.bernoulli(explore(p, self.cfg.controller.alpha).cpu(), generator=g).to(self.device)
                    else:
                        policy = greedy(p, self.cfg.controller.threshold)
            logits = self._ddp_graph(x, policy)
            loss = F.cross_entropy(logits, y, label_smoothing=t.label_smoothing)
            self.graph_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.graph_opt.step()
            tot_loss += float(loss) * len(y)
            tot_ok += float((logits.argmax(1) == y).sum())
            tot_n += len(y)
            lat_sum += float(self.cost(self.graph.resolve(policy).cpu()).sum())
            bar.set_postfix(loss=f"{tot_loss / tot_n:.3f}", acc=f"{tot_ok / tot_n:.3f}")
        out = {"loss": tot_loss / tot_n, "train_acc": tot_ok / tot_n, "train_latency": lat_sum / tot_n}
        if keep is not None:
            out["keep_prob"] = keep
        return out

    def _controller_epoch(self, epoch: int, g: torch.Generator) -> Dict[str, float]:
        t, r, c = self.cfg.train, self.cfg.reward, self.cfg.controller
        lb, ub = self.bounds.bounds(epoch)
        ub_first = ub
        self.graph.eval()  # frozen meta-graph, running BN statistics
        self.controller.train()
        split = self.data.val
        tot = {"reward": 0.0, "greedy_reward": 0.0, "entropy": 0.0, "n": 0.0}
        steps = math.ceil(len(split.labels) / self.world / t.batch_size)
        if t.controller_batches:
            steps = min(steps, t.controller_batches)

        def stream():
            for _ in range(max(t.controller_passes, 1)):
                for step, b in enumerate(batches(split, t.batch_size, True, g, self.rank, self.world)):
                    if step >= steps:
                        break
                    yield b

        total = steps * max(t.controller_passes, 1)
        bar = tqdm(stream(), total=total, desc=f"controller {epoch + 1}", disable=None, leave=False)
        for k, (images, labels) in enumerate(bar):
            lb, ub = self.bounds.bounds(epoch, k / total)  # ub falls per step, not per epoch
            x, y = self._x(images, True, g), labels.to(self.device)
            p = self.controller.probs(x)  # [N, cells, options]
            sampled = torch.bernoulli(explore(p.detach(), c.alpha).cpu(), generator=g).to(self.device)
            base = greedy(p.detach(), c.threshold)
            with torch.no_grad():
                r_s = reward(self.graph(x, sampled).argmax(1) == y, self.cost(self.graph.resolve(sampled)).to(self.device),
                             lb, ub, r.pos_w, r.neg_w, r.ub_slope)
                r_g = reward(self.graph(x, base).argmax(1) == y, self.cost(self.graph.resolve(base)).to(self.device),
                             lb, ub, r.pos_w, r.neg_w, r.ub_slope)
            # Self-critical REINFORCE: the greedy path is the baseline of the sampled one.
            # The sampled actions came from p' = explore(p); their log-probability is taken under p'.
            ent = entropy(p)
            loss = policy_loss(p, sampled, r_s - r_g, c.alpha, r.entropy)
            self.ctrl_opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.world > 1:
                self._allreduce_grads(self.controller)
            self.ctrl_opt.step()
            tot["reward"] += float(r_s.sum())
            tot["greedy_reward"] += float(r_g.sum())
            tot["entropy"] += float(ent.sum())
            tot["n"] += len(y)
        n = max(tot["n"], 1)
        return {"reward": tot["reward"] / n, "greedy_reward": tot["greedy_reward"] / n,
                "entropy": tot["entropy"] / n, "lb": lb, "ub": ub_first, "ub_last": ub}

    def _allreduce_grads(self, module) -> None:
        import torch.distributed as dist
        for prm in module.parameters():
            if prm.grad is not None:
                dist.all_reduce(prm.grad)
                prm.grad /= self.world

    @torch.no_grad()
    def evaluate(self, split_name: str = "val", batch_size: int = 500, policy_kind: str = "greedy") -> Dict[str, Any]:
        """policy_kind: greedy (the controller; the chain for static runs), all (every option) or chain."""
        split = getattr(self.data, split_name)
        self.graph.eval()
        ok, n, lat, macs = 0, 0, 0.0, 0.0
        codes = set()
        per_option = torch.tensor([[self.macs[f"cell{i:02d}_op{j}"] for j in range(self.graph.num_options)]
                                   for i in range(self.graph.num_cells)], dtype=torch.float64)
        fixed_macs = self.macs["stem"] + self.macs["head"]
        for images, labels in batches(split, batch_size, False):
            x, y = self._x(images, False, None), labels.to(self.device)
            if policy_kind == "all":
                policy = self.graph.all_on(len(y), self.device)
            elif policy_kind == "chain":
                policy = self.graph.chain(len(y), self.device)
            else:
                policy = self.greedy_policy(x)
            ex = self.graph.resolve(policy)
            ok += int((self.graph(x, policy).argmax(1) == y).sum())
            n += len(y)
            lat += float(self.cost(ex.cpu()).sum())
            macs += float((ex.cpu().double() * per_option).flatten(1).sum(1).sum()) + fixed_macs * len(y)
            codes.update(map(tuple, ex.flatten(1).to(torch.int8).cpu().tolist()))
        return {f"{split_name}_acc": ok / max(n, 1), f"{split_name}_latency": lat / max(n, 1),
                f"{split_name}_macs": macs / max(n, 1), f"{split_name}_paths": len(codes)}

    # ---------- driver ----------
    def run(self, on_epoch=None) -> List[Dict[str, Any]]:
        while self.next[0] < len(self.phases):
            pi, e = self.next
            phase = self.phases[pi]
            if e >= phase.epochs:
                self.next = (pi + 1, 0)
                continue
            if e == 0 or self.graph_opt is None:
                self._phase_optimizer(phase)
            global_epoch = sum(p.epochs for p in self.phases[:pi]) + e
            g = torch.Generator().manual_seed(self.cfg.train.seed * 100003 + global_epoch)
            t0 = time.time()
            row: Dict[str, Any] = {"phase": phase.name, "epoch": e + 1, "global_epoch": global_epoch + 1}
            if phase.name == "search":
                row.update(self._controller_epoch(e, g))
            row.update(self._graph_epoch(phase, e, g))
            # Pretraining is judged on what it trains (all options on); later phases on the controller's paths.
            kind = "all" if phase.name == "pretrain" and not self.static else "greedy"
            row.update(self.evaluate("val", policy_kind=kind))
            row["seconds"] = round(time.time() - t0, 2)
            self.wall += row["seconds"]
            self.log.append(row)
            self.next = (pi, e + 1)
            self.save()
            if e + 1 == phase.epochs:
                self.snapshot(phase.name)
            if self.rank == 0:
                # Rewritten whole from the checkpointed log, so a resumed run never duplicates a row; through a temporary
                # file, so a kill mid-write never leaves a half line that the plot and the model card then choke on.
                tmp = self.out / "log.jsonl.tmp"
                tmp.write_text("".join(json.dumps(r) + "\n" for r in self.log))
                os.replace(tmp, self.out / "log.jsonl")
                if on_epoch:
                    on_epoch(row)
        return self.log
