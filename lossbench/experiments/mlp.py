"""Neural networks (PyTorch, the `nn` extra) trained with any lossbench loss as the objective.

The objective is the lossbench loss itself, wrapped as a torch autograd function
(`objective`): its forward pass is `Loss.value_and_gradient` on the batch, its backward pass
hands that gradient on. One source of truth: a built-in loss, a user's loss and its fused
kernel train a network exactly as they fit a linear model, with no second torch form that
could drift from it. What torch computes is the network, the link (sigmoid for a loss on
probabilities, softmax for multiclass probabilities) and the chain rule through both.

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
from typing import Any

import numpy as np

from lossbench.errors import LossbenchError
from lossbench.experiments.fitting import FitResult
from lossbench.experiments.scales import mad_of
from lossbench.losses.softmax import one_hot

__all__ = ["MlpFit", "MlpOptions", "fit_mlp", "objective", "require_torch"]

INSTALL = "model: mlp needs PyTorch: pip install 'lossbench[nn]'"
ACTIVATIONS = ("relu", "tanh", "sigmoid")
OPTIMIZERS = ("adam", "sgd")


def require_torch():
    """torch, or a one-line `LossbenchError` naming the install command."""
    try:
        import torch
    except ImportError:
        raise LossbenchError(INSTALL) from None
    return torch


@dataclass(frozen=True)
class MlpOptions:
    """A multilayer perceptron and how it is trained."""

    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    epochs: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"  # sgd: with momentum 0.9
    weight_decay: float = 0.0
    patience: int = 20  # epochs without a better validation loss that end training
    validation: float = 0.2  # of the training fold, held out for early stopping


@functools.cache
def _function(torch):
    class LossbenchObjective(torch.autograd.Function):
        """loss(target, prediction), reduced by the mean, with lossbench's own gradient."""

        @staticmethod
        def forward(ctx, prediction, target, loss):
            value, gradient = loss.value_and_gradient(target.numpy(), prediction.detach().numpy())
            ctx.save_for_backward(torch.from_numpy(np.asarray(gradient, dtype=np.float64)))
            return prediction.new_tensor(float(value))

        @staticmethod
        def backward(ctx, grad_output):
            (gradient,) = ctx.saved_tensors
            return grad_output * gradient, None, None

    return LossbenchObjective


def objective(loss, task: str, classes: int = 0):
    """(network outputs, targets) -> the mean loss as a torch scalar with its gradient: on
    the outputs themselves (regression; a loss on logits), on sigmoid(outputs) for a
    two-class loss on probabilities, on softmax(outputs) against one-hot rows for a
    multiclass loss on probabilities (summed over classes, as in multinomial fits), and on
    the (n, K) logits for cross_entropy. Targets: values, 0/1 labels, or class indices."""
    torch = require_torch()
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
    `objective` is the loss on the whole training fold at the kept weights."""

    network: Any = None
    x_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    x_sd: np.ndarray = field(default_factory=lambda: np.ones(0))
    y_mean: float = 0.0
    y_sd: float = 1.0
    epochs: int = 0

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


def _optimizer(torch, model, options: MlpOptions):
    """Adam, or SGD with momentum 0.9."""
    if options.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=options.lr,
                                weight_decay=options.weight_decay)  # fmt: skip
    return torch.optim.SGD(model.parameters(), lr=options.lr, momentum=0.9,
                           weight_decay=options.weight_decay)  # fmt: skip


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
    (then in the units of y), as in linear and boosted fits."""
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
    used = loss.with_scale(1 / y_sd) if regression and not rescaled else loss
    judge = objective(used, task, classes)  # the validation loss's yardstick, fixed
    if rescaled:  # δ falls with the residuals: judged at the targets' own scale, not that δ
        judge = objective(loss.with_scale(mad_of(targets.numpy()) or 1.0), task, classes)
    with _deterministic(torch):
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(y), generator=generator)
        held = min(len(y) - 1, max(1, round(options.validation * len(y))))
        train, check = order[held:], order[:held]
        model = network(torch, X.shape[1], classes if task == "multiclass" else 1, options,
                        generator)  # fmt: skip
        step = _optimizer(torch, model, options)
        best, best_state, since, epochs = math.inf, None, 0, 0
        while epochs < options.epochs:
            epochs += 1
            if rescaled:
                with torch.no_grad():
                    residual = (targets[train] - model(inputs[train])[:, 0]).numpy()
                used = loss.with_scale(mad_of(residual) or 1.0)
            f = objective(used, task, classes)
            shuffled = train[torch.randperm(len(train), generator=generator)]
            for start in range(0, len(shuffled), options.batch_size):
                batch = shuffled[start : start + options.batch_size]
                step.zero_grad()
                f(model(inputs[batch]), targets[batch]).backward()
                step.step()
            with torch.no_grad():
                validation = float(judge(model(inputs[check]), targets[check]))
            if validation < best:
                best, best_state, since = validation, copy.deepcopy(model.state_dict()), 0
            else:
                since += 1
                if since >= options.patience:
                    break
        converged = since >= options.patience and best_state is not None
        if best_state is not None:
            model.load_state_dict(best_state)
        with torch.no_grad():
            final = float(objective(used, task, classes)(model(inputs), targets))
    note = ""
    if best_state is None:
        note = "the loss was never finite on the validation rows: lower model.lr"
    elif not converged:
        note = (f"the validation loss still fell within the last {options.patience} of "
                f"{options.epochs} epochs: raise model.epochs")  # fmt: skip
    return MlpFit(
        theta=np.full(X.shape[1] + 1, math.nan), objective=final, iterations=epochs,
        converged=converged, seconds=time.perf_counter() - began, note=note, network=model,
        x_mean=x_mean, x_sd=x_sd, y_mean=y_mean, y_sd=y_sd, epochs=epochs,
    )  # fmt: skip
