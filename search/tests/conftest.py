import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from instanas_search.config import load_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "test" / "fixtures" / "tiny"


@pytest.fixture
def tiny_cfg():
    """The tiny space on the synthetic dataset: no files needed, seconds to train."""
    return load_config(str(REPO / "search" / "configs" / "tiny.json"),
                       ["data.dataset=synthetic", "data.limit_train=0", "data.limit_eval=0", "data.synthetic_size=160", "data.augment=false",
                        "train.batch_size=32", "train.threads=1"])


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
