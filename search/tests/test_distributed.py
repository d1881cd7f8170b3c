import json
import os
import subprocess
import sys
from pathlib import Path


def test_torchrun_two_cpu_ranks_train_and_export(tmp_path):
    """DistributedDataParallel on the gloo backend: two CPU processes share each epoch; rank 0 writes.
    The ranks get the environment torchrun gives them (Debian's torch 1.13 torchrun fails on Python 3.11 in
    its own argument handling, so the test starts the two processes itself)."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "instanas_search", "search", "--config", "tiny", "--out", str(out),
           "--set", "data.dataset=synthetic", "--set", "data.limit_train=0", "--set", "data.limit_eval=0",
           "--set", "data.synthetic_size=64", "--set", "train.threads=1", "--set", "train.batch_size=16",
           "--set", "data.augment=false"]
    procs = []
    for rank in range(2):
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), OMP_NUM_THREADS="1",
                   RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT="29517")
        procs.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-3000:]
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [row["phase"] for row in rows] == ["pretrain", "search", "finetune"]
    assert (out / "bundle" / "manifest.json").is_file()
