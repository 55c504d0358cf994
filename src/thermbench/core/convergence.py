"""Early stopping on a validation metric, and the convergence criterion every trained model records.

The criterion: a run has converged when its validation metric (lower is better) improved by no more than
`min_delta` (relative) over its last `patience` validations, i.e. no validation in that window beat the value that
opened it by more than min_delta. Training stops there; a run that reaches its epoch cap first has not converged.
The best validation value (any improvement, however small) is the checkpoint that is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class StopConfig:
    patience: int          # validations without a > min_delta improvement before stopping
    min_delta: float = 0.02  # relative improvement that counts (0.02 = 2%)

    def criterion(self) -> str:
        return (f"no validation improvement larger than {100 * self.min_delta:g}% over the last {self.patience} "
                "validations")


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


def record(cfg: StopConfig | None, converged: bool, epochs_run: int, cap: int, best_epoch: int) -> dict:
    """What a run's metrics record about convergence."""
    if cfg is None:
        return {"converged": False, "criterion": "early stopping off (fixed schedule)", "epochs_run": epochs_run,
                "epoch_cap": cap, "best_epoch": best_epoch}
    return {"converged": converged, "criterion": cfg.criterion(), "epochs_run": epochs_run, "epoch_cap": cap,
            "best_epoch": best_epoch}
