"""The InstaNAS meta-graph: stem -> cells (each a set of options) -> head.

A policy is a {0,1} tensor [N, cells, options]. Each option runs only on the samples whose policy
selects it (subset compute), and a cell sums its selected options' outputs. An empty selection is
the identity when the cell keeps its shape, else the cell's default option runs.
"""
from __future__ import annotations

from typing import List, Optional

import torch
from torch import nn

from .ops import build_op, conv_bn
from .space import SpaceLayout


def _format_of(x: torch.Tensor) -> torch.memory_format:
    """The layout of x, so the sums of a cell stay in it (a mixed NCHW + NHWC add would reorder every time)."""
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


class Stem(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.body = conv_bn(in_ch, out_ch, 3, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Head(nn.Module):
    def __init__(self, in_ch: int, head_ch: int, num_classes: int):
        super().__init__()
        self.conv = conv_bn(in_ch, head_ch, 1, 1)
        self.fc = nn.Linear(head_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)  # [N, head_ch, h, w]
        return self.fc(x.mean(dim=(2, 3)))  # [N, classes]


class MetaGraph(nn.Module):
    def __init__(self, layout: SpaceLayout):
        super().__init__()
        self.layout = layout
        self.stem = Stem(layout.in_ch, layout.stem_ch, layout.stem_stride)
        self.cells = nn.ModuleList(
            nn.ModuleList(build_op(op, c.in_ch, c.out_ch, c.stride) for op in layout.options) for c in layout.cells
        )
        self.head = Head(layout.cells[-1].out_ch, layout.head_ch, layout.num_classes)
        self._preserving = [c.shape_preserving for c in layout.cells]

    @property
    def num_cells(self) -> int:
        return len(self.cells)

    @property
    def num_options(self) -> int:
        return len(self.layout.options)

    def resolve(self, policy: torch.Tensor) -> torch.Tensor:
        """Apply the empty-selection rule: the options that actually execute, [N, cells, options]."""
        policy = (policy > 0.5).to(torch.float32)
        empty = policy.sum(dim=2) == 0  # [N, cells]
        fix = torch.zeros_like(policy)
        for i, keeps in enumerate(self._preserving):
            if not keeps:
                fix[:, i, self.layout.empty_option] = empty[:, i].to(torch.float32)
        return torch.maximum(policy, fix)

    def all_on(self, n: int, device: Optional[torch.device] = None) -> torch.Tensor:
        return torch.ones(n, self.num_cells, self.num_options, device=device)

    def chain(self, n: int, device: Optional[torch.device] = None) -> torch.Tensor:
        """The MobileNetV2 chain: the default option in every cell."""
        p = torch.zeros(n, self.num_cells, self.num_options, device=device)
        p[:, :, self.layout.default_option] = 1
        return p

    def forward(self, x: torch.Tensor, policy: torch.Tensor, subset: bool = True) -> torch.Tensor:
        """x: [N, C, H, W]; policy: [N, cells, options] in {0,1}. subset=False multiplies by masks instead
        (every option on the whole batch): the reference that subset compute is tested against."""
        executed = self.resolve(policy)
        x = self.stem(x)  # [N, stem_ch, h, w]
        for i, options in enumerate(self.cells):
            x = self._cell(i, options, x, executed[:, i], subset)
        return self.head(x)  # [N, classes]

    def _cell(self, i: int, options: nn.ModuleList, x: torch.Tensor, sel: torch.Tensor, subset: bool) -> torch.Tensor:
        spec = self.layout.cells[i]
        n = x.shape[0]
        out_shape = (n, spec.out_ch, spec.out_hw[0], spec.out_hw[1])
        any_sel = sel.sum(dim=1) > 0  # [N]
        fmt = _format_of(x)
        if not subset:
            out = torch.empty(out_shape, dtype=x.dtype, device=x.device, memory_format=fmt).zero_()
            for j, op in enumerate(options):
                out = out + op(x) * sel[:, j].view(n, 1, 1, 1)
            if spec.shape_preserving:
                out = out + x * (~any_sel).to(x.dtype).view(n, 1, 1, 1)
            return out
        if spec.shape_preserving:
            out = x * (~any_sel).to(x.dtype).view(n, 1, 1, 1)  # identity rows; selected rows start at 0
        else:
            out = torch.empty(out_shape, dtype=x.dtype, device=x.device, memory_format=fmt).zero_()
        for j, op in enumerate(options):
            rows = sel[:, j].nonzero(as_tuple=True)[0]
            if rows.numel() == 0:
                continue
            if rows.numel() == n:
                out = out + op(x)
            else:
                # index_select and out-of-place index_add return NCHW: keep the subset and the sum in x's layout.
                sub = x.index_select(0, rows).contiguous(memory_format=fmt)
                out = out.index_add_(0, rows, op(sub))  # out is this cell's own tensor, never saved for backward
        return out

    def modules_for_export(self) -> List[tuple]:
        """(id, module, cell index or None, option index or None) in bundle order."""
        items: List[tuple] = [("stem", self.stem, None, None)]
        for i, options in enumerate(self.cells):
            for j, op in enumerate(options):
                items.append((f"cell{i:02d}_op{j}", op, i, j))
        items.append(("head", self.head, None, None))
        return items
