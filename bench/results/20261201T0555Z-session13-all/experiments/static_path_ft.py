"""Session 13's question about 1.2.0: does its controller add anything over one static path trained as long?
The teacher's modules fine-tuned exactly as `distill --config fashion-mnist-distill-cheap` does (10 epochs, SGD 0.005,
seed 0, augmented training split), but with every image forced down one path (default: the cheapest legal path,
which 1.2.0 sends 97.8% of the test images down); then test top-1 with torch.
  /usr/bin/python3 bench/results/20261201T0555Z-session13-all/experiments/static_path_ft.py [--path CODE] [--epochs 10]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO / "search"))
from instanas_search.bundle_torch import BundleTorch  # noqa: E402
from instanas_search.config import DataConfig  # noqa: E402
from instanas_search.data import load_dataset, normalize  # noqa: E402
from instanas_search.export import PATH_ALPHABET  # noqa: E402
from instanas_search.finetune import _top1, finetune_modules  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--path", default="22020020002002002")
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--lr", type=float, default=0.005)
a = p.parse_args()
b = BundleTorch(str(REPO / "search" / "teachers" / "fashion-mnist-cnn"))
cells, opts = len(b.cells), b.options
mask = torch.zeros(cells, opts)
for i, ch in enumerate(a.path):
    m = PATH_ALPHABET.index(ch)
    for o in range(opts):
        mask[i, o] = float(m >> o & 1)
fixed = lambda x: mask.flatten().expand(len(x), -1)  # noqa: E731  "probabilities" 1/0: the one path, always
data = load_dataset(DataConfig(dataset="fashion-mnist", val_size=5000), 0)
data.mean, data.std = list(b.manifest["input"]["mean"]), list(b.manifest["input"]["std"])
t0 = time.time()
graph = finetune_modules(b, fixed, data, epochs=a.epochs, lr=a.lr, batch_size=256, seed=0, log=print)
x = normalize(data.test.images, data.mean, data.std)
pol = b.resolve(fixed(x))
print(json.dumps({"path": a.path, "epochs": a.epochs, "lr": a.lr, "testTop1": round(_top1(graph, x, pol, data.test.labels), 4),
                  "minutes": round((time.time() - t0) / 60, 1)}))
