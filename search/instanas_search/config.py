"""Typed experiment config: one dataclass per component, loaded from a JSON file plus --set overrides.

Unknown keys are errors (a typo must not silently fall back to a default).
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

# MobileNetV2 stages (t, c, n, s) with CIFAR-style strides, as in InstaNAS. t is the expansion of the
# MobileNetV2 chain; the meta-graph's options carry their own expansion, so t is kept for reference.
MOBILENETV2_CIFAR_STAGES: List[Tuple[int, int, int, int]] = [
    (1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
]
INSTANAS_OPTIONS: List[str] = ["mb_k3_e6", "mb_k3_e3", "mb_k5_e6", "mb_k5_e3", "plain_k3"]


@dataclass
class DataConfig:
    dataset: str = "fashion-mnist"  # fashion-mnist | cifar10 | cifar100 | synthetic (tests)
    root: str = "/usr/share/datasets/fashion-mnist"  # where Debian's dataset-fashion-mnist puts the IDX files
    val_size: int = 5000  # held out from train for controller rewards and model selection
    augment: bool = True  # random crop (pad 2 for 28px, 4 for 32px) + horizontal flip
    limit_train: int = 0  # >0: use only this many training images (smoke runs)
    limit_eval: int = 0  # >0: use only this many val/test images (smoke runs)
    synthetic_size: int = 256  # images per split for the synthetic dataset


@dataclass
class SpaceConfig:
    width_mult: float = 0.5  # 0.5 fits the 2-hour CPU budget on 28x28 inputs; the paper uses 1.0
    stem_channels: int = 32  # MobileNetV2 stem width before the multiplier
    stem_stride: int = 1  # CIFAR-style; 2 quarters the compute on 28x28 inputs
    stages: List[Tuple[int, int, int, int]] = field(default_factory=lambda: [tuple(s) for s in MOBILENETV2_CIFAR_STAGES])
    head_channels: int = 1280  # MobileNetV2's last 1x1 conv
    head_scale_with_width: bool = False  # MobileNetV2 keeps 1280 for width < 1
    options: List[str] = field(default_factory=lambda: list(INSTANAS_OPTIONS))
    default_option: int = 0  # MobileNetV2's own block; runs when a shape-changing cell has no selection, unless empty_option >= 0
    # Runs in a shape-changing cell whose selection is empty; -1: default_option (the paper). With the paper's rule,
    # dropping options (what the controller learns first, from its rich start) ends at MobileNetV2's block (3x3 e6) in
    # those cells; e3 needs a learned selection, which the searches of sessions 6-9 never made (they stopped at
    # 3.1-3.3 M MACs; cheapest legal path 2.14 M). 1 (3x3 e3, the fewest MACs) makes "all off" the cheapest path.
    empty_option: int = -1


@dataclass
class ControllerConfig:
    input_size: int = 0  # >0: the controller sees the image average-pooled to this size (InstaNAS: downsampled)
    channels: List[int] = field(default_factory=lambda: [16, 32, 64])  # stride-2 conv widths
    init_bias: float = 2.0  # sigmoid(2) = 0.88: the search starts from rich paths and learns to drop options
    alpha: float = 0.8  # exploration: sample from a*p + (1-a)*(1-p) during search
    threshold: float = 0.5  # inference: option on when p >= threshold
    # How the last feature map reaches the linear layer: "mean" (global average, InstaNAS's CNN) or "flatten" (every
    # value; with channels [] the controller is one linear layer on the pooled image, a distillation student, whose
    # onnxruntime run costs about what an empty graph's does)
    pool: str = "mean"
    hidden: List[int] = field(default_factory=list)  # widths of ReLU linear layers before the last one (an MLP student)


@dataclass
class RewardConfig:
    pos_w: float = 1.0  # a correct prediction earns R_lat * pos_w
    neg_w: float = -0.5  # a wrong prediction earns neg_w, whatever its latency
    entropy: float = 0.01  # entropy bonus weight, keeps the policy from collapsing early
    ub_start_frac: float = 0.7  # first upper bound: this x (sum of every module's latency)
    ub_end_frac: float = 0.5  # last upper bound: this x (latency of the MobileNetV2 chain)
    ub_end_ref: str = "chain"  # chain: ub_end = frac x chain (paper); span: ub_end = lb + frac x (chain - lb)
    ub_slope: float = 0.0  # 0: the paper's flat zero above ub; >0: R_lat = -ub_slope*(lat-ub)/ub there
    latency_table: str = ""  # `instanas profile` output (or a bundle manifest); relative: to cwd, else search/
    latency_compute_only: bool = False  # subtract the table's per-run overheadMs: rank paths as compiled paths run
    macs_proxy: bool = False  # use MACs as latency; recorded as method 'macs-proxy' in the manifest


@dataclass
class TrainConfig:
    mode: str = "instanas"  # instanas | static (trains only the default-option chain, the baseline)
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0
    threads: int = 0  # torch intra-op threads on CPU; 0 = torch's default
    memory_format: str = "auto"  # auto | channels_last | contiguous; auto: channels_last on CPU (1.4-1.7x faster training steps on 2 cores, bench/train_memory_format.py), contiguous on CUDA (not measured there)
    batch_size: int = 128
    lr: float = 0.1  # SGD with momentum, cosine decay per phase
    momentum: float = 0.9
    weight_decay: float = 4e-5  # MobileNetV2's value
    label_smoothing: float = 0.0
    pretrain_epochs: int = 10  # one-shot pretraining of the meta-graph (the only phase in static mode)
    pretrain_full_epochs: int = 2  # of which the first ones keep every module on
    keep_prob_end: float = 0.5  # then each module is kept with a probability annealed from 1 to this
    search_epochs: int = 4  # joint search: each is one controller epoch then one meta-graph epoch
    controller_lr: float = 1e-3  # Adam
    controller_passes: int = 1  # passes over the val split per search epoch (the val split is small)
    controller_batches: int = 0  # >0: cap controller steps per pass (smoke runs)
    finetune_epochs: int = 2  # meta-graph with the frozen greedy controller
    finetune_lr: float = 0.01


@dataclass
class ExportConfig:
    name: str = "fashion-mnist"
    version: str = "1.0.0"
    opset: int = 13  # onnxruntime-web and -node both run opset 13 fully
    golden_samples: int = 16


@dataclass
class ExperimentConfig:
    data: DataConfig = field(default_factory=DataConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


class ConfigError(ValueError):
    pass


def _merge(obj: Any, values: Dict[str, Any], where: str) -> None:
    names = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"unknown config key {where}{key!r}; valid keys: {', '.join(sorted(names))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {where}{key}: expected an object")
            _merge(current, value, f"{where}{key}.")
            continue
        setattr(obj, key, _coerce(value, current, f"{where}{key}"))


def _coerce(value: Any, current: Any, name: str) -> Any:
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"config key {name}: expected true/false, got {value!r}")
        return value
    if isinstance(current, int) and not isinstance(value, bool) and isinstance(value, (int, float)) and float(value).is_integer():
        return int(value)
    if isinstance(current, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(current, str) and isinstance(value, str):
        return value
    if isinstance(current, list) and isinstance(value, list):
        return [tuple(v) if isinstance(v, list) else v for v in value]
    raise ConfigError(f"config key {name}: expected {type(current).__name__}, got {value!r}")


def with_defaults(saved: Dict[str, Any]) -> Dict[str, Any]:
    """A config dict written by an older version (a checkpoint's), with the keys added since at their defaults:
    a key that did not exist then meant its default's behaviour (new keys default to the old behaviour), so a
    run from before it resumes. A key that no longer exists is a ConfigError."""
    cfg = ExperimentConfig()
    _merge(cfg, saved, "")
    return cfg.to_dict()


def parse_override(text: str) -> Tuple[List[str], Any]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected key.path=value")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # bare strings need no quotes on the command line
    return key.split("."), value


def read_config_file(path: str) -> Dict[str, Any]:
    """A config file's keys ($comment dropped); errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"config file {path}: invalid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a JSON object")
    data.pop("$comment", None)
    return data


def load_config(path: Optional[str] = None, overrides: Optional[List[str]] = None) -> ExperimentConfig:
    cfg = ExperimentConfig()
    if path:
        _merge(cfg, read_config_file(path), "")
    for text in overrides or []:
        keys, value = parse_override(text)
        nested: Dict[str, Any] = {keys[-1]: value}
        for k in reversed(keys[:-1]):
            nested = {k: nested}
        _merge(cfg, nested, "")
    if cfg.reward.macs_proxy and cfg.reward.latency_table:
        # The table would win silently (a search of session 8 ran on the table while asked for MACs).
        raise ConfigError(f"reward.macs_proxy=true and reward.latency_table={cfg.reward.latency_table!r} are both set: "
                          "choose one (--set reward.latency_table= clears the table)")
    # Checked here, not when the bundle is written two hours later (the bundle schema's pattern for a name).
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", cfg.export.name):
        raise ConfigError(f"export.name: {cfg.export.name!r} must be lower-case letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit, at most 64 characters")
    if not cfg.export.version:
        raise ConfigError("export.version: must not be empty")
    from .ops import list_ops  # torch, only once a config is asked for
    unknown = [o for o in cfg.space.options if o not in list_ops()]
    if unknown:
        raise ConfigError(f"space.options: unknown op(s) {', '.join(map(repr, unknown))}; valid ops: {', '.join(list_ops())}")
    return cfg
