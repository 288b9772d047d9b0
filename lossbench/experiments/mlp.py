"""Neural networks (PyTorch, the `nn` extra) trained with any lossbench loss as the objective.

The objective (`objective`) is the lossbench loss itself, wrapped as a torch autograd
function: its forward pass is `Loss.value_and_gradient` on the batch, its backward pass hands
that gradient on, so any loss (a user's too) trains a network as it fits a linear model.
Where torch has the same loss (mse, mae, huber, bce_logits, cross_entropy) torch's own form is
used instead: a trip through numpy per batch cost +28% of a 10,000-row fit, and tests hold
each of those forms to lossbench's values and gradients (1e-10). What torch computes besides
is the network, the link (sigmoid for a loss on probabilities, softmax for multiclass
probabilities) and the chain rule through both.

A fit standardizes the columns of X (and a continuous target) with the training fold's own
statistics, holds out `validation` of the training fold for early stopping (the best
validation loss is kept, measured with a fixed δ where training re-measures it; `patience`
epochs without a better one end training), and runs in float64 on one thread with torch's
deterministic algorithms, its weights drawn and its batches shuffled from the fit's seed: a
rerun and a parallel run give the same bits. A fit that used up its epochs while its
validation loss still improved is not converged.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from lossbench.errors import require
from lossbench.experiments.fitting import FitResult
from lossbench.experiments.scales import mad_of
from lossbench.losses.softmax import one_hot

__all__ = ["MlpFit", "MlpOptions", "fit_mlp", "objective", "require_torch"]

INSTALL = "model: mlp needs PyTorch: pip install 'lossbench[nn]'"
Activation = Literal["relu", "tanh", "sigmoid"]
Optimizer = Literal["adam", "sgd", "lbfgs"]


def require_torch():
    """torch, or a one-line `LossbenchError` naming the install command."""
    return require("torch", INSTALL)


@dataclass(frozen=True)
class MlpOptions:
    """A multilayer perceptron and how it is trained."""

    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    # sgd: with momentum 0.9; lbfgs: full batch to a stationary point (`epochs` iterations)
    optimizer: str = "adam"
    weight_decay: float = 0.0
    patience: int = 20  # epochs without a better validation loss that end training
    # of the training fold, held out for early stopping; 0: none held out, training stops
    # when the objective itself (the loss and its weight decay on every training row) stops
    # falling (the restarts experiment: where optimization ends, not when it generalizes)
    validation: float = 0.2


# an epoch counts as better than the best so far when it improves on it by this (relative)
IMPROVEMENT = 1e-4
# L-BFGS has converged when its largest gradient entry is this small against the start's
GRADIENT_TOL = 1e-5


@functools.cache
def _function(torch):
    class LossbenchObjective(torch.autograd.Function):
        """loss(target, prediction), reduced by the mean, with lossbench's own gradient."""

        @staticmethod
        def forward(ctx, prediction, target, loss):
            predicted = prediction.detach().numpy()
            if not np.isfinite(predicted).all():  # training diverged: NaN, as torch's forms
                ctx.save_for_backward(torch.full_like(prediction, math.nan))
                return prediction.new_tensor(math.nan)
            value, gradient = loss.value_and_gradient(target.numpy(), predicted)
            ctx.save_for_backward(torch.from_numpy(np.asarray(gradient, dtype=np.float64)))
            return prediction.new_tensor(float(value))

        @staticmethod
        def backward(ctx, grad_output):
            (gradient,) = ctx.saved_tensors
            return grad_output * gradient, None, None

    return LossbenchObjective


