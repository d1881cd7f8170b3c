import json

import pytest
import torch

from instanas_search.cli import main
from instanas_search.train import Searcher


def test_smoke_search_improves_and_logs(tiny_cfg, tmp_path):
    tiny_cfg.train.pretrain_epochs = 3
    tiny_cfg.train.search_epochs = 2
    s = Searcher(tiny_cfg, str(tmp_path / "run"))
    log = s.run()
    assert [r["phase"] for r in log] == ["pretrain"] * 3 + ["search"] * 2 + ["finetune"]
    assert log[2]["val_acc"] > 1 / 8 + 0.25, log[2]  # the meta-graph learnt well beyond chance on 8 classes
    for key in ("loss", "train_acc", "val_acc", "val_latency", "val_paths"):
        assert key in log[0]
    assert "reward" in log[3] and "ub" in log[3] and log[3]["ub"] > log[4]["ub"]
    lines = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert len(lines) == 6 and json.loads(lines[-1])["phase"] == "finetune"


def test_resume_after_kill_is_identical(tiny_cfg, tmp_path):
    tiny_cfg.train.pretrain_epochs = 2
    full = Searcher(tiny_cfg, str(tmp_path / "a"))
    full.run()

    class Kill(Exception):
        pass

    part = Searcher(tiny_cfg, str(tmp_path / "b"))

    def stop_after_two(row):
        if row["global_epoch"] == 2:
            raise Kill()

    with pytest.raises(Kill):
        part.run(stop_after_two)
    resumed = Searcher(tiny_cfg, str(tmp_path / "b"))
    assert resumed.resume() and resumed.next == (0, 2)
    resumed.run()
    assert len(resumed.log) == len(full.log)
    for a, b in zip(full.graph.state_dict().values(), resumed.graph.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["val_acc"] for r in resumed.log] == [r["val_acc"] for r in full.log]


def test_resume_refuses_other_config(tiny_cfg, tmp_path):
    tiny_cfg.train.pretrain_epochs = 1
    tiny_cfg.train.search_epochs = 0
    tiny_cfg.train.finetune_epochs = 0
    Searcher(tiny_cfg, str(tmp_path / "r")).run()
    tiny_cfg.train.lr = 0.5
    with pytest.raises(ValueError, match="another config"):
        Searcher(tiny_cfg, str(tmp_path / "r")).resume()


def test_resume_names_the_keys_that_differ_and_lets_the_export_section_change(tiny_cfg, tmp_path):
    tiny_cfg.train.pretrain_epochs = 1
    tiny_cfg.train.search_epochs = 0
    tiny_cfg.train.finetune_epochs = 0
    Searcher(tiny_cfg, str(tmp_path / "r")).run()
    # The bundle's name or version is not something training used: an export after the run may change it.
    tiny_cfg.export.name = "renamed"
    tiny_cfg.export.version = "2.0.0"
    assert Searcher(tiny_cfg, str(tmp_path / "r")).resume()
    tiny_cfg.data.val_size = tiny_cfg.data.val_size + 1
    with pytest.raises(ValueError, match=r"another config \(data\.val_size\)"):
        Searcher(tiny_cfg, str(tmp_path / "r")).resume()


class Kill(Exception):
    pass


def run_until(searcher, phase):
    """Runs `searcher` and kills it once it has logged an epoch of `phase` (its checkpoint is written by then)."""
    def stop(row):
        if row["phase"] == phase:
            raise Kill()

    with pytest.raises(Kill):
        searcher.run(stop)


def test_resume_may_shorten_phases_not_yet_begun(tiny_cfg, tmp_path):
    tiny_cfg.train.pretrain_epochs = 1
    tiny_cfg.train.search_epochs = 1
    tiny_cfg.train.finetune_epochs = 3
    run_until(Searcher(tiny_cfg, str(tmp_path / "r")), "search")
    lr = tiny_cfg.train.finetune_lr
    tiny_cfg.train.finetune_epochs = 1
    tiny_cfg.train.finetune_lr = lr / 2  # the fine-tuning's own LR: its phase has not begun
    tiny_cfg.train.memory_format = "contiguous"  # where to run, like device and threads
    r = Searcher(tiny_cfg, str(tmp_path / "r"))
    assert r.resume() and r.resume_changes == {"finetune_epochs": [3, 1], "finetune_lr": [lr, lr / 2],
                                               "memory_format": ["auto", "contiguous"]}
    assert [row["phase"] for row in r.run()] == ["pretrain", "search", "finetune"]
    tiny_cfg.train.search_epochs = 2  # a phase that has run may not change
    with pytest.raises(ValueError, match="train.search_epochs"):
        Searcher(tiny_cfg, str(tmp_path / "r")).resume()


