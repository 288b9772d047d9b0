"""Hostile configs and settings, refused before a run starts: one line naming the file (or
the ``--set``) and the field, exit 2, nothing written."""

import subprocess
import sys

import pytest
import yaml
from helpers import FAST, assert_refused, invoke
from hypothesis import given, settings
from hypothesis import strategies as st

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdef", "bcdefg", strict=True)
)


CONFIGS = {
    "latin-1 text": ("# caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    "UTF-16 text": ("name: x\n".encode("utf-16"), "not UTF-8 text (byte 0xff"),
    "20,000-deep nesting": ("a: " + "[" * 20000 + "]" * 20000, "nested too deep"),
    "5000-digit integer": ("seed: " + "9" * 5000, "digits"),
    "alias bomb": (BOMB + "name: *g\n", "more than 100,000 values"),
    "a 5 MB file": ("name: x\n#" + "x" * 5_000_000, "larger than 1 MB"),
    "duplicate keys": ("name: a\nname: b\n", "duplicate key 'name' at line 2"),
    "grid [100, abc] with --quick": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian, n_samples: [100, abc]}], "
        "losses: [mse]}\n",
        "experiments[0].datasets[0].n_samples",
    ),
    "noise .inf": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian, noise: .inf}], losses: [mse]}\n",
        "noise: expected a number in [0, 1e6], finite; got inf",
    ),
    "noise 1e308 (targets that overflow mid-run)": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian, noise: 1e308}], losses: [mse]}\n",
        "noise: expected a number in [0, 1e6]",
    ),
    "outlier_scale 1e300": (
        "experiments:\n  - {name: a, datasets: [{kind: contaminated, outlier_scale: 1e300}], "
        "losses: [mse]}\n",
        "outlier_scale: expected a number in [0, 1e6]",
    ),
    "offsets [] (nothing to run)": (
        "experiments:\n  - {name: a, kind: influence, offsets: [], losses: [mse]}\n",
        "experiments[0].offsets: List should have at least 1 item",
    ),
    "predictions [] (nothing to run)": (
        "experiments:\n  - {name: a, kind: punishment, predictions: [], losses: [mse]}\n",
        "experiments[0].predictions: List should have at least 1 item",
    ),
    "outlier_scale .nan": (
        "experiments:\n  - {name: a, datasets: [{kind: contaminated, outlier_scale: .nan}], "
        "losses: [mse]}\n",
        "outlier_scale",
    ),
    "df .inf": (
        "experiments:\n  - {name: a, datasets: [{kind: student_t, df: .inf}], losses: [mse]}\n",
        "df",
    ),
    "offsets .inf": (
        "experiments:\n  - {name: a, kind: influence, offsets: [0, .inf], losses: [mse]}\n",
        "experiments[0].offsets[1]",
    ),
    "start_scale 1e308": (
        "experiments:\n  - {name: a, kind: landscape, start_scale: 1e308, losses: [mse]}\n",
        "experiments[0].start_scale",
    ),
    "fit.lr .inf": (
        "experiments:\n  - {name: a, fit: {method: gd, lr: .inf}, datasets: [{kind: gaussian}], "
        "losses: [mse]}\n",
        "experiments[0].fit.lr",
    ),
    "predictions [2.0]": (
        "experiments:\n  - {name: a, kind: punishment, predictions: [2.0], losses: [mse]}\n",
        "experiments[0].predictions[0]",
    ),
    "10^7 × 10^4 samples": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian, n_samples: 10000000, "
        "n_features: 10000}], losses: [mse]}\n",
        "GB for one trial",
    ),
    "min_time 100000": ("timing: {pyperf: {min_time: 100000}}\n", "timing.pyperf.min_time"),
    "impls listed twice": ("timing: {impls: [numpy, numpy]}\n", "'numpy' is listed twice"),
    "sizes listed twice": ("timing: {sizes: [100, 100]}\n", "100 is listed twice"),
    "losses listed twice": ("timing: {losses: [mse, mse]}\n", "mse is listed twice"),
    "two experiments named alike": (
        FAST + "  - {name: p, kind: punishment, losses: [mse]}\n",
        "'p' names two experiments",
    ),
    "nothing to run": ("experiments: []\n", "nothing to run"),
    "a user loss that raises": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian}], losses: ['mylosses:raises']}\n",
        "user loss mylosses:raises raised ValueError: boom",
    ),
    "a user loss returning strings": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian}], losses: ['mylosses:words']}\n",
        "must return numbers",
    ),
    "a user loss with a syntax error": (
        "experiments:\n  - {name: a, datasets: [{kind: gaussian}], losses: ['badsyntax:f']}\n",
        "badsyntax.py, line 2",
    ),
}


