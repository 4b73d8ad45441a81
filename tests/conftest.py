import os
import sys
import tempfile
from pathlib import Path

import pytest

# As the command line does (cli.share_accelerator): on a GPU, the tests and
# the command lines they start share it instead of each taking 75% up front.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# One truth store for the session, the tests' and their command lines' (what
# they grade is computed once), and none left in the user's own cache.
_STORE = tempfile.TemporaryDirectory(prefix="bpgrade-test-store-")
os.environ["BPGRADE_STORE_DIR"] = _STORE.name

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