def test_resume_may_change_the_reward_until_the_search_begins(tiny_cfg, tmp_path):
    tiny_cfg.train.pretrain_epochs = 1
    tiny_cfg.train.search_epochs = 1
    tiny_cfg.train.finetune_epochs = 1
    run_until(Searcher(tiny_cfg, str(tmp_path / "r")), "pretrain")
    frac = tiny_cfg.reward.ub_end_frac
    tiny_cfg.reward.ub_end_frac = frac / 2  # a tighter latency bound for the search that has not begun
    r = Searcher(tiny_cfg, str(tmp_path / "r"))
    assert r.resume() and r.resume_changes == {"reward.ub_end_frac": [frac, frac / 2]}
    run_until(r, "search")
    tiny_cfg.reward.ub_end_frac = frac  # the search has run under the other bound: no longer free
    with pytest.raises(ValueError, match="another config"):
        Searcher(tiny_cfg, str(tmp_path / "r")).resume()


def test_resume_of_a_checkpoint_from_before_a_config_key_existed(tiny_cfg, tmp_path):
    """A checkpoint written before space.empty_option existed resumes (the key's default is the old behaviour);
    a run that sets the new key to another value is still refused (pretraining depends on it)."""
    tiny_cfg.train.pretrain_epochs, tiny_cfg.train.search_epochs, tiny_cfg.train.finetune_epochs = 1, 1, 0
    run_until(Searcher(tiny_cfg, str(tmp_path / "r")), "pretrain")
    ckpt = tmp_path / "r" / "checkpoint.pt"
    st = torch.load(ckpt)
    del st["config"]["space"]["empty_option"]
    torch.save(st, ckpt)
    r = Searcher(tiny_cfg, str(tmp_path / "r"))
    assert r.resume() and r.resume_changes == {}
    tiny_cfg.space.empty_option = 1
    with pytest.raises(ValueError, match="another config"):
        Searcher(tiny_cfg, str(tmp_path / "r")).resume()


TINY_SETS = ["data.dataset=synthetic", "data.limit_train=0", "data.limit_eval=0", "data.synthetic_size=160", "data.augment=false",
             "train.batch_size=32", "train.threads=1", "train.pretrain_epochs=1", "train.search_epochs=1"]


def test_from_a_phase_snapshot_reruns_only_later_phases(tmp_path, capsys):
    sets = [x for s in TINY_SETS for x in ("--set", s)]
    assert main(["search", "--config", "tiny", "--out", str(tmp_path / "a"), *sets, "--set", "train.finetune_epochs=1"]) == 0
    for phase in ("pretrain", "search", "finetune"):
        assert (tmp_path / "a" / f"after-{phase}.pt").is_file(), phase
    first = [json.loads(x) for x in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    # A longer fine-tune from the end of the search: the earlier rows are carried over, not recomputed.
    assert main(["search", "--config", "tiny", "--out", str(tmp_path / "b"), *sets, "--set", "train.finetune_epochs=2",
                 "--from", str(tmp_path / "a" / "after-search.pt")]) == 0
    second = [json.loads(x) for x in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in second] == ["pretrain", "search", "finetune", "finetune"]
    assert (tmp_path / "b" / "training.png").stat().st_size > 0  # the plot of the log, written at the end
    assert second[:2] == first[:2]
    manifest = json.loads((tmp_path / "b" / "bundle" / "manifest.json").read_text())
    assert manifest["provenance"]["config"]["resumedWithChanges"] == {"finetune_epochs": [1, 2]}
    # A phase that has run may not change, and --from never overwrites a run.
    assert main(["search", "--config", "tiny", "--out", str(tmp_path / "c"), *sets, "--set", "train.search_epochs=2",
                 "--from", str(tmp_path / "a" / "after-search.pt")]) != 0
    assert "train.search_epochs" in capsys.readouterr().err
    assert main(["search", "--config", "tiny", "--out", str(tmp_path / "b"), *sets, "--from", str(tmp_path / "a" / "after-search.pt")]) != 0
    assert "checkpoint.pt exists" in capsys.readouterr().err


def test_cli_reports_missing_dataset_clearly(tmp_path, capsys):
    rc = main(["search", "--config", "tiny", "--out", str(tmp_path / "x"), "--set", f"data.root={tmp_path}/nope"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "dataset-fashion-mnist" in err and "data.root" in err
