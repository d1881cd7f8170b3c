import json

import pytest
import torch

from instanas_search.cli import main
from instanas_search.export import ExportError, validate_manifest, verify_with_runtime

from conftest import FIXTURE


def _check_golden_paths(manifest, golden):
    """Each golden path follows from its controller probabilities by the manifest's rule (threshold, identity where
    the shape allows, else defaultOption), and its code spells the executed options; returns the paths."""
    cells = manifest["graph"]["cells"]
    thr = manifest["controller"]["threshold"]
    alphabet = "0123456789abcdefghijklmnopqrstuv"
    for probs, path, logits, label in zip(golden["controllerProbs"], golden["paths"], golden["logits"], golden["labels"]):
        off = 0
        for i, cell in enumerate(cells):
            k = len(cell["options"])
            sel = [j for j in range(k) if probs[off + j] >= thr]
            off += k
            same = cell["inputShape"][1:] == cell["outputShape"][1:]
            expected = sel if sel else ([] if same else [cell["defaultOption"]])
            assert path["cells"][i] == expected
            assert path["code"][i] == alphabet[sum(1 << j for j in expected)]
        assert max(range(len(logits)), key=logits.__getitem__) == label
    return golden["paths"]


def test_committed_fixture_is_valid_and_its_golden_is_consistent():
    manifest = json.loads((FIXTURE / "manifest.json").read_text())
    validate_manifest(manifest)
    golden = json.loads((FIXTURE / manifest["golden"]).read_text())
    assert len(golden["inputs"]) == golden["inputShape"][0] >= 16
    assert len({p["code"] for p in golden["paths"]}) >= 10  # the fixture exercises many paths
    _check_golden_paths(manifest, golden)


