"""The bundle read back through torch (onnx_torch, bundle_torch) and controller distillation (distill)."""
import json
import shutil

import pytest
import torch

from instanas_search.bundle_torch import BundleError, BundleTorch
from instanas_search.config import ConfigError, ControllerConfig
from instanas_search.controller import Controller
from instanas_search.distill import DistillExperiment, load_distill_config, run_distill
from instanas_search.export import ExportError, validate_manifest
from instanas_search.onnx_torch import OnnxGraph, OnnxTorchError

from conftest import FIXTURE, REPO


@pytest.mark.parametrize("fixture", [FIXTURE, FIXTURE.parent / "tiny-distilled"])
def test_bundle_torch_reproduces_the_fixture_golden(fixture):
    """The same numbers the TypeScript runtime checks (test/fixtures/*/golden.json), computed by torch from the
    ONNX graphs alone: controller probabilities, every path code, and the logits. tiny's golden file came from the
    exporter's torch modules, tiny-distilled's from this reader (its controller evaluated in JS by the runtime)."""
    b = BundleTorch(str(fixture))
    g = json.loads((fixture / "golden.json").read_text())
    x = torch.tensor(g["inputs"]).view(g["inputShape"])
    probs = b.controller(x)
    assert (probs - torch.tensor(g["controllerProbs"])).abs().max() < 1e-5
    ex = b.resolve(probs)
    assert b.path_codes(ex) == [p["code"] for p in g["paths"]]
    assert b.path_cells(ex) == [p["cells"] for p in g["paths"]]
    assert len(set(b.path_codes(ex))) > 1  # the fixture's inputs take several paths: grouping is exercised
    assert (b.logits(x, ex) - torch.tensor(g["logits"])).abs().max() < 1e-4


def test_bundle_torch_refuses_what_it_cannot_read(tmp_path):
    static = REPO / "models" / "fashion-mnist-mobilenetv2"
    with pytest.raises(BundleError, match="'static'"):
        BundleTorch(str(static))
    with pytest.raises(BundleError, match="cannot read the manifest"):
        BundleTorch(str(tmp_path))


def test_onnx_graph_names_an_unsupported_op(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    m = helper.make_model(helper.make_graph([helper.make_node("Tanh", ["x"], ["y"])], "g", [x], [y]))
    onnx.save(m, str(tmp_path / "tanh.onnx"))
    with pytest.raises(OnnxTorchError, match="op Tanh is not supported; supported: .*Conv"):
        OnnxGraph(tmp_path / "tanh.onnx")


@pytest.mark.parametrize("channels,size", [([], 7), ([8], 14), ([4, 8], 0)])
def test_flatten_controller_shapes(channels, size):
    c = Controller(ControllerConfig(input_size=size, channels=channels, pool="flatten"), 1, (28, 28), 17, 5)
    p = c(torch.randn(3, 1, 28, 28))
    assert p.shape == (3, 85) and ((p > 0) & (p < 1)).all()
    with pytest.raises(ValueError, match="controller.pool"):
        Controller(ControllerConfig(pool="max"), 1, (28, 28), 17, 5)


def _cfg(teacher, epochs=4):
    cfg = DistillExperiment()
    cfg.data.dataset, cfg.data.synthetic_size = "synthetic", 400
    cfg.distill.teacher, cfg.distill.epochs, cfg.distill.batch_size, cfg.distill.threads = str(teacher), epochs, 32, 1
    cfg.distill.lr = 0.05
    cfg.export.name = "tiny-distilled"
    return cfg


def test_distill_writes_a_bundle_whose_student_follows_the_teacher(tmp_path):
    teacher = tmp_path / "teacher"
    shutil.copytree(FIXTURE, teacher)
    out = tmp_path / "student"
    out.mkdir()
    (out / "MODEL.md").write_text("kept")  # a card beside the bundle survives, as with export
    lines = []
    m = run_distill(_cfg(teacher), str(out), "test", log=lines.append)
    validate_manifest(m)
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == m and m["name"] == "tiny-distilled" and (out / "MODEL.md").read_text() == "kept"
    assert m["provenance"]["distilledFrom"]["name"] == "tiny"
    assert "controller" not in m["latency"]["table"]  # the teacher's entry timed another graph
    assert m["controller"]["params"] == (196 * 16 + 16) + (16 * 25 + 25)  # the default student: 14x14 -> 16 -> 25
    assert "MLP 16 on the image pooled to 14" in m["description"]
    # The modules are the teacher's, byte for byte; only the controller changed.
    for f in teacher.glob("cell*.onnx"):
        assert (out / f.name).read_bytes() == f.read_bytes()
    assert (out / "controller.onnx").read_bytes() != (teacher / "controller.onnx").read_bytes()
    # The student learns the teacher's decisions: the loss against them falls (the random fixture teacher's paths
    # are close to noise on 80 validation images, so whole-path agreement is too coarse to show it here).
    epochs = [json.loads(s) for s in lines if '"epoch"' in s]
    assert len(epochs) == 4 and epochs[-1]["loss"] < 0.6 * epochs[0]["loss"]
    # The new golden file is what torch computes from the new bundle's graphs.
    b = BundleTorch(str(out))
    g = json.loads((out / "golden.json").read_text())
    x = torch.tensor(g["inputs"]).view(g["inputShape"])
    assert b.path_codes(b.resolve(b.controller(x))) == [p["code"] for p in g["paths"]]
    assert (b.logits(x, b.resolve(b.controller(x))) - torch.tensor(g["logits"])).abs().max() < 1e-5


def test_distill_refusals(tmp_path):
    lines = []
    with pytest.raises(ExportError, match="folder of its own"):
        run_distill(_cfg(FIXTURE, epochs=1), str(FIXTURE), "test", log=lines.append)
    assert lines == []  # refused before any training
    with pytest.raises(ConfigError, match="not a bundle folder"):
        run_distill(_cfg(tmp_path, epochs=1), str(tmp_path / "out"), "test", log=lambda s: None)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"distill": {"epoch": 3}}))
    with pytest.raises(ConfigError, match="unknown config key distill.'epoch'"):
        load_distill_config(str(bad))
    bad.write_text(json.dumps({"student": {"pool": "max"}}))
    with pytest.raises(ConfigError, match="student.pool"):
        load_distill_config(str(bad))
    for name in ("fashion-mnist-distill", "fashion-mnist-distill-cheap"):
        shipped = load_distill_config(str(REPO / "search" / "configs" / f"{name}.json"))
        assert shipped.student.channels == [] and shipped.student.pool == "flatten" and shipped.student.hidden == [16]
        assert (REPO / "search" / shipped.distill.teacher / "manifest.json").is_file()  # the shipped bundle's teacher
    # The default bundle was made by the config file that says so (its manifest records the resolved config).
    made = json.loads((REPO / "models" / "fashion-mnist" / "manifest.json").read_text())["provenance"]["config"]
    assert made == shipped.to_dict()


