"""Kernels compile once: a second process loads them from numba's on-disk cache."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # fresh processes

PROBE = """
import json, numpy as np
from lossbench import losses
from lossbench.losses import fused
y = np.linspace(0.1, 0.9, 50, dtype=np.float32)
losses.get("bce").value_and_gradient(y, y[::-1].copy(), impl="fused")
stats = fused.KERNELS["bce"].value_sum_and_gradient.stats
hits, misses = sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
print(json.dumps({"hits": hits, "misses": misses}))
"""


def _run(cache_dir) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_a_new_process_loads_compiled_kernels_instead_of_compiling(tmp_path):
    assert _run(tmp_path) == {"hits": 0, "misses": 1}  # an empty cache: compiled
    assert _run(tmp_path) == {"hits": 1, "misses": 0}  # the next process: loaded
