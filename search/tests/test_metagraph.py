import pytest
import torch

from instanas_search.config import load_config
from instanas_search.latency import LatencyTable, PathCost
from instanas_search.metagraph import MetaGraph
from instanas_search.space import build_layout
from instanas_search.train import module_macs


def _flat_grads(g):
    return torch.cat([p.grad.flatten() if p.grad is not None else torch.zeros(p.numel(), dtype=p.dtype) for p in g.parameters()])


def _graph(tiny_cfg):
    return MetaGraph(build_layout(tiny_cfg.space, 1, (28, 28), 8)).double()


def test_subset_compute_matches_masked_full_batch_outputs_and_gradients(tiny_cfg):
    g = _graph(tiny_cfg).eval()  # running BN statistics: per-subset batch statistics differ by design
    x = torch.randn(12, 1, 28, 28, dtype=torch.float64)
    policy = (torch.rand(12, g.num_cells, g.num_options) < 0.4).double()
    policy[0] = 0  # an empty selection everywhere: identity and default-option rules
    policy[1] = 1
    outs, grads = [], []
    for subset in (True, False):
        g.zero_grad()
        y = g(x, policy, subset=subset)
        (y * torch.arange(y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        outs.append(y.detach())
        grads.append(_flat_grads(g))
    assert torch.allclose(outs[0], outs[1], atol=1e-10)
    assert torch.allclose(grads[0], grads[1], atol=1e-9)
    assert grads[0].abs().sum() > 0


def test_empty_selection_rule(tiny_cfg):
    g = _graph(tiny_cfg)
    ex = g.resolve(torch.zeros(1, g.num_cells, g.num_options))[0]
    for i, spec in enumerate(g.layout.cells):
        expected = 0 if spec.shape_preserving else 1
        assert int(ex[i].sum()) == expected
        if not spec.shape_preserving:
            assert ex[i, g.layout.default_option] == 1


def test_empty_option_replaces_the_default_only_for_empty_shape_changing_cells(tiny_cfg):
    tiny_cfg.space.empty_option = 1
    g = _graph(tiny_cfg)
    ex = g.resolve(torch.zeros(1, g.num_cells, g.num_options))[0]
    changing = [i for i, spec in enumerate(g.layout.cells) if not spec.shape_preserving]
    assert changing
    for i, spec in enumerate(g.layout.cells):
        assert ex[i].tolist() == ([0.0, 1.0] + [0.0] * (g.num_options - 2) if i in changing else [0.0] * g.num_options)
    # A selection is kept as it is; the MobileNetV2 chain (the static baseline) still runs default_option.
    sel = torch.zeros(1, g.num_cells, g.num_options)
    sel[0, changing[0], 3] = 1
    assert g.resolve(sel)[0, changing[0]].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert (g.chain(1)[0, :, g.layout.default_option] == 1).all() and g.chain(1).sum() == g.num_cells


def test_empty_option_out_of_range_names_the_key(tiny_cfg):
    tiny_cfg.space.empty_option = 5
    with pytest.raises(ValueError, match=r"space\.empty_option: 5"):
        build_layout(tiny_cfg.space, 1, (28, 28), 8)


def test_path_cost_and_bounds(tiny_cfg):
    g = _graph(tiny_cfg).float()
    macs = module_macs(g)
    cost = PathCost(g, LatencyTable.macs_proxy(macs).table)
    assert cost.cheapest() < cost.chain() < cost.all_modules()
    all_on = cost(g.all_on(1))[0]
    assert abs(float(all_on) - cost.all_modules()) < 1e-3


def test_compute_only_table_subtracts_the_per_run_overhead(tmp_path):
    f = tmp_path / "lat.json"
    f.write_text('{"unit": "ms", "method": "m", "device": "d", "overheadMs": 0.02, '
                 '"table": {"stem": 0.025, "head": 0.05, "cell00_op0": 0.012}}')
    t = LatencyTable.from_file(str(f))
    assert t.overhead_ms == 0.02
    c = t.compute_only()
    assert c.table["stem"] == pytest.approx(0.005) and c.table["head"] == pytest.approx(0.03)
    assert c.table["cell00_op0"] == 0.0  # below the overhead (noise): clamped, never negative
    assert "overhead 0.0200 ms subtracted" in c.method
    f.write_text('{"unit": "ms", "method": "m", "device": "d", "table": {"stem": 0.025}}')
    with pytest.raises(ValueError, match="overheadMs"):
        LatencyTable.from_file(str(f)).compute_only()


def test_channels_last_gives_the_same_outputs_and_gradients_and_keeps_its_layout(tiny_cfg):
    # Training runs NHWC on CPU (train.memory_format=auto); it must compute the same function as NCHW.
    base = _graph(tiny_cfg).eval()
    nhwc = _graph(tiny_cfg).eval().to(memory_format=torch.channels_last)
    nhwc.load_state_dict(base.state_dict())
    x = torch.randn(10, 1, 28, 28, dtype=torch.float64)
    policy = (torch.rand(10, base.num_cells, base.num_options) < 0.4).double()
    policy[0] = 0  # identity and default-option rules
    outs, grads = [], []
    for g, xx in ((base, x), (nhwc, x.contiguous(memory_format=torch.channels_last))):
        y = g(xx, policy)
        (y * torch.arange(y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        outs.append(y.detach())
        grads.append(_flat_grads(g))
    assert torch.allclose(outs[0], outs[1], atol=1e-10)
    assert torch.allclose(grads[0], grads[1], atol=1e-9)
    # A cell's sum stays NHWC (no reorder per option): the stem's output and the cells' outputs keep the layout.
    h = nhwc.stem(x.contiguous(memory_format=torch.channels_last))
    ex = nhwc.resolve(policy)
    for i, options in enumerate(nhwc.cells):
        h = nhwc._cell(i, options, h, ex[:, i], True)
        if h.shape[-1] > 1:
            assert h.is_contiguous(memory_format=torch.channels_last), f"cell {i} left NHWC"