def _native(torch, loss, task: str):
    """torch's own form of a built-in loss that has one, on the outputs (None otherwise):
    the same values and gradients as lossbench's to 1e-10 (tested), without a trip through
    numpy per batch, which cost +28% of a 10,000-row fit of mse (benchmarks/bench_mlp.py)."""
    from lossbench.losses.builtin import MAE, MSE, BCEWithLogits, Huber
    from lossbench.losses.softmax import CrossEntropy

    F = torch.nn.functional
    kind = type(loss)
    if task == "regression" and kind in (MSE, MAE, Huber):
        if kind is Huber:
            delta = float(loss.params["delta"])
            return lambda out, target: F.huber_loss(out[:, 0], target, delta=delta)
        form = F.mse_loss if kind is MSE else F.l1_loss
        return lambda out, target: form(out[:, 0], target)
    if task == "classification" and kind is BCEWithLogits:
        return lambda out, target: F.binary_cross_entropy_with_logits(out[:, 0], target)
    if task == "multiclass" and kind is CrossEntropy:
        return F.cross_entropy
    return None


def objective(loss, task: str, classes: int = 0):
    """(network outputs, targets) -> the mean loss as a torch scalar with its gradient: on
    the outputs themselves (regression; a loss on logits), on sigmoid(outputs) for a
    two-class loss on probabilities, on softmax(outputs) against one-hot rows for a
    multiclass loss on probabilities (summed over classes, as in multinomial fits), and on
    the (n, K) logits for cross_entropy. Targets: values, 0/1 labels, or class indices.
    Built-in losses torch also has are torch's (`_native`); every other loss, a user's
    included, is lossbench's own value and gradient (`LossbenchObjective`)."""
    torch = require_torch()
    native = _native(torch, loss, task)
    if native is not None:
        return native
    return _wrapped(torch, loss, task, classes)


def _wrapped(torch, loss, task: str, classes: int):
    """The loss through `LossbenchObjective`, with its link."""
    apply = _function(torch).apply
    if task == "multiclass":
        if loss.over == "rows":
            return lambda out, target: apply(out, target, loss)
        return lambda out, target: (
            classes
            * apply(
                torch.softmax(out, dim=1).reshape(-1),
                torch.from_numpy(one_hot(target.numpy().astype(np.int64), classes).ravel()),
                loss,
            )
        )
    if task == "classification" and loss.prediction != "logit":
        return lambda out, target: apply(torch.sigmoid(out[:, 0]), target, loss)
    return lambda out, target: apply(out[:, 0], target, loss)


