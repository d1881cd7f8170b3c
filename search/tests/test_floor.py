"""bench/export_static_path.py: torch's own export of one child path, with weights read back from the bundle's
ONNX modules (BatchNorm folded back), as the floor that bench/compiled-path.ts compares compiled paths against."""
import json
import subprocess
import sys

import onnx
import pytest
import torch

from instanas_search.onnx_torch import OnnxGraph

from conftest import FIXTURE, REPO

SCRIPT = REPO / "bench" / "export_static_path.py"


@pytest.mark.parametrize("fixture", [FIXTURE, FIXTURE.parent / "tiny-distilled"])
def test_floor_reproduces_the_golden_logits_of_each_path(fixture, tmp_path):
    """tiny-distilled's provenance holds the distill config: the search config is its teacher's."""
    g = json.loads((fixture / "golden.json").read_text())
    x = torch.tensor(g["inputs"]).view(g["inputShape"])
    codes = sorted({p["code"] for p in g["paths"]})
    r = subprocess.run([sys.executable, str(SCRIPT), "--bundle", str(fixture), "--out", str(tmp_path),
                        "--paths", ",".join(codes)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert sorted(json.loads(r.stdout.strip().splitlines()[-1])) == codes
    for code in codes:
        model = onnx.load(str(tmp_path / f"{code}.onnx"))
        onnx.checker.check_model(model)
        assert not any(n.op_type == "BatchNormalization" for n in model.graph.node)  # folded again by torch
        rows = [i for i, p in enumerate(g["paths"]) if p["code"] == code]
        y = OnnxGraph(tmp_path / f"{code}.onnx")(x[rows])
        assert (y - torch.tensor(g["logits"])[rows]).abs().max() < 1e-4


def test_floor_refuses_a_path_that_does_not_fit(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "--bundle", str(FIXTURE), "--out", str(tmp_path),
                        "--paths", "123"], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "--paths: '123' does not fit" in r.stderr


def test_floor_refuses_a_checkpoint_for_fine_tuned_modules(tmp_path):
    """After distill.finetune_epochs the search checkpoint holds other weights than the bundle: --run is refused."""
    import shutil
    bundle = tmp_path / "b"
    shutil.copytree(FIXTURE.parent / "tiny-distilled", bundle)
    m = json.loads((bundle / "manifest.json").read_text())
    m["provenance"]["config"]["distill"]["finetune_epochs"] = 1
    (bundle / "manifest.json").write_text(json.dumps(m))
    r = subprocess.run([sys.executable, str(SCRIPT), "--bundle", str(bundle), "--out", str(tmp_path / "f"),
                        "--paths", json.loads((bundle / "golden.json").read_text())["paths"][0]["code"],
                        "--run", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "fine-tuned after the search" in r.stderr
