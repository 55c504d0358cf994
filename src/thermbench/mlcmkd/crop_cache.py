"""The MLCM-KD crop cache: every crop decoded once at the model input size (stage crops_mlcmkd), and the T-FAKE
splits a student trains on, read back from it."""

from __future__ import annotations

from pathlib import Path

from thermbench.datasets.crop_store import Split, load_split, load_splits, save_splits


def cache_crops(size: int, tfake: Path, charlotte: Path, rgbpretrain: Path, out_tfake: Path, out_charlotte: Path,
                out_rgbpretrain: Path) -> None:
    """Stage crops_mlcmkd: decode every crop once at the model input size into one .npz per dataset.
    T-FAKE train and test carry the RGB twin (KTL; the teacher's RGB test), CHARLOTTE its test split with the subset
    columns, the RGB pretraining set its train/val RGB crops."""
    save_splits(out_tfake, {
        "train": load_split(tfake, "train", size, paired=True, all_labelled=True),
        "val": load_split(tfake, "val", size, all_labelled=True),
        "test": load_split(tfake, "test", size, paired=True, all_labelled=True),
    })
    test = load_split(charlotte, "test", size)
    test.meta = test.meta[["sample_id", "width_group", "view", "diag_annotated_px"]]
    save_splits(out_charlotte, {"test": test})
    save_splits(out_rgbpretrain, {s: load_split(rgbpretrain, s, size, modality="rgb", all_labelled=True)
                                  for s in ("train", "val")})


def student_splits(cache: Path, max_train_samples: int | None, paired: bool) -> dict[str, Split]:
    """T-FAKE train and val from the cache, the training crops capped at `max_train_samples` (None: all); the RGB
    twins kept only where `paired` (KTL)."""
    data = load_splits(cache, ("train", "val"))
    cap = max_train_samples
    train = data["train"]
    n = len(train) if cap is None else min(cap, len(train))
    data["train"] = Split(train.images[:n], train.kpts[:n], train.visible[:n], train.scale[:n],
                          train.paired[:n] if paired and train.paired is not None else None)
    return data
