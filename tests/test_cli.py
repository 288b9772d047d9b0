from typer.testing import CliRunner

from lossbench import __version__
from lossbench.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"lossbench {__version__}"


def test_list_losses_shows_every_loss_with_parameters_and_formula():
    result = runner.invoke(app, ["list", "losses"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for name in ("mse", "huber", "bce", "bce_logits", "mae", "pseudo_huber", "log_cosh"):
        assert f"│ {name} " in result.output
    assert "delta=1.0" in result.output
    assert "mean(−[y log p + (1 − y) log(1 − p)])" in result.output


def test_list_impls_says_which_peers_are_available():
    from lossbench.losses.impls import IMPLEMENTATIONS

    result = runner.invoke(app, ["list", "impls"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "│ numpy " in result.output and "│ fused " in result.output
    for peer, impl in IMPLEMENTATIONS.items():
        if impl.own:
            continue
        package = impl.install
        here = impl.unavailable() is None
        line = next(line for line in result.output.splitlines() if line.startswith(f"│ {peer} "))
        assert ("│ yes " in line) == here, line
        assert (f"pip install {package}" in line) != here, line


def test_unknown_topic_exits_2_without_traceback():
    result = runner.invoke(app, ["list", "bogus"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_list_datasets_and_metrics():
    result = runner.invoke(app, ["list", "datasets"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for kind in ("gaussian", "student_t", "cauchy", "laplace", "contaminated", "logistic"):
        assert f"│ {kind} " in result.output
    assert "outlier_scale=10.0" in result.output
    result = runner.invoke(app, ["list", "metrics"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for metric in (
        "coef_error",
        "test_rmse",
        "accuracy",
        "auc",
        "ece",
        "coef_cosine",
        "fit_seconds",
    ):
        assert f"│ {metric} " in result.output


def test_plain_list_shows_all_four_topics():
    result = runner.invoke(app, ["list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for title in ("losses (r = y_true", "datasets (a list value", "metrics", "implementations"):
        assert title in result.output
