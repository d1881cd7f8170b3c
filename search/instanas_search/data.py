"""Datasets as in-memory uint8 tensors: Fashion-MNIST IDX files, CIFAR binaries, and a synthetic set for tests."""
from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import torch

from .config import DataConfig

FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# Per-channel statistics of each training set, on [0,1] pixels.
STATS = {
    "fashion-mnist": ([0.2860], [0.3530]),
    "cifar10": ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
    "cifar100": ([0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762]),
    "synthetic": ([0.5], [0.25]),
}


@dataclass
class Split:
    images: torch.Tensor  # [N, C, H, W] uint8
    labels: torch.Tensor  # [N] int64


@dataclass
class Dataset:
    name: str
    labels: List[str]
    mean: List[float]
    std: List[float]
    train: Split
    val: Split
    test: Split

    @property
    def shape(self) -> Tuple[int, int, int]:
        _, c, h, w = self.train.images.shape
        return c, h, w


class DataError(RuntimeError):
    pass


def _open(path: Path):
    if path.exists():
        return open(path, "rb")
    gz = path.with_name(path.name + ".gz")
    if gz.exists():
        return gzip.open(gz, "rb")
    raise FileNotFoundError(str(path))


def read_idx(path: Path) -> np.ndarray:
    """IDX format (MNIST family): magic, dims, big-endian sizes, then the raw array."""
    with _open(path) as f:
        data = f.read()
    if len(data) < 4:
        raise DataError(f"{path}: truncated IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: expected {int(np.prod(dims))} bytes of data for shape {dims}, found {body.size}")
    return body.reshape(dims)


def load_fashion_mnist(root: str) -> Tuple[Split, Split]:
    r = Path(root)
    try:
        x_tr = read_idx(r / "train-images-idx3-ubyte")
        y_tr = read_idx(r / "train-labels-idx1-ubyte")
        x_te = read_idx(r / "t10k-images-idx3-ubyte")
        y_te = read_idx(r / "t10k-labels-idx1-ubyte")
    except FileNotFoundError as e:
        raise DataError(f"Fashion-MNIST file {e} not found (nor .gz). On Debian/Ubuntu: "
                        "`apt-get install dataset-fashion-mnist` (files go to /usr/share/datasets/fashion-mnist), "
                        "or set data.root to a folder holding the four IDX files") from None
    def split(x, y):
        return Split(torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64)))
    return split(x_tr, y_tr), split(x_te, y_te)


def read_cifar_bin(path: Path, label_bytes: int, label_index: int) -> Split:
    """CIFAR binary version: records of label byte(s) then 3072 bytes (R, G, B planes of 32x32)."""
    raw = np.fromfile(path, dtype=np.uint8)
    rec = label_bytes + 3072
    if raw.size == 0 or raw.size % rec:
        raise DataError(f"{path}: size {raw.size} is not a multiple of the {rec}-byte CIFAR record")
    raw = raw.reshape(-1, rec)
    labels = torch.from_numpy(raw[:, label_index].astype(np.int64))
    images = torch.from_numpy(raw[:, label_bytes:].reshape(-1, 3, 32, 32).copy())
    return Split(images, labels)


def load_cifar(root: str, classes: int) -> Tuple[Split, Split, List[str]]:
    r = Path(root)
    if classes == 10:
        train_files = [r / f"data_batch_{i}.bin" for i in range(1, 6)]
        test_files = [r / "test_batch.bin"]
        lb, li = 1, 0
        meta = r / "batches.meta.txt"
    else:
        train_files, test_files = [r / "train.bin"], [r / "test.bin"]
        lb, li = 2, 1  # coarse label, fine label: we train on the fine one
        meta = r / "fine_label_names.txt"
    missing = [str(p) for p in train_files + test_files if not p.is_file()]
    if missing:
        raise DataError(f"CIFAR-{classes} binary files missing: {', '.join(missing)}; set data.root to the folder "
                        f"holding the binary version (cifar-{classes}-batches-bin)")
    parts = [read_cifar_bin(p, lb, li) for p in train_files]
    train = Split(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]))
    test = read_cifar_bin(test_files[0], lb, li)
    if meta.is_file():
        names = [line.strip() for line in meta.read_text().splitlines() if line.strip()]
    else:
        names = CIFAR10_LABELS if classes == 10 else [f"class_{i}" for i in range(100)]
    return train, test, names


