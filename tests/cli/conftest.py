import os
import subprocess

import pytest


def _loom_bin():
    path = os.environ.get("LOOM_BIN")
    if not path:
        pytest.fail("LOOM_BIN is not set; run through ctest (make test)")
    return path


@pytest.fixture
def loom():
    """Runs `loom ARGS...` and returns the CompletedProcess (never raises on exit status)."""

    def run(*args, timeout=120):
        return subprocess.run([_loom_bin(), *map(str, args)], capture_output=True, text=True,
                              timeout=timeout)

    return run


@pytest.fixture
def shared_dir():
    d = os.environ.get("LOOM_SHARED_DIR")
    if not d or not os.path.isdir(d):
        pytest.fail("LOOM_SHARED_DIR does not point at ../shared")
    return d


@pytest.fixture
def gemma3_gguf():
    p = os.environ.get("LOOM_TEST_GGUF")
    if not p or not os.path.exists(p):
        pytest.fail("LOOM_TEST_GGUF is not set; make test sets it from scripts/models.sh")
    return p
