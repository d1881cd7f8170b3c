import gzip
import struct

import numpy as np
import pytest
import torch

from instanas_search.config import DataConfig
from instanas_search.data import DataError, augment, load_dataset, read_idx


def _write_idx(path, arr, gz=False):
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


def test_fashion_mnist_idx_plain_and_gz(tmp_path):
    rng = np.random.default_rng(0)
    x_tr, y_tr = rng.integers(0, 256, (50, 28, 28)), rng.integers(0, 10, 50)
    x_te, y_te = rng.integers(0, 256, (20, 28, 28)), rng.integers(0, 10, 20)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", x_tr, gz=True)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", y_tr)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", x_te)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", y_te, gz=True)
    ds = load_dataset(DataConfig(root=str(tmp_path), val_size=10))
    assert ds.shape == (1, 28, 28) and len(ds.train.labels) == 40 and len(ds.val.labels) == 10
    assert torch.equal(ds.test.images[:, 0], torch.from_numpy(x_te.astype(np.uint8)))
    assert sorted(ds.train.labels.tolist() + ds.val.labels.tolist()) == sorted(y_tr.tolist())


def test_truncated_idx_is_named(tmp_path):
    p = tmp_path / "t10k-images-idx3-ubyte"
    _write_idx(p, np.zeros((4, 28, 28)))
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: expected 3136 bytes"):
        read_idx(p)


@pytest.mark.parametrize("classes", [10, 100])
def test_cifar_binary_format(tmp_path, classes):
    rng = np.random.default_rng(classes)
    lb = 1 if classes == 10 else 2
    def write(name, n):
        recs = np.zeros((n, lb + 3072), np.uint8)
        recs[:, lb - 1] = rng.integers(0, classes, n)  # the fine label is the last label byte
        recs[:, lb:] = rng.integers(0, 256, (n, 3072))
        recs.tofile(tmp_path / name)
        return recs
    if classes == 10:
        parts = [write(f"data_batch_{i}.bin", 6) for i in range(1, 6)]
        test = write("test_batch.bin", 7)
    else:
        parts = [write("train.bin", 30)]
        test = write("test.bin", 7)
    ds = load_dataset(DataConfig(dataset=f"cifar{classes}", root=str(tmp_path), val_size=5))
    assert ds.shape == (3, 32, 32) and len(ds.train.labels) + len(ds.val.labels) == 30
    assert ds.test.labels.tolist() == test[:, lb - 1].tolist()
    # Channel planes are R, G, B of 32x32 each.
    assert torch.equal(ds.test.images[2, 1], torch.from_numpy(test[2, lb + 1024:lb + 2048].reshape(32, 32)))


def test_missing_cifar_files_are_listed(tmp_path):
    with pytest.raises(DataError, match="data_batch_1.bin"):
        load_dataset(DataConfig(dataset="cifar10", root=str(tmp_path)))


def test_augment_keeps_shape_and_content():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.uint8).view(2, 1, 8, 8)
    y = augment(x, 2, g)
    assert y.shape == x.shape and y.dtype == torch.uint8
    # Every output pixel is either padding (0) or a pixel of the same image.
    for i in range(2):
        assert set(y[i].flatten().tolist()) <= set(x[i].flatten().tolist()) | {0}
