"""Early stopping on scripted validation sequences: when the criterion holds, what resets it, what counts as best."""

import pytest

from thermbench.core.convergence import Plateau, StopConfig, record


def _feed(plateau: Plateau, values: list[float]) -> list[tuple[bool, bool]]:
    """(is best, converged) after each value."""
    return [(plateau.update(v), plateau.converged) for v in values]


def test_plateau_converges_after_patience_validations_without_a_2pct_improvement():
    p = Plateau(StopConfig(patience=2, min_delta=0.02))
    # 1.0 opens the window. 0.99 (-1%) and 0.985 (-1.5% from 1.0) are new bests but not > 2% below 1.0:
    # stale 1, then stale 2 = patience -> converged at the third value.
    assert _feed(p, [1.0, 0.99, 0.985]) == [(True, False), (True, False), (True, True)]
    assert p.best == 0.985 and p.anchor == 1.0


def test_plateau_improvement_over_2pct_resets_the_window():
    p = Plateau(StopConfig(patience=2, min_delta=0.02))
    # 1.0 anchor; 0.99 stale 1; 0.97 < 1.0 x 0.98 = 0.98 -> new anchor, stale 0; 0.96 > 0.97 x 0.98 = 0.9506: stale 1;
    # 1.2 (worse) stale 2 -> converged.
    assert _feed(p, [1.0, 0.99, 0.97, 0.96, 1.2]) == [(True, False), (True, False), (True, False), (True, False),
                                                      (False, True)]
    assert p.anchor == 0.97 and p.best == 0.96


def test_creeping_1pct_steps_reset_once_they_add_up_past_2pct():
    p = Plateau(StopConfig(patience=3, min_delta=0.02))
    # 1% per step from 1.0: 0.99 (stale 1), 0.9801 (-1.99% of 1.0, stale 2), 0.970299 (-2.97% of 1.0, < 0.98):
    # new anchor, stale 0; never converged although no single step beat its predecessor by 2%.
    values = [1.0, 0.99, 0.9801, 0.970299]
    assert _feed(p, values) == [(True, False)] * 4
    assert p.anchor == 0.970299 and p.stale == 0
    # With patience 2 the same run stops at 0.9801 (two validations within 2% of 1.0) ...
    q = Plateau(StopConfig(patience=2, min_delta=0.02))
    assert [c for _, c in _feed(q, values[:3])] == [False, False, True]
    # ... and a further fed value resets it as soon as the accumulated gain passes 2%.
    q.update(values[3])
    assert not q.converged


def test_update_is_true_only_for_a_new_best():
    p = Plateau(StopConfig(patience=5, min_delta=0.02))
    # 0.5 first: best. 0.5 again: equal, not better. 0.6 worse. 0.4999 better by a hair: best (the checkpoint kept),
    # though too small to reset the window (stale counts 0.5, 0.6, 0.4999 -> 3).
    assert [p.update(v) for v in (0.5, 0.5, 0.6, 0.4999)] == [True, False, False, True]
    assert p.stale == 3 and not p.converged


def test_min_delta_zero_counts_every_strict_improvement():
    p = Plateau(StopConfig(patience=1, min_delta=0.0))
    # 1.0, 0.9 (improves: stale 0), 0.9 (equal: stale 1 -> converged with patience 1)
    assert _feed(p, [1.0, 0.9, 0.9]) == [(True, False), (True, False), (False, True)]


@pytest.mark.parametrize("cfg", [StopConfig(0), StopConfig(-1), StopConfig(2, -0.01), StopConfig(2, 1.0)])
def test_invalid_configs_raise(cfg):
    with pytest.raises(ValueError, match="patience >= 1 and 0 <= min_delta < 1"):
        Plateau(cfg)


def test_criterion_text():
    assert StopConfig(patience=3).criterion() == (
        "no validation improvement larger than 2% over the last 3 validations")
    assert StopConfig(patience=10, min_delta=0.005).criterion() == (
        "no validation improvement larger than 0.5% over the last 10 validations")


def test_record_with_and_without_early_stopping():
    assert record(StopConfig(2), True, epochs_run=7, cap=30, best_epoch=5) == {
        "converged": True, "criterion": "no validation improvement larger than 2% over the last 2 validations",
        "epochs_run": 7, "epoch_cap": 30, "best_epoch": 5}
    # Off: a fixed schedule never counts as converged, whatever is passed.
    assert record(None, True, epochs_run=30, cap=30, best_epoch=30) == {
        "converged": False, "criterion": "early stopping off (fixed schedule)", "epochs_run": 30, "epoch_cap": 30,
        "best_epoch": 30}


def test_nan_validations_never_make_a_plateau():
    # A diverged run's NaN validation is no measured non-improvement: it opens a new window instead of counting as
    # stale, so a run that stays NaN never stops "converged", and a real value after a NaN starts afresh.
    p = Plateau(StopConfig(patience=2, min_delta=0.02))
    assert _feed(p, [float("nan"), 1.0, 0.5]) == [(False, False), (True, False), (True, False)]
    assert p.anchor == 0.5 and p.best == 0.5
    q = Plateau(StopConfig(patience=2, min_delta=0.02))
    # 1.0 then NaN, NaN: each NaN resets the window; the run runs to its cap, not converged.
    assert [c for _, c in _feed(q, [1.0, float("nan"), float("nan"), float("nan")])] == [False] * 4
    assert q.best == 1.0  # the kept checkpoint is still the finite best


def test_record_flags_a_run_whose_best_validation_is_its_first_as_failed_to_train():
    # TinyHead counts epochs from 0 and validates every epoch: best epoch 0 = never improved on its first validation.
    # The plateau rule held (25 validations without a 2% gain), yet the run did not converge: it failed to train.
    assert record(StopConfig(25), True, epochs_run=26, cap=120, best_epoch=0, first_val_epoch=0) == {
        "converged": False, "criterion": "best validation at the first validation: the run never improved on it",
        "epochs_run": 26, "epoch_cap": 120, "best_epoch": 0, "failed_to_train": True}
    assert record(StopConfig(25), True, epochs_run=95, cap=120, best_epoch=69, first_val_epoch=0) == {
        "converged": True, "criterion": "no validation improvement larger than 2% over the last 25 validations",
        "epochs_run": 95, "epoch_cap": 120, "best_epoch": 69, "failed_to_train": False}
    # epochs counted from 1, validated every 2nd: the first validation is epoch 2, so best epoch 2 failed, 4 did not
    assert record(StopConfig(3), True, epochs_run=8, cap=40, best_epoch=2, first_val_epoch=2)["failed_to_train"]
    assert record(StopConfig(3), True, epochs_run=10, cap=40, best_epoch=4, first_val_epoch=2)["converged"]
    # a fixed schedule fails to train the same way
    assert record(None, False, epochs_run=30, cap=30, best_epoch=0, first_val_epoch=0)["criterion"].startswith(
        "best validation at the first validation")
    # no first validation given: nothing judged, the record as before
    assert record(StopConfig(2), True, epochs_run=7, cap=30, best_epoch=1) == {
        "converged": True, "criterion": "no validation improvement larger than 2% over the last 2 validations",
        "epochs_run": 7, "epoch_cap": 30, "best_epoch": 1}