def test_ood_images_are_flat_levels_and_noise_in_the_requested_share():
    from instanas_search.distill import _ood
    images = torch.zeros(40, 1, 28, 28, dtype=torch.uint8)
    out = _ood(images, 0.25, torch.Generator().manual_seed(0))
    assert out.shape == (10, 1, 28, 28) and out.dtype == torch.uint8
    flat = [bool((img == img.flatten()[0]).all()) for img in out]
    assert flat == [True, False] * 5  # even rows one grey level, odd rows noise
    assert len(_ood(images, 0.0, torch.Generator())) == 0

    
def test_distill_config_checks(tmp_path):
    bad = tmp_path / "bad.json"
    for body, match in [({"distill": {"ood_fraction": 1.5}}, "distill.ood_fraction"),
                        ({"distill": {"batch_size": 0}}, "distill.batch_size"),
                        ({"distill": {"lr": 0}}, "distill.lr"),
                        ({"student": {"hidden": [0]}}, "student.hidden"),
                        ({"data": {"augment": False}}, "data.augment: distill augments per distill.augment")]:
        bad.write_text(json.dumps(body))
        with pytest.raises(ConfigError, match=match):
            load_distill_config(str(bad))


@pytest.mark.parametrize("bar", ["none", "median"])
def test_cheapest_agreeing_picks_the_cheapest_candidate_with_the_teachers_answer(bar):
    from instanas_search.targets import cheapest_agreeing, top_paths
    b = BundleTorch(str(FIXTURE))
    g = json.loads((FIXTURE / "golden.json").read_text())
    x = torch.cat([torch.tensor(g["inputs"]).view(g["inputShape"]), torch.randn(60, *g["inputShape"][1:])])
    teacher = b.resolve(b.controller(x))
    cands = top_paths(b, teacher, 4)
    assert len(cands) == min(4, len(set(b.path_codes(teacher))))
    pred = b.logits(x, teacher).argmax(1)
    # probs[n][k]: candidate k's probability for row n's teacher class
    probs = [[float(b.logits(x[n:n + 1], cands[k:k + 1]).softmax(1)[0, pred[n]]) for k in range(len(cands))]
             for n in range(len(x))]
    # "median": a bar that some agreeing candidates pass and some do not, so the probability test is exercised
    conf = 0.0 if bar == "none" else float(torch.tensor(probs).median())
    target = cheapest_agreeing(b, x, teacher, cands, conf)
    cand_codes = b.path_codes(cands)
    cost_t, cost_c = b.latency(teacher), b.latency(cands)
    moved = 0
    for n, code in enumerate(b.path_codes(target)):
        # Brute force: the cheapest candidate (cheaper than the teacher's path) that gives the teacher's answer.
        agreeing = [k for k in range(len(cands)) if cost_c[k] < cost_t[n] and probs[n][k] >= conf
                    and int(b.logits(x[n:n + 1], cands[k:k + 1]).argmax(1)) == int(pred[n])]
        want = cand_codes[min(agreeing, key=lambda k: cost_c[k])] if agreeing else b.path_codes(teacher[n:n + 1])[0]
        assert code == want
        moved += bool(agreeing)
    assert moved > 0  # the fixture's random teacher leaves cheaper agreeing paths: the search above is exercised
    assert (b.latency(target) <= cost_t).all()
    if bar == "median":
        assert moved < len(x) and moved < sum(1 for n in range(len(x)) if any(
            cost_c[k] < cost_t[n] and int(b.logits(x[n:n + 1], cands[k:k + 1]).argmax(1)) == int(pred[n])
            for k in range(len(cands))))  # the bar held back some rows that would move without it


