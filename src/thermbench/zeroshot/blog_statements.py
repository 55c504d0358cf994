"""The zero-shot report's statements (`thermbench.core.conclusions`): blog part 3's order, pipeline A (FaceMesh on
the full frame) against B (BlazeFace -> crop -> FaceMesh), paired over the same GT noses: the exact McNemar test on
the noses one pipeline detected and the other did not (the part-3 stage's per-nose table). MediaPipe, no training:
deterministic (`trained=False`).

A above B is also one of the rules the synthetic scenes were calibrated to meet (`make calibrate`,
conclusions/synth_calibration.json). `CALIBRATED` names each such statement with the calibration's rule, and the
statement carries it as its `target`: the reports and the conclusions count it as a calibration target, never as a
finding.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from thermbench.core.conclusions import Statement, mcnemar
from thermbench.core.io import InputError

PAIRS = (("A", "B"),)  # blog part 3's order: A detects more GT noses than B
# The calibration's rules beyond the anchors' factor (candidate keys in conclusions/synth_calibration.json): the rule
# in words and the rows whose calibration rates it compares; and the statement that tests each.
RULES = {"a_above_b": ("part 3: A detects more GT noses than B", ("A", "B"))}
CALIBRATED = {"zeroshot.blog_part3.detected_A_vs_B": "a_above_b"}


def part3_statements(noses: pd.DataFrame, path: Path) -> tuple[list[Statement], list[str]]:
    """Per pair of `PAIRS` both run: GT noses detected, A vs B; and a line for each pair not run."""
    if not {"image_file", "nose"} <= set(noses.columns):
        raise InputError(f"{path}: expected columns image_file, nose and <row>_detected per pipeline")
    statements, skipped = [], []
    for a, b in PAIRS:
        missing = [r for r in (a, b) if f"{r}_detected" not in noses.columns]
        if missing:
            skipped.append(f"{a} vs {b}: pipeline {', '.join(missing)} not run (zeroshot_blog.part3.rows)")
            continue
        got_a, got_b = noses[f"{a}_detected"].astype(bool), noses[f"{b}_detected"].astype(bool)
        claim = (f"blog part 3: GT noses detected, pipeline {a} vs {b}, paired over {len(noses)} GT noses of "
                 f"{noses['image_file'].nunique()} frames")
        id = f"zeroshot.blog_part3.detected_{a}_vs_{b}"
        rule = CALIBRATED.get(id)
        statement = mcnemar(id, claim, a, b, int((got_a & ~got_b).sum()), int((got_b & ~got_a).sum()), len(noses),
                            extra={f"{a}_detected": int(got_a.sum()), f"{b}_detected": int(got_b.sum())},
                            trained=False)
        statements.append(replace(statement, target=f"{RULES[rule][0]} (calibration rule {rule})") if rule
                          else statement)
    return statements, skipped
