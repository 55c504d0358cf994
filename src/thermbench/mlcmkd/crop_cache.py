"""The MLCM-KD crop stores: every crop decoded once at the model input size (stage crops_mlcmkd), and the T-FAKE
splits a student trains on, read back from them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from thermbench.core.io import atomic_dir
from thermbench.datasets.crop_store import Split, load_splits, store_split


def cache_crops(size: int, tfake: Path, charlotte: Path, rgbpretrain: Path, out_tfake: Path, out_charlotte: Path,
                out_rgbpretrain: Path) -> None:
    """Stage crops_mlcmkd: decode every crop once at the model input size into one store folder per dataset.
    T-FAKE train and test carry the RGB twin (KTL; the teacher's RGB test), CHARLOTTE its test split with the subset
    columns, the RGB pretraining set its train/val RGB crops."""
    cache_tfake(size, tfake, out_tfake)
    with atomic_dir(out_charlotte) as tmp:
        store_split(tmp, charlotte, "test", size, meta_columns=("width_group", "view", "diag_annotated_px"))
    with atomic_dir(out_rgbpretrain) as tmp:
        for split in ("train", "val"):
            store_split(tmp, rgbpretrain, split, size, modality="rgb", all_labelled=True)


def cache_tfake(size: int, tfake: Path, out: Path) -> None:
    """T-FAKE's part of crops_mlcmkd: train and test with their RGB twins, val thermal only."""
    with atomic_dir(out) as tmp:
        store_split(tmp, tfake, "train", size, paired=True, all_labelled=True)
        store_split(tmp, tfake, "val", size, all_labelled=True)
        store_split(tmp, tfake, "test", size, paired=True, all_labelled=True)


def student_splits(cache: Path, max_train_samples: int | None, paired: bool) -> dict[str, Split]:
    """T-FAKE train and val from the store, the training crops capped at `max_train_samples` (None: all); the RGB
    twins kept only where `paired` (KTL)."""
    data = load_splits(cache, ("train", "val"))
    train = data["train"] if max_train_samples is None else data["train"].head(max_train_samples)
    data["train"] = replace(train, paired=train.paired if paired else None, meta=None)
    return data