@pytest.mark.parametrize("case", CONFIGS)
def test_a_hostile_config_is_one_line_naming_file_and_field(tmp_path, case):
    text, needle = CONFIGS[case]
    (tmp_path / "c.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    (tmp_path / "mylosses.py").write_text(
        "def raises(y, p):\n    raise ValueError('boom')\n\ndef words(y, p):\n    return 'ab'\n"
    )
    (tmp_path / "badsyntax.py").write_text("def f(y, p):\n    return (\n")
    sys.modules.pop("mylosses", None)
    args = [
        "run",
        "c.yaml",
        "--out",
        str(tmp_path / "out"),
        *(["--quick"] if "quick" in case else []),
    ]
    result = invoke(args, tmp_path)
    assert_refused(result, tmp_path / "out", needle, "c.yaml" if case != "nothing to run" else "")


def test_numbers_read_as_yaml_1_2_and_set_errors_blame_the_set(tmp_path):
    (tmp_path / "c.yaml").write_text(FAST.replace("kind: punishment,", "kind: punishment, "
                                                  "fit: {tol: 1e-8},"))  # fmt: skip
    done = invoke(["run", "c.yaml", "--out", str(tmp_path / "out"), "--quiet"], tmp_path)
    assert done.exit_code == 0, done.output
    config = yaml.safe_load(next((tmp_path / "out").glob("*/config.yaml")).read_text())
    assert config["experiments"][0]["fit"]["tol"] == 1e-8
    refused = invoke(["run", "--set", "trials=-1", "--out", str(tmp_path / "o2")], tmp_path)
    assert_refused(refused, tmp_path / "o2", "--set trials=-1: trials")
    refused = invoke(["run", "--seed", "-1", "--out", str(tmp_path / "o3")], tmp_path)
    assert_refused(refused, tmp_path / "o3", "--seed")


def test_jobs_beyond_the_cores_are_capped_and_said(tmp_path):
    (tmp_path / "c.yaml").write_text(FAST)
    done = invoke(["run", "c.yaml", "--jobs", "64", "--out", str(tmp_path / "out")], tmp_path)
    assert done.exit_code == 0, done.output
    assert "--jobs 64:" in done.output and "cores here" in done.output


@pytest.mark.slow  # real subprocesses: the console command's own handling of usage errors
@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "--only", "bogus"], "'bogus' is not one of 'experiments', 'timing'"),
        (["run", "--seed", "abc"], "Invalid value for '--seed'"),
        (["bogus"], "No such command 'bogus'"),
    ],
)
def test_usage_mistakes_are_one_line_from_the_console_command(tmp_path, args, needle):
    done = subprocess.run([sys.executable, "-m", "lossbench.cli", *args], capture_output=True,
                          text=True, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and done.stdout == "", done
    assert done.stderr.count("\n") == 1 and needle in done.stderr, done.stderr


def test_an_error_quoting_a_huge_value_stays_one_short_line(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "experiments:\n  - {name: a, datasets: [{kind: gaussian, n_samples: '"
        + "x" * 900_000
        + "'}], losses: [mse]}\n"
    )
    result = invoke(["run", "c.yaml", "--out", str(tmp_path / "out")], tmp_path)
    assert_refused(result, tmp_path / "out", "n_samples", "(900,000 characters)")
    assert len(result.output) < 200


@pytest.mark.parametrize(
    ("losses", "datasets", "needle"),
    [
        ("[mse, mse]", "[{kind: gaussian}]", "the loss mse is named twice"),
        ("[mse, {name: huber, delta: [1.345, 1.345]}]", "[{kind: gaussian}]",
         "the loss huber(delta=1.345) is named twice"),
        ("['huber(delta=2)', {name: huber, delta: 2}]", "[{kind: gaussian}]",
         "the loss huber(delta=2.0) is named twice"),
        ("[mse]", "[{kind: gaussian}, {kind: gaussian, noise: 1}]",
         "the dataset gaussian is named twice"),
    ],
    ids=["a name", "a grid value", "a label and its mapping", "a dataset"],
)  # fmt: skip
def test_the_same_loss_or_dataset_twice_is_refused_not_pooled(tmp_path, losses, datasets, needle):
    (tmp_path / "c.yaml").write_text(
        f"experiments:\n  - {{name: a, losses: {losses}, datasets: {datasets}, trials: 3}}\n"
    )
    result = invoke(["run", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "out")])
    assert_refused(result, tmp_path / "out", needle, "c.yaml")


