"""Neural networks (`lossbench.experiments.mlp`): lossbench's own value and gradient of each
loss, through the autograd objective, equal torch's form of it to 1e-10, and so does what
training uses (torch's form where it has one); a loss torch has no form of agrees with
finite differences; fits are deterministic; early stopping's hint is a promise; a
missing torch is one line with the install command."""

import sys

import numpy as np
import pytest
from helpers import assert_refused, invoke, serial_and_parallel

from lossbench import LossbenchError, losses
from lossbench.experiments import mlp

# imported by the fixture below, not when the file is collected: torch takes 2 s to import,
# on every test process, and most of the suite never calls it
torch = F = None


@pytest.fixture(autouse=True, scope="module")
def _torch():
    global torch, F
    torch = pytest.importorskip("torch")
    F = torch.nn.functional


def _rows(n=257, k=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng, torch.from_numpy(rng.standard_normal((n, k)) * 2)


def _value_and_gradient(f, out, target):
    out = out.clone().requires_grad_(True)
    value = f(out, target)
    value.backward()
    return float(value.detach()), out.grad.numpy()


def _onehot(labels, k):
    return F.one_hot(labels, k).to(torch.float64)


# (lossbench loss, task, classes, torch's form of it on the outputs, the targets' kind)
CASES = {
    "mse": ("regression", 1, lambda out, y: F.mse_loss(out[:, 0], y)),
    "mae": ("regression", 1, lambda out, y: F.l1_loss(out[:, 0], y)),
    "huber(delta=0.7)": ("regression", 1, lambda out, y: F.huber_loss(out[:, 0], y, delta=0.7)),
    "bce_logits": (
        "classification", 1,
        lambda out, y: F.binary_cross_entropy_with_logits(out[:, 0], y),
    ),
    "bce": ("classification", 1, lambda out, y: F.binary_cross_entropy(out[:, 0].sigmoid(), y)),
    "mse/classification": (
        "classification", 1, lambda out, y: F.mse_loss(out[:, 0].sigmoid(), y),
    ),
    "cross_entropy": ("multiclass", 4, lambda out, y: F.cross_entropy(out, y)),
    "mse/multiclass": (  # the multiclass Brier score: summed over classes, mean over rows
        "multiclass", 4,
        lambda out, y: ((out.softmax(1) - _onehot(y, 4)) ** 2).sum(1).mean(),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_the_objective_is_torch_s_own_loss_to_1e_10(case):
    task, k, theirs = CASES[case]
    rng, out = _rows(k=k)
    if task == "regression":
        y = torch.from_numpy(rng.standard_normal(len(out)) * 2)
    elif task == "classification":
        y = torch.from_numpy(rng.integers(0, 2, len(out)).astype(np.float64))
    else:
        y = torch.from_numpy(rng.integers(0, k, len(out)))
    loss = losses.get(case.split("/")[0])
    # lossbench's own value and gradient (through numpy), against torch's form of the loss
    wrapped = mlp._wrapped(torch, loss, task, k)
    value, gradient = _value_and_gradient(wrapped, out, y)
    expected_value, expected_gradient = _value_and_gradient(theirs, out, y)
    assert value == pytest.approx(expected_value, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-10, atol=1e-13)
    # and what training uses (torch's own form where it has one) against lossbench's
    used_value, used_gradient = _value_and_gradient(mlp.objective(loss, task, k), out, y)
    assert used_value == pytest.approx(value, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(used_gradient, gradient, rtol=1e-10, atol=1e-13)


def test_a_loss_torch_has_no_form_of_trains_by_its_own_gradient():
    """log_cosh (and any user's loss) through the same function: torch's gradcheck agrees
    with finite differences of the loss's value."""
    rng, out = _rows(n=40)
    y = torch.from_numpy(rng.standard_normal(40))
    f = mlp.objective(losses.get("log_cosh"), "regression")
    assert torch.autograd.gradcheck(lambda o: f(o, y), (out.clone().requires_grad_(True),))


def _data(task="regression", n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    signal = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    if task == "regression":
        return X, signal + 0.1 * rng.standard_normal(n)
    return X, (signal > 0).astype(np.float64)


SMALL = mlp.MlpOptions(hidden=(16, 16), epochs=300, patience=10, batch_size=32, lr=1e-2)


@pytest.mark.slow
def test_a_fit_is_the_same_bits_on_a_rerun_and_learns():
    X, y = _data()
    first = mlp.fit_mlp(losses.get("mse"), X[:300], y[:300], "regression", SMALL, seed=3)
    again = mlp.fit_mlp(losses.get("mse"), X[:300], y[:300], "regression", SMALL, seed=3)
    other = mlp.fit_mlp(losses.get("mse"), X[:300], y[:300], "regression", SMALL, seed=4)
    np.testing.assert_array_equal(first.predict(X[300:]), again.predict(X[300:]))
    assert not np.array_equal(first.predict(X[300:]), other.predict(X[300:]))
    rmse = np.sqrt(np.mean((first.predict(X[300:]) - y[300:]) ** 2))
    assert first.converged and rmse < 0.5 * np.std(y[300:])  # it learned the curve


@pytest.mark.slow
def test_raising_epochs_as_the_note_says_makes_the_fit_converge():
    X, y = _data("classification")
    short = mlp.MlpOptions(**{**SMALL.__dict__, "epochs": 3})
    cut = mlp.fit_mlp(losses.get("bce_logits"), X, y, "classification", short, seed=0)
    assert not cut.converged and "raise model.epochs" in cut.note
    full = mlp.fit_mlp(losses.get("bce_logits"), X, y, "classification", SMALL, seed=0)
    assert full.converged and full.note == "" and full.iterations < SMALL.epochs


def test_without_torch_it_is_one_line_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(LossbenchError, match=r"pip install 'lossbench\[nn\]'"):
        mlp.require_torch()
    (tmp_path / "c.yaml").write_text(NETWORKS)
    result = invoke(["run", "c.yaml", "--out", tmp_path / "out"], tmp_path)
    assert_refused(result, tmp_path / "out", "pip install 'lossbench[nn]'")


NETWORKS = (
    "seed: 0\ntrials: 2\nexperiments:\n  - name: nets\n    datasets:\n"
    "      - {kind: contaminated, target: friedman1, fraction: 0.1, outlier_scale: 10,"
    " n_samples: 150, n_test: 200}\n    losses: [mse, {name: huber, delta: 1.345}]\n"
    "    model: [linear, {kind: mlp, hidden: [[4], [8, 8]], epochs: 100, lr: 0.01}]\n"
    "    score: test_mae\n"
)


@pytest.mark.slow
def test_a_fit_experiment_trains_networks_in_serial_and_in_parallel_alike(tmp_path):
    frame, _, _ = serial_and_parallel(tmp_path, NETWORKS)
    assert set(frame["model"]) == {"linear", "mlp(hidden=[4])", "mlp(hidden=[8, 8])"}
    mae = frame[frame["metric"] == "test_mae"].groupby(["model", "loss"])["value"].mean()
    # friedman1 is not linear: a network beats the linear fit with either loss
    for loss in ("mse", "huber(delta=1.345, scale=mad)"):
        assert mae[("mlp(hidden=[8, 8])", loss)] < mae[("linear", loss)]
    network_coef = frame[(frame["model"] != "linear") & (frame["metric"] == "coef_error")]
    assert network_coef["note"].str.contains("a network has no coefficients").all()


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ("{kind: mlp, hidden: [0]}", "mlp hidden.0"),
        ("{kind: mlp, activation: gelu}", "mlp activation"),
        ("{kind: mlp, optimizer: rmsprop}", "mlp optimizer"),
        ("{kind: mlp, optimizer: lbfgs}", "set validation: 0"),
        ("{kind: mlp, validation: 1}", "mlp validation"),
        ("{kind: mlp, validation: -0.1}", "mlp validation"),
        ("{kind: mlp, epochs: 0}", "mlp epochs"),
        ("{kind: mlp, width: 3}", "mlp width"),
    ],
)
def test_a_wrong_network_setting_is_one_line_naming_it(tmp_path, model, needle):
    models = "[linear, {kind: mlp, hidden: [[4], [8, 8]], epochs: 100, lr: 0.01}]"
    (tmp_path / "c.yaml").write_text(NETWORKS.replace(models, model))
    result = invoke(["run", "c.yaml", "--out", tmp_path / "out"], tmp_path)
    assert_refused(result, tmp_path / "out", needle)


@pytest.mark.slow
def test_a_network_trains_on_three_classes_with_either_loss(tmp_path):
    """Multiclass through the fit kind: cross_entropy on the logits, mse (the Brier score)
    on the softmax probabilities; scored on held-out labels, better than chance."""
    from lossbench import experiments

    config = {"seed": 0, "trials": 1, "experiments": [{
        "name": "classes", "losses": ["cross_entropy", "mse"],
        "datasets": [{"kind": "softmax", "classes": 3, "n_samples": 300, "n_test": 300}],
        "model": {"kind": "mlp", "hidden": [8], "lr": 0.01, "epochs": 300},
    }]}  # fmt: skip
    trials = experiments.run(config).set_index(["loss", "metric"])["value"]
    for loss in ("cross_entropy", "mse"):
        assert trials[(loss, "converged")] == 1
        assert trials[(loss, "accuracy")] > 0.5  # chance is a third
        assert trials[(loss, "log_loss")] < np.log(3)


@pytest.mark.parametrize(
    ("name", "wild_lr"),
    [("mse", 10.0), ("log_cosh", 1e100)],  # torch's form (at the config's highest rate), ours
)
def test_a_diverged_fit_says_lower_the_rate_and_a_lower_one_converges(name, wild_lr):
    """SGD at a rate that blows the network up: the fit never beats the untrained network,
    is not converged and says "lower model.lr" (a loss through lossbench's own function
    too, which must not raise on non-finite outputs); at 0.05 the same fit converges."""
    X, y = _data()
    wild = mlp.MlpOptions(hidden=(8,), optimizer="sgd", lr=wild_lr, epochs=50)
    blown = mlp.fit_mlp(losses.get(name), X, y, "regression", wild, seed=0)
    assert not blown.converged and "lower model.lr" in blown.note
    calm = mlp.MlpOptions(**{**wild.__dict__, "lr": 0.05, "epochs": 1000})
    assert mlp.fit_mlp(losses.get(name), X, y, "regression", calm, seed=0).converged
