"""Early stopping on a validation metric, and the convergence criterion every trained model records.

The criterion: a run has converged when its validation metric (lower is better) improved by no more than
`min_delta` (relative) over its last `patience` validations, i.e. no validation in that window beat the value that
opened it by more than min_delta. Training stops there; a run that reaches its epoch cap first has not converged.
The best validation value (any improvement, however small) is the checkpoint that is kept.

A run whose best validation is its first never improved on where it started: it failed to train, and is recorded as
not converged whatever the stopping rule says (a plateau reached from the start is no convergence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from thermbench.core.io import InputError


@dataclass(frozen=True)
class StopConfig:
    patience: int          # validations without a > min_delta improvement before stopping
    min_delta: float = 0.02  # relative improvement that counts (0.02 = 2%)

    def criterion(self) -> str:
        return (f"no validation improvement larger than {100 * self.min_delta:g}% over the last {self.patience} "
                "validations")


def check_stop(patience: int | None, min_delta: float, where: str) -> None:
    """The params of a stopping rule (`<where>.patience`, `<where>.min_delta`) as `StopConfig` can use them: a
    patience of at least 1 validation, or null (no early stop), and a relative min_delta in [0, 1); one line each."""
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise InputError(f"params.yaml: '{where}.patience' must be a whole number of at least 1 (validations) or "
                         f"null (no early stop), not {patience!r}")
    if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not 0 <= min_delta < 1:
        raise InputError(f"params.yaml: '{where}.min_delta' must be a number in [0, 1) (a relative improvement), "
                         f"not {min_delta!r}")


class Plateau:
    """Feed validation values in order; `update` says whether the value is the best so far (keep that checkpoint),
    `converged` whether the criterion of `StopConfig` holds (stop)."""

    def __init__(self, cfg: StopConfig):
        if cfg.patience < 1 or not 0 <= cfg.min_delta < 1:
            raise ValueError(f"early stopping needs patience >= 1 and 0 <= min_delta < 1 (got {cfg})")
        self.cfg = cfg
        self.best = math.inf
        self.anchor = math.inf  # the value at the last improvement larger than min_delta
        self.stale = 0

    def update(self, value: float) -> bool:
        is_best = value < self.best
        self.best = min(self.best, value)
        # A non-finite value (a diverged run's NaN) or anchor opens a new window: NaNs never make a plateau.
        if not (math.isfinite(value) and math.isfinite(self.anchor)) or value < self.anchor * (1 - self.cfg.min_delta):
            self.anchor, self.stale = value, 0
        else:
            self.stale += 1
        return is_best

    @property
    def converged(self) -> bool:
        return self.stale >= self.cfg.patience


def stop_rule(cfg: StopConfig | None) -> str:
    """The rule a run is held to: the plateau criterion, or none (a fixed schedule never converges)."""
    return "early stopping off (fixed schedule)" if cfg is None else cfg.criterion()


FAILED_TO_TRAIN = "best validation at the first validation: the run never improved on it"


def record(cfg: StopConfig | None, converged: bool, epochs_run: int, cap: int, best_epoch: int,
           first_val_epoch: int | None = None) -> dict:
    """What a run's metrics record about convergence.

    `best_epoch` and `first_val_epoch` (the epoch of the run's first validation) count epochs as the caller does.
    A run with best_epoch == first_val_epoch failed to train: `failed_to_train` True, not converged, and the
    criterion says why. None: the caller does not say where its first validation was, and no failure is judged.
    """
    failed = first_val_epoch is not None and best_epoch == first_val_epoch
    out = {"converged": cfg is not None and converged and not failed,
           "criterion": FAILED_TO_TRAIN if failed else stop_rule(cfg), "epochs_run": epochs_run, "epoch_cap": cap,
           "best_epoch": best_epoch}
    return out if first_val_epoch is None else {**out, "failed_to_train": failed}
