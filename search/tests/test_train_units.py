"""Unit tests of the search's moving parts that the smoke search only exercises end to end."""
import argparse

import pytest
import torch
from torch import nn

from instanas_search.cli import _overrides, main
from instanas_search.config import ConfigError
from instanas_search.data import Split, batches
from instanas_search.ops import build_op
from instanas_search.train import Searcher, pick_device, pick_memory_format, policy_loss


def test_keep_prob_starts_at_one_and_anneals_to_keep_prob_end(tiny_cfg, tmp_path):
    t = tiny_cfg.train
    t.pretrain_epochs, t.pretrain_full_epochs, t.keep_prob_end = 4, 1, 0.5
    s = Searcher(tiny_cfg, str(tmp_path))
    assert [round(s._keep_prob(e), 4) for e in range(4)] == [1.0, 0.8333, 0.6667, 0.5]
    t.pretrain_epochs, t.pretrain_full_epochs = 2, 0  # configs/fashion-mnist.json: no all-on epoch, 0.75 then 0.5
    assert [s._keep_prob(e) for e in range(2)] == [0.75, 0.5]


def test_bounds_are_wired_as_in_the_paper(tiny_cfg, tmp_path):
    tiny_cfg.reward.ub_end_ref = "chain"
    s = Searcher(tiny_cfg, str(tmp_path))
    b, c = s.bounds, s.cost
    assert b.lb == pytest.approx(c.cheapest()) and c.cheapest() < c.chain() < c.all_modules()
    assert b.ub_start == pytest.approx(tiny_cfg.reward.ub_start_frac * c.all_modules())
    assert b.ub_end == pytest.approx(tiny_cfg.reward.ub_end_frac * c.chain())
    assert b.epochs == tiny_cfg.train.search_epochs


def _step(advantage: float, sampled: float, entropy_w: float = 0.0) -> float:
    """Gradient of the policy loss with respect to one logit, for one image, one cell, one option."""
    logit = torch.zeros(1, 1, 1, requires_grad=True)
    loss = policy_loss(torch.sigmoid(logit), torch.full((1, 1, 1), sampled), torch.tensor([advantage]), 0.8, entropy_w)
    loss.backward()
    return float(logit.grad)


def test_policy_loss_moves_towards_samples_that_beat_the_greedy_path():
    assert _step(+1.0, 1.0) < 0 and _step(+1.0, 0.0) > 0  # descent raises p(keep) if keeping did better
    assert _step(-1.0, 1.0) > 0 and _step(-1.0, 0.0) < 0  # and lowers it if keeping did worse
    assert _step(0.0, 1.0) == 0.0  # the sample did as well as the greedy path: no push
    p = torch.tensor([[[0.9]]], requires_grad=True)  # the entropy bonus pulls a confident p back towards 0.5
    policy_loss(p, torch.ones(1, 1, 1), torch.zeros(1), 0.8, 0.1).backward()
    assert float(p.grad) > 0


def test_device_flag_and_errors():
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="train.device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):  # the CLI's one-line error, not a stack trace
            pick_device("cuda")
    assert _overrides(argparse.Namespace(set=["train.lr=0.05"], device="cpu")) == ["train.lr=0.05", "train.device=cpu"]
    assert _overrides(argparse.Namespace(set=[], device=None)) == []
    with pytest.raises(SystemExit):
        main(["search", "--config", "tiny", "--out", "x", "--device", "tpu"])


def test_ddp_shards_have_equal_batch_counts_and_do_not_overlap():
    split = Split(torch.zeros(257, 1, 2, 2), torch.arange(257))
    g = [torch.Generator().manual_seed(1) for _ in range(2)]
    shards = [[lab for _, lab in batches(split, 128, True, g[r], rank=r, world=2)] for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 1  # 128 each; one sample sits this epoch out
    seen = [set(torch.cat(s).tolist()) for s in shards]
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == 256


def test_plain_block_is_two_convs_relu_then_relu6_without_residual():
    op = build_op("plain_k3", 8, 8, 1)
    kinds = [type(m) for m in op.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6))]
    assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Conv2d, nn.BatchNorm2d, nn.ReLU6]
    assert all(m.kernel_size == (3, 3) for m in op.modules() if isinstance(m, nn.Conv2d))
    op.eval()
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        for m in op.modules():  # zero the last conv: a residual block would then return x, this one returns 0
            if isinstance(m, nn.Conv2d):
                last = m
        last.weight.zero_()
        assert torch.count_nonzero(op(x) - x) > 0 and float(op(x).abs().max()) <= 6.0


def test_memory_format_auto_is_nhwc_on_cpu_and_errors_name_the_key():
    assert pick_memory_format("auto", torch.device("cpu")) == torch.channels_last
    assert pick_memory_format("auto", torch.device("cuda")) == torch.contiguous_format  # not measured on GPUs
    assert pick_memory_format("contiguous", torch.device("cpu")) == torch.contiguous_format
    with pytest.raises(ValueError, match="train.memory_format"):
        pick_memory_format("nhwc", torch.device("cpu"))


def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert main(["search", "--config", "tiny", "--out", str(out), "--resume", "--device", "cpu"]) == 1
    assert "not a readable checkpoint" in capsys.readouterr().err
    torch.save({"hello": 1}, out / "checkpoint.pt")
    assert main(["search", "--config", "tiny", "--out", str(out), "--resume", "--device", "cpu"]) == 1
    assert "not a checkpoint of this search" in capsys.readouterr().err
