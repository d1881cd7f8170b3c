"""Search-space layout: which cells exist, their shapes, and the options each offers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from .config import SpaceConfig


def make_divisible(v: float, divisor: int = 8) -> int:
    # Same rounding as MobileNetV2: channel counts stay multiples of 8 and never drop >10%.
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@dataclass(frozen=True)
class CellSpec:
    index: int
    in_ch: int
    out_ch: int
    stride: int
    in_hw: Tuple[int, int]
    out_hw: Tuple[int, int]

    @property
    def shape_preserving(self) -> bool:
        return self.stride == 1 and self.in_ch == self.out_ch


@dataclass(frozen=True)
class SpaceLayout:
    stem_ch: int
    stem_stride: int
    stem_hw: Tuple[int, int]
    cells: Tuple[CellSpec, ...]
    head_ch: int
    num_classes: int
    in_ch: int
    in_hw: Tuple[int, int]
    options: Tuple[str, ...]
    default_option: int  # the MobileNetV2 chain's option (the static baseline runs it in every cell)
    empty_option: int  # runs in a shape-changing cell with nothing selected


def _down(hw: Tuple[int, int], stride: int) -> Tuple[int, int]:
    # Convs use padding k//2, so a stride-s conv maps n -> ceil(n / s).
    return (-(-hw[0] // stride), -(-hw[1] // stride))


def build_layout(cfg: SpaceConfig, in_ch: int, in_hw: Tuple[int, int], num_classes: int) -> SpaceLayout:
    if not cfg.options:
        raise ValueError("space.options: at least one option is needed")
    if not 0 <= cfg.default_option < len(cfg.options):
        raise ValueError(f"space.default_option: {cfg.default_option} is not an index into {len(cfg.options)} options")
    if not -1 <= cfg.empty_option < len(cfg.options):
        raise ValueError(f"space.empty_option: {cfg.empty_option} is not -1 (default_option) or an index into "
                         f"{len(cfg.options)} options")
    w = cfg.width_mult
    stem_ch = make_divisible(cfg.stem_channels * w)
    hw = _down(in_hw, cfg.stem_stride)
    stem_hw = hw
    cells: List[CellSpec] = []
    c_in = stem_ch
    for t, c, n, s in cfg.stages:
        c_out = make_divisible(c * w)
        for i in range(n):
            stride = s if i == 0 else 1
            out_hw = _down(hw, stride)
            cells.append(CellSpec(len(cells), c_in, c_out, stride, hw, out_hw))
            c_in, hw = c_out, out_hw
    head_ch = make_divisible(cfg.head_channels * (w if cfg.head_scale_with_width else max(1.0, w)))
    return SpaceLayout(stem_ch, cfg.stem_stride, stem_hw, tuple(cells), head_ch, num_classes, in_ch, in_hw,
                       tuple(cfg.options), cfg.default_option,
                       cfg.default_option if cfg.empty_option < 0 else cfg.empty_option)