def test_empty_option_is_exported_as_the_manifests_default_and_the_runtime_agrees(tmp_path):
    """space.empty_option=1: a shape-changing cell with nothing selected runs option 1 in torch, the manifest says
    so (defaultOption), and the TypeScript runtime (when built) reproduces the golden paths and logits."""
    out = tmp_path / "tiny"
    assert main(["export", "--config", "tiny", "--random", "--set", "space.empty_option=1", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert {c["defaultOption"] for c in manifest["graph"]["cells"]} == {1}
    golden = json.loads((out / "golden.json").read_text())
    paths = _check_golden_paths(manifest, golden)
    changing = [i for i, c in enumerate(manifest["graph"]["cells"]) if c["inputShape"][1:] != c["outputShape"][1:]]
    probs_off = [[all(p < manifest["controller"]["threshold"] for p in _cell_probs(manifest, pr, i)) for i in changing]
                 for pr in golden["controllerProbs"]]
    # The rule is exercised: some golden input selects nothing in a shape-changing cell, and option 1 runs there.
    hits = [(r, i) for r, row in enumerate(probs_off) for i, off in zip(changing, row) if off]
    assert hits and all(paths[r]["cells"][i] == [1] for r, i in hits)
    report = verify_with_runtime(str(out))
    if report is not None:  # None: the runtime is not built here (CI builds it before pytest)
        assert report.splitlines()[-1] == "OK" and "paths:       0 mismatches" in report, report


def _cell_probs(manifest, probs, cell):
    start = sum(len(c["options"]) for c in manifest["graph"]["cells"][:cell])
    return probs[start:start + len(manifest["graph"]["cells"][cell]["options"])]


def test_random_export_reproduces_the_committed_golden(tmp_path):
    """The same command, seed and torch give the same fixture: the goldens both test suites read are reproducible."""
    manifest = json.loads((FIXTURE / "manifest.json").read_text())
    out = tmp_path / "tiny"
    assert main(["export", "--config", "tiny", "--random", "--out", str(out)]) == 0
    new = json.loads((out / "golden.json").read_text())
    old = json.loads((FIXTURE / "golden.json").read_text())
    assert [p["code"] for p in new["paths"]] == [p["code"] for p in old["paths"]]
    assert torch.allclose(torch.tensor(new["logits"]), torch.tensor(old["logits"]), atol=1e-5)
    assert torch.allclose(torch.tensor(new["inputs"]), torch.tensor(old["inputs"]), atol=1e-6)
    fresh = json.loads((out / "manifest.json").read_text())
    assert fresh["graph"]["cells"][0]["options"][0]["macs"] == manifest["graph"]["cells"][0]["options"][0]["macs"]


def test_manifest_validation_names_the_field():
    manifest = json.loads((FIXTURE / "manifest.json").read_text())
    del manifest["graph"]["cells"][1]["options"][2]["file"]
    with pytest.raises(ExportError, match=r"/graph/cells/1/options/2: 'file' is a required property"):
        validate_manifest(manifest)


def test_static_export_of_trained_smoke_run(tiny_cfg, tmp_path):
    from instanas_search.cli import _export_from
    from instanas_search.train import Searcher
    tiny_cfg.train.mode = "static"
    tiny_cfg.train.pretrain_epochs = 1
    s = Searcher(tiny_cfg, str(tmp_path / "run"))
    s.run()
    assert _export_from(s, tiny_cfg, str(tmp_path / "b"), "test") == 0
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert m["kind"] == "static" and "controller" not in m
    assert all(len(c["options"]) == 1 for c in m["graph"]["cells"])
    assert m["accuracy"]["split"] == "test" and 0 <= m["accuracy"]["top1"] <= 1
    g = json.loads((tmp_path / "b" / "golden.json").read_text())
    assert {p["code"] for p in g["paths"]} == {"1" * len(m["graph"]["cells"])}  # option 0 of each cell: the only one


def test_static_golden_paths_name_the_bundles_own_option_whatever_the_chain_option(tiny_cfg, tmp_path):
    from instanas_search.cli import _export_from
    from instanas_search.train import Searcher
    tiny_cfg.train.mode = "static"
    tiny_cfg.train.pretrain_epochs = 0
    tiny_cfg.space.default_option = 1  # the chain runs option 1; the static bundle exports it as its option 0
    s = Searcher(tiny_cfg, str(tmp_path / "run"))
    s.run()
    assert _export_from(s, tiny_cfg, str(tmp_path / "b"), "test") == 0
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    g = json.loads((tmp_path / "b" / "golden.json").read_text())
    assert all(c["defaultOption"] == 0 and len(c["options"]) == 1 for c in m["graph"]["cells"])
    assert all(p["code"] == "1" * len(m["graph"]["cells"]) and p["cells"] == [[0]] * len(m["graph"]["cells"]) for p in g["paths"])


def test_instanas_export_lists_hot_paths_from_the_validation_split(tiny_cfg, tmp_path):
    from instanas_search.cli import _export_from
    from instanas_search.data import normalize
    from instanas_search.export import hot_paths
    from instanas_search.train import Searcher
    tiny_cfg.train.pretrain_epochs, tiny_cfg.train.search_epochs, tiny_cfg.train.finetune_epochs = 1, 0, 0
    s = Searcher(tiny_cfg, str(tmp_path / "run"))
    s.run()
    assert _export_from(s, tiny_cfg, str(tmp_path / "b"), "test") == 0
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    hot = m["hotPaths"]
    val = normalize(s.data.val.images, s.data.mean, s.data.std)
    assert hot == hot_paths(s.graph, s.controller, val, tiny_cfg.controller.threshold)
    shares = [h["share"] for h in hot]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1 + 1e-6
    # Counted independently: the share of the top path is its frequency among the greedy paths of the val split.
    from instanas_search.export import path_code
    with torch.no_grad():
        ex = s.graph.resolve(s.greedy_policy(val))
    codes = [path_code(e) for e in ex]
    assert hot[0]["share"] == pytest.approx(codes.count(hot[0]["code"]) / len(codes), abs=1e-6)
    bad = dict(m, hotPaths=[{"code": hot[0]["code"], "share": 1.5}])
    with pytest.raises(ExportError, match=r"/hotPaths/0/share"):
        validate_manifest(bad)


def test_a_failed_export_leaves_the_previous_bundle_whole_and_a_good_one_keeps_other_files(tmp_path, monkeypatch):
    """Deleting the old modules first used to leave a folder that mixed two bundles when an export failed."""
    import instanas_search.export as export

    out = tmp_path / "tiny"
    assert main(["export", "--config", "tiny", "--random", "--out", str(out)]) == 0
    (out / "MODEL.md").write_text("card")
    before = {f.name: f.read_bytes() for f in out.iterdir()}

    def refuse(manifest, where):
        raise ExportError(f"{where}: refused (test)")

    monkeypatch.setattr(export, "validate_manifest", refuse)
    assert main(["export", "--config", "tiny", "--random", "--out", str(out)]) == 1
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before  # untouched, card included
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]  # no staging folder left behind
    monkeypatch.undo()
    assert main(["export", "--config", "tiny", "--random", "--set", "export.version=0.0.2", "--out", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["version"] == "0.0.2"
    assert (out / "MODEL.md").read_text() == "card"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]