def synthetic(n: int, seed: int) -> Split:
    """Learnable toy data: class k is a bright square at one of 4 positions with one of 2 sizes (28x28, 1 channel)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 8, (n,), generator=g)
    images = (torch.rand(n, 1, 28, 28, generator=g) * 60).to(torch.uint8)
    for i, k in enumerate(labels.tolist()):
        pos, size = k % 4, 6 + 6 * (k // 4)
        y0, x0 = (2 + 14 * (pos // 2)), (2 + 14 * (pos % 2))
        images[i, 0, y0:y0 + size, x0:x0 + size] = 220
    return Split(images, labels)


def _limit(s: Split, n: int) -> Split:
    return Split(s.images[:n], s.labels[:n]) if n > 0 else s


def load_dataset(cfg: DataConfig, seed: int = 0) -> Dataset:
    name = cfg.dataset
    if name == "fashion-mnist":
        train, test = load_fashion_mnist(cfg.root)
        labels = FASHION_LABELS
    elif name in ("cifar10", "cifar100"):
        train, test, labels = load_cifar(cfg.root, 10 if name == "cifar10" else 100)
    elif name == "synthetic":
        train, test = synthetic(cfg.synthetic_size * 2, seed), synthetic(cfg.synthetic_size, seed + 1)
        labels = [f"class_{i}" for i in range(8)]
    else:
        raise DataError(f"data.dataset: unknown dataset {name!r}; valid: fashion-mnist, cifar10, cifar100, synthetic")
    n_val = min(cfg.val_size, len(train.labels) // 5) if name == "synthetic" else cfg.val_size
    if not 0 < n_val < len(train.labels):
        raise DataError(f"data.val_size: {cfg.val_size} must be between 1 and {len(train.labels) - 1}")
    # A fixed permutation (seed 1234, independent of the run's seed) so every run holds out the same images.
    perm = torch.randperm(len(train.labels), generator=torch.Generator().manual_seed(1234))
    val = Split(train.images[perm[:n_val]], train.labels[perm[:n_val]])
    train = Split(train.images[perm[n_val:]], train.labels[perm[n_val:]])
    mean, std = STATS[name]
    return Dataset(name, labels, mean, std, _limit(train, cfg.limit_train), _limit(val, cfg.limit_eval),
                   _limit(test, cfg.limit_eval))


def normalize(images: torch.Tensor, mean: List[float], std: List[float]) -> torch.Tensor:
    x = images.to(torch.float32) / 255.0
    m = torch.tensor(mean, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def augment(images: torch.Tensor, pad: int, g: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding, and random horizontal flip, vectorised over the batch (uint8 in, uint8 out)."""
    n, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=g)
    flip = torch.rand(n, generator=g) < 0.5
    rows = oy[:, None] + torch.arange(h)[None]  # [N, H]
    cols = ox[:, None] + torch.arange(w)[None]  # [N, W]
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    idx_n = torch.arange(n)[:, None, None, None]
    idx_c = torch.arange(c)[None, :, None, None]
    return padded[idx_n, idx_c, rows[:, None, :, None], cols[:, None, None, :]]


def batches(split: Split, batch_size: int, shuffle: bool, g: Optional[torch.Generator] = None,
            rank: int = 0, world: int = 1):
    n = len(split.labels)
    order = torch.randperm(n, generator=g) if shuffle else torch.arange(n)
    # Each DDP rank takes its own share, all shares of one length (the last n % world samples of the order sit
    # out this epoch): ranks with different batch counts would wait for each other's all-reduce forever.
    order = order[:n - n % world][rank::world]
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        yield split.images[idx], split.labels[idx]
