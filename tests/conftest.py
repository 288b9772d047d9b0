"""The suite's settings (one BLAS thread, seeded hypothesis) and the finished runs made once
per session for the tests that read them (``show``, ``report``, ``compare``, damaged
copies); the helpers the tests share are in `helpers`."""

import os
from pathlib import Path

import pytest
from helpers import FAST, invoke
from hypothesis import settings
from threadpoolctl import threadpool_limits

# one BLAS thread per test process: xdist already runs a process per core, and results must
# not depend on BLAS threads anyway (a fresh venv's BLAS may use any number)
threadpool_limits(1, user_api="blas")

# property tests seeded like the rest: the same examples on every run, here and in CI (an
# unseeded run once failed CI on an example no run here had drawn); what exploring finds is
# kept as an @example. HYPOTHESIS_PROFILE=explore draws fresh examples.
settings.register_profile("seeded", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "seeded"))


def _made(base: Path, args, text: str | None = None) -> Path:
    if text is not None:
        (base / "c.yaml").write_text(text)
    done = invoke(["run", *args, "--out", base / "out", "--quiet"], base)
    assert done.exit_code == 0, done.output
    return next((base / "out").iterdir())


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """A finished run of `FAST` (read it; copy it to change it: `copy_of`)."""
    return _made(tmp_path_factory.mktemp("small"), ["c.yaml"], FAST)


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory) -> Path:
    """A finished ``lossbench run --quick`` of the embedded default: every experiment kind
    and a timing section (read it; copy it to change it: `copy_of`)."""
    return _made(tmp_path_factory.mktemp("quick"), ["--quick"])