@dataclass
class MlpFit(FitResult):
    """A trained network as the fit kind scores it: its outputs, no coefficients (NaN).
    `objective` is the loss on the whole training fold at the kept weights, with the weight
    decay's penalty."""

    network: Any = None
    x_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    x_sd: np.ndarray = field(default_factory=lambda: np.ones(0))
    y_mean: float = 0.0
    y_sd: float = 1.0

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The network's outputs on X: a prediction (regression), a logit (two classes), or
        (n, K) logits (multiclass)."""
        torch = require_torch()
        with torch.no_grad():
            out = self.network(torch.from_numpy((X - self.x_mean) / self.x_sd)).numpy()
        return out if out.shape[1] > 1 else out[:, 0] * self.y_sd + self.y_mean


@contextlib.contextmanager
def _deterministic(torch):
    """One thread and deterministic algorithms for the duration, as they were after."""
    threads, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(strict)


def _penalty(model, weight_decay: float) -> float:
    """(weight_decay / 2) ‖θ‖² over every parameter: the term torch's weight decay adds the
    gradient of."""
    if not weight_decay:
        return 0.0
    return 0.5 * weight_decay * sum(float((p.detach() ** 2).sum()) for p in model.parameters())


def _optimizer(torch, model, options: MlpOptions):
    """Adam, or SGD with momentum 0.9."""
    if options.optimizer == "adam":
        return torch.optim.Adam(
            model.parameters(), lr=options.lr, weight_decay=options.weight_decay
        )
    return torch.optim.SGD(
        model.parameters(), lr=options.lr, momentum=0.9, weight_decay=options.weight_decay
    )


def network(torch, inputs: int, outputs: int, options: MlpOptions, generator):
    """Linear layers of `options.hidden` units with the activation between them, in float64,
    initialized as torch initializes `nn.Linear` but from `generator`."""
    activation = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}
    sizes = [inputs, *options.hidden, outputs]
    layers: list = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layer = torch.nn.Linear(fan_in, fan_out, dtype=torch.float64)
        with torch.no_grad():
            torch.nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1 / math.sqrt(fan_in)
            layer.bias.uniform_(-bound, bound, generator=generator)
        layers.append(layer)
        if i < len(sizes) - 2:
            layers.append(activation[options.activation]())
    return torch.nn.Sequential(*layers)


def fit_mlp(
    loss,
    X: np.ndarray,
    y: np.ndarray,
    task: str,
    options: MlpOptions,
    seed: int,
    *,
    classes: int = 0,
    scale: str = "mad",
) -> MlpFit:
    """Train a network on (X, y) with `loss` (see the module). Huber's δ is in units of the
    training residuals' normalized MAD, re-measured every epoch, unless `scale` is fixed
    (then in the units of y), as in linear and boosted fits; L-BFGS, which runs to the
    optimum of one objective, takes δ in units of the targets' normalized MAD."""
    torch = require_torch()
    began = time.perf_counter()
    x_mean, x_sd = X.mean(axis=0), X.std(axis=0)
    x_sd = np.where(x_sd > 0, x_sd, 1.0)
    regression = task == "regression"
    y_mean, y_sd = (float(np.mean(y)), float(np.std(y)) or 1.0) if regression else (0.0, 1.0)
    inputs = torch.from_numpy(np.ascontiguousarray((X - x_mean) / x_sd))
    targets = torch.from_numpy((y - y_mean) / y_sd if regression else y.astype(np.float64))
    if task == "multiclass":
        targets = torch.from_numpy(y.astype(np.int64))
    rescaled = regression and loss.scale_parameter is not None and scale != "fixed"
    fixed = loss.with_scale(1 / y_sd) if regression and not rescaled else loss
    if rescaled:  # the yardstick of a δ that is not re-measured: the targets' own scale
        fixed = loss.with_scale(mad_of(targets.numpy()) or 1.0)
    with _deterministic(torch):
        generator = torch.Generator().manual_seed(seed)
        model = network(
            torch, X.shape[1], classes if task == "multiclass" else 1, options, generator
        )
        training = _Training(torch, model, inputs, targets, task, classes, options)
        if options.optimizer == "lbfgs":
            epochs, converged, note = training.full_batch(fixed)
        else:
            epochs, converged, note = training.minibatches(
                loss if rescaled else None, fixed, generator
            )
        final = training.objective_value(training.last or fixed, training.rows)
    return MlpFit(
        theta=np.full(X.shape[1] + 1, math.nan),
        objective=final,
        iterations=epochs,
        converged=converged,
        seconds=time.perf_counter() - began,
        note=note,
        network=model,
        x_mean=x_mean,
        x_sd=x_sd,
        y_mean=y_mean,
        y_sd=y_sd,
    )


