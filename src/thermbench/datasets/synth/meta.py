"""The synthetic world's sidecar `synth_meta.csv` beside each raw format (pose, face size, accessories per render or
person): our extra, which no real dataset has."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from thermbench.core.io import InputError


def read_meta(raw: Path) -> pd.DataFrame:
    path = raw / "synth_meta.csv"
    if not path.is_file():
        raise InputError(f"{path}: missing (QA needs the synthetic world's sidecar; is this real data?)")
    return pd.read_csv(path, dtype={"id": str})
