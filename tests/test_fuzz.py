"""The promise itself, for settings and whole config files drawn at random (hypothesis): every
draw is run (exit 0) or refused in one line (exit 2), never a traceback, and a refused run
leaves no directory. Each draw is a whole run: the slow lane."""

import json
import time

import pytest
import yaml
from helpers import FAST, assert_refused, invoke
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

PATHS = [
    "name", "seed", "trials", "experiments.0.kind", "experiments.0.losses",
    "experiments.0.predictions", "experiments.0.trials", "experiments.0.datasets",
    "experiments.0.fit", "experiments.0.fit.tol", "experiments.0.statistic",
    "experiments.0.equivalence", "timing", "timing.sizes", "timing.impls", "timing.pyperf",
    "timing.pyperf.min_time", "bogus",
]  # fmt: skip
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
    | st.sampled_from(["mse", "huber", "gaussian", "fit", "punishment", "numpy", "1e-8", ".inf"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=3))
def test_any_setting_is_run_or_refused_in_one_line(tmp_path, changes):
    (tmp_path / "c.yaml").write_text(FAST)
    out = tmp_path / f"out-{time.monotonic_ns()}"
    sets = [f"{path}={json.dumps(value)}" for path, value in changes]
    args = ["run", "c.yaml", "--out", str(out), "--quiet", "--only", "experiments"]
    result = invoke([*args, *(part for s in sets for part in ("--set", s))], tmp_path)
    event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 2), (sets, result.output)
    assert "Traceback" not in result.output, (sets, result.output)
    if result.exit_code == 2:
        assert_refused(result, out)


EXPERIMENT_KEYS = ["name", "kind", "losses", "datasets", "trials", "fit", "predictions", "offsets",
                   "starts", "statistic", "equivalence"]  # fmt: skip
EXPERIMENTS = st.lists(
    st.dictionaries(st.sampled_from(EXPERIMENT_KEYS), VALUES, max_size=5)
    | st.fixed_dictionaries(
        {
            "name": st.text(min_size=1, max_size=5),
            "kind": st.sampled_from(["punishment", "fit"]),
            "losses": st.lists(st.sampled_from(["mse", "bce", "huber", "x:y", "nope"]), max_size=2),
        }
    ),
    max_size=2,
)
CONFIG_FILES = st.fixed_dictionaries(
    {},
    optional={
        "name": VALUES,
        "seed": VALUES,
        "trials": VALUES,
        "experiments": EXPERIMENTS,
        "timing": VALUES,
        "extra": VALUES,
    },
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(CONFIG_FILES)
def test_any_config_file_is_run_or_refused_in_one_line(tmp_path, raw):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    out = tmp_path / f"out-{time.monotonic_ns()}"
    args = ["run", "c.yaml", "--out", str(out), "--quiet", "--quick", "--only", "experiments"]
    result = invoke(args, tmp_path)
    event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 2), (raw, result.output)
    assert "Traceback" not in result.output, (raw, result.output)
    if result.exit_code == 2:
        assert_refused(result, out)