def test_a_table_with_a_column_named_twice_is_refused(tmp_path):
    (tmp_path / "t.csv").write_text("a,y,y\n1,2,3\n2,3,4\n3,4,5\n")
    (tmp_path / "c.yaml").write_text(
        "experiments:\n  - {name: a, losses: [mse], datasets: [{kind: table, path: t.csv, "
        "target: y}]}\n"
    )
    result = invoke(["run", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "out")])
    assert_refused(result, tmp_path / "out", "column 'y' appears 2 times", "datasets[0].path")


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("experiments.0.cv.fold=3", "folds"), ("experiments.0.trails=3", "trials"),
     ("timing.pyperf.proceses=2", "processes"), ("sed=1", "seed"),
     ("experiments.1.fit.l22=0.1", "l2"), ("experiments.0.equivalance=0.02", "equivalence")],
)  # fmt: skip
def test_a_misspelt_setting_says_what_was_meant_and_the_suggestion_is_accepted(typo, meant):
    import re

    import lossbench.experiments  # noqa: F401  (registers the kinds configs name)
    from lossbench import config as config_module
    from lossbench.errors import LossbenchError

    raw = config_module.load(None).model_dump(mode="json")
    with pytest.raises(LossbenchError, match=f"did you mean {meant}\\?"):
        config_module.validate(config_module.set_values(raw, [typo]), overrides=[typo])
    key, value = typo.split("=")
    fixed = re.sub(r"[^.]+$", meant, key) + "=" + value  # the suggestion, followed
    config_module.validate(config_module.set_values(raw, [fixed]), overrides=[fixed])


_PRINTABLE = st.characters(categories=["L", "N", "P", "S", "Zs"])
_LEAVES = st.one_of(st.integers(), st.text(_PRINTABLE, max_size=300), st.floats(allow_nan=False))
_VALUES = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(_PRINTABLE, max_size=8), inner,
                                                 max_size=3)),
    max_leaves=40)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(["seed", "trials", "experiments.0.trials", "experiments.0.equivalence",
                            "timing.sizes", "timing.pyperf.processes"]),
       value=_VALUES)  # fmt: skip
def test_a_refused_set_value_is_one_short_line_whatever_it_holds(key, value):
    """A --set value of any depth or length: refused in one line of at most 200 characters,
    the value abbreviated (a 40-deep mapping made 487 characters)."""
    import json

    import lossbench.experiments  # noqa: F401  (registers the kinds)
    from lossbench import config as config_module
    from lossbench.errors import LossbenchError, one_line

    raw = config_module.load(None).model_dump(mode="json")
    # JSON is YAML: the value as the shell would pass it
    item = f"{key}={json.dumps(value, ensure_ascii=False)}"
    try:
        config_module.validate(config_module.set_values(raw, [item]), overrides=[item])
    except LossbenchError as error:
        line = "error: " + one_line(str(error))
        assert len(line) <= 200, line