def test_distill_to_cheapest_agreeing_targets(tmp_path):
    cfg = _cfg(FIXTURE, epochs=3)
    cfg.distill.target, cfg.distill.augment, cfg.distill.candidates = "cheapest-agreeing", False, 3
    lines = []
    m = run_distill(cfg, str(tmp_path / "out"), "test", log=lines.append)
    validate_manifest(m)
    t = json.loads(next(s for s in lines if '"targets"' in s))
    assert len(t["candidates"]) == 3 and t["meanLatencyMs"]["target"] <= t["meanLatencyMs"]["teacher"]
    assert 0 < t["movedOffTeacherPath"] <= 1
    assert m["provenance"]["config"]["distill"]["target"] == "cheapest-agreeing"


def test_cheapest_agreeing_config_checks(tmp_path):
    bad = tmp_path / "bad.json"
    for body, match in [({"distill": {"target": "fastest"}}, "distill.target: 'fastest' is not one of"),
                        ({"distill": {"target": "cheapest-agreeing"}}, "set distill.augment to false"),
                        ({"distill": {"candidates": 0, "augment": False}}, "distill.candidates"),
                        ({"distill": {"min_confidence": 2}}, "distill.min_confidence"),
                        ({"distill": {"finetune_epochs": -1}}, "distill.finetune_epochs"),
                        ({"distill": {"finetune_lr": 0}}, "distill.finetune_lr")]:
        bad.write_text(json.dumps(body))
        with pytest.raises(ConfigError, match=match):
            load_distill_config(str(bad))


def test_metagraph_from_bundle_computes_the_bundles_logits():
    from instanas_search.bundle_metagraph import metagraph_from_bundle
    b = BundleTorch(str(FIXTURE))
    g = json.loads((FIXTURE / "golden.json").read_text())
    x = torch.tensor(g["inputs"]).view(g["inputShape"])
    ex = b.resolve(b.controller(x))
    with torch.no_grad():
        y = metagraph_from_bundle(FIXTURE)(x, ex)
    assert (y - torch.tensor(g["logits"])).abs().max() < 1e-4


def test_distill_with_finetuning_writes_tuned_modules_that_torch_reads_back(tmp_path):
    cfg = _cfg(FIXTURE, epochs=2)
    cfg.distill.finetune_epochs, cfg.distill.finetune_lr = 2, 0.05
    lines = []
    m = run_distill(cfg, str(tmp_path / "out"), "test", log=lines.append)
    validate_manifest(m)
    out = tmp_path / "out"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the tuned staging folder is gone
    assert "modules fine-tuned 2 epochs" in m["description"]
    tuned = [json.loads(s) for s in lines if '"finetuneEpoch"' in s]
    assert [t["finetuneEpoch"] for t in tuned] == [0, 1, 2] and tuned[-1]["loss"] > 0
    changed = [f.name for f in FIXTURE.glob("cell*.onnx") if (out / f.name).read_bytes() != f.read_bytes()]
    assert changed  # the modules the student's paths use were trained
    # The golden file is what torch computes from the written (tuned) graphs, and the card says what was done.
    b = BundleTorch(str(out))
    g = json.loads((out / "golden.json").read_text())
    x = torch.tensor(g["inputs"]).view(g["inputShape"])
    assert (b.logits(x, b.resolve(b.controller(x))) - torch.tensor(g["logits"])).abs().max() < 1e-5
    from instanas_search.modelcard import _distilled_lines
    assert "fine-tuned here 2 epochs" in " ".join(_distilled_lines(m["provenance"]))
