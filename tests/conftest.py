import os
import sys
from pathlib import Path

import pytest

# As the command line does (truth.share_accelerator): on a GPU, the tests and
# the command lines they start share it instead of each taking 75% up front.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import bpgrade  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
REFERENCE = ROOT / "solutions" / "mlp2.py"


@pytest.fixture(scope="session")
def mlp2():
    return bpgrade.load_pack("mlp2")


@pytest.fixture(scope="session")
def public_cases(mlp2):
    return bpgrade.generate_cases(mlp2)


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory):
    """The environment for running the real command line: a private compilation cache."""
    return {**os.environ, "BPGRADE_CACHE_DIR": str(tmp_path_factory.mktemp("xla"))}


@pytest.fixture(scope="session")
def bpgrade_cmd():
    return [sys.executable, "-m", "bpgrade"]