class _Training:
    """One network's training on standardized data: minibatches (Adam or SGD) with early
    stopping, or full-batch L-BFGS to a stationary point."""

    def __init__(self, torch, model, inputs, targets, task, classes, options: MlpOptions):
        self.torch, self.model, self.options = torch, model, options
        self.inputs, self.targets, self.task, self.classes = inputs, targets, task, classes
        self.rows = torch.arange(len(targets))
        self.last = None  # the loss (δ re-measured) the last epoch trained with

    def objective_value(self, loss, rows, penalized: bool = True) -> float:
        """The loss on `rows`, with the weight decay's penalty unless not `penalized`."""
        with self.torch.no_grad():
            f = objective(loss, self.task, self.classes)
            value = float(f(self.model(self.inputs[rows]), self.targets[rows]))
        return value + (_penalty(self.model, self.options.weight_decay) if penalized else 0.0)

    def minibatches(self, rescaled, fixed, generator) -> tuple[int, bool, str]:
        """Epochs of shuffled batches; the best epoch's weights by the validation loss (δ at
        `fixed`'s), or by the objective itself without a validation split. `rescaled`: the
        loss whose δ is re-measured each epoch from the training residuals."""
        torch, model, options = self.torch, self.model, self.options
        order = torch.randperm(len(self.targets), generator=generator)
        held = min(len(order) - 1, max(1, round(options.validation * len(order))))
        train, check = (order[held:], order[:held]) if options.validation else (order, order)
        step = _optimizer(torch, model, options)
        used = fixed
        # the untrained network is the mark to beat: a rate that blows the weights up never
        # beats it (finite or not), and its weights are the ones kept
        best = self._watched(fixed, used, train, check)
        best_state, improved, since, epochs = copy.deepcopy(model.state_dict()), False, 0, 0
        while epochs < options.epochs:
            epochs += 1
            if rescaled is not None:
                with torch.no_grad():
                    out = model(self.inputs[train])[:, 0]
                used = rescaled.with_scale(mad_of((self.targets[train] - out).numpy()) or 1.0)
            f = objective(used, self.task, self.classes)
            shuffled = train[torch.randperm(len(train), generator=generator)]
            for start in range(0, len(shuffled), options.batch_size):
                batch = shuffled[start : start + options.batch_size]
                step.zero_grad()
                f(model(self.inputs[batch]), self.targets[batch]).backward()
                step.step()
            watched = self._watched(fixed, used, train, check)
            if watched < (best - IMPROVEMENT * abs(best) if best < math.inf else best):
                best, best_state, since = watched, copy.deepcopy(model.state_dict()), 0
                improved = True
            else:
                since += 1
                if since >= options.patience:
                    break
        self.last = used
        model.load_state_dict(best_state)
        what = "validation loss" if options.validation else "objective"
        if not improved:
            return (
                epochs,
                False,
                f"the {what} never fell below the untrained network's: lower model.lr",
            )
        if since < options.patience:
            return (
                epochs,
                False,
                (
                    f"the {what} still fell within the last "
                    f"{options.patience} of {options.epochs} epochs: raise "
                    "model.epochs"
                ),
            )
        return epochs, True, ""

    def _watched(self, fixed, used, train, check) -> float:
        """What early stopping watches: the validation loss alone at the fixed δ, or without
        a validation split the objective trained (the loss at `used`'s δ with the penalty)."""
        if self.options.validation:
            return self.objective_value(fixed, check, penalized=False)
        return self.objective_value(used, train)

    def full_batch(self, loss) -> tuple[int, bool, str]:
        """L-BFGS (strong Wolfe line search) on the whole objective, `epochs` iterations at
        most: converged when its largest gradient entry is within `GRADIENT_TOL` of the
        one at the start."""
        torch, model, options = self.torch, self.model, self.options
        f = objective(loss, self.task, self.classes)
        parameters = list(model.parameters())

        def value():
            total = f(model(self.inputs), self.targets)
            if options.weight_decay:
                total = total + 0.5 * options.weight_decay * sum((p**2).sum() for p in parameters)
            return total

        def largest_gradient() -> float:
            model.zero_grad()
            value().backward()
            return max(float(p.grad.abs().max()) for p in parameters)

        start = largest_gradient()
        step = torch.optim.LBFGS(
            parameters,
            lr=1,
            max_iter=options.epochs,
            history_size=20,
            tolerance_grad=GRADIENT_TOL * start,
            tolerance_change=0.0,
            line_search_fn="strong_wolfe",
        )

        def closure():
            step.zero_grad()
            total = value()
            total.backward()
            return total

        step.step(closure)
        iterations = int(step.state[parameters[0]].get("n_iter", 0))
        end = largest_gradient()
        if not math.isfinite(end):  # (L-BFGS takes no learning rate: no hint of one)
            return iterations, False, "the objective was not finite at the end"
        if end > GRADIENT_TOL * start:
            return (
                iterations,
                False,
                (
                    f"the gradient was still {end / start:.1e} of its "
                    f"start after {iterations} iterations: raise "
                    "model.epochs"
                ),
            )
        return iterations, True, ""
