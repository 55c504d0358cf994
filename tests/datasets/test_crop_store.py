import json

import cv2
import numpy as np
import pandas as pd
import pytest

from thermbench.core.io import InputError
from thermbench.datasets import crop_store
from thermbench.datasets.crop_store import Rows, load_split, load_splits, save_splits, store_split


def _prepared(root, n=5):
    """`n` crops of 32 px (gray + RGB twin, pixel value 10 i), splits train/train/val/train/test..., 68 points."""
    (root / "crops").mkdir(parents=True)
    rows = []
    for i in range(n):
        cv2.imwrite(str(root / "crops" / f"{i}.png"), np.full((32, 32), 10 * i, np.uint8))
        cv2.imwrite(str(root / "crops" / f"{i}_rgb.png"), np.full((32, 32, 3), (10 * i, 1, 2), np.uint8))
        pts = [[8.0 + i, 16.0, 1]] * 67 + [[0.0, 0.0, 0]]
        rows.append({"sample_id": f"s{i}", "split": ["train", "train", "val", "train", "test"][i % 5],
                     "crop_path": f"crops/{i}.png", "rgb_crop_path": f"crops/{i}_rgb.png", "kpts": json.dumps(pts),
                     "view": "front" if i % 2 else "side"})
    pd.DataFrame(rows).to_csv(root / "samples.csv", index=False)
    return root


def test_a_stored_split_holds_what_load_split_decodes(tmp_path, monkeypatch):
    monkeypatch.setattr(crop_store, "CHUNK_ROWS", 2)  # samples.csv read two rows at a time
    prepared = _prepared(tmp_path / "p", n=9)
    assert store_split(tmp_path / "s", prepared, "train", 16, paired=True, meta_columns=("view",)) == 6
    stored = load_splits(tmp_path / "s", ("train",))["train"]
    memory = load_split(prepared, "train", 16, paired=True)
    assert isinstance(stored.images, Rows) and stored.images.shape == (6, 16, 16)
    for name in ("images", "paired", "kpts", "visible", "scale"):
        assert np.array_equal(np.asarray(getattr(stored, name)), getattr(memory, name)), name
    # train rows 0, 1, 3, 5, 6, 8: pixel 10 i, first point at x = (8 + i) / 2 in input px
    assert list(stored.images[:][:, 0, 0]) == [0, 10, 30, 50, 60, 80]
    assert list(stored.kpts[:, 0, 0]) == [4.0, 4.5, 5.5, 6.5, 7.0, 8.0]
    assert stored.visible[0, 67] == 0 and stored.paired[2][0, 0].tolist() == [2, 1, 30]  # written BGR, held RGB
    assert stored.meta.to_dict("list") == {"sample_id": ["s0", "s1", "s3", "s5", "s6", "s8"],
                                          "view": ["side", "front", "front", "front", "side", "side"]}


def test_rows_read_single_rows_slices_and_index_arrays(tmp_path):
    data = np.arange(5 * 2 * 3, dtype=np.int16).reshape(5, 2, 3)
    np.save(tmp_path / "a.npy", data)
    rows = Rows(tmp_path / "a.npy")
    assert len(rows) == 5 and rows.shape == (5, 2, 3) and rows.ndim == 3
    assert np.array_equal(rows[3], data[3]) and np.array_equal(rows[-1], data[4])
    assert np.array_equal(rows[1:4], data[1:4]) and np.array_equal(rows[::2], data[::2])
    assert np.array_equal(rows[np.array([4, 0, 4])], data[[4, 0, 4]])
    assert np.array_equal(rows.head(2)[:], data[:2]) and len(rows.head(9)) == 5
    with pytest.raises(IndexError):
        rows[np.array([5])]


def test_a_truncated_or_missing_store_is_one_clear_error(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((4, 8), np.uint8))
    (tmp_path / "a.npy").write_bytes((tmp_path / "a.npy").read_bytes()[:-9])
    with pytest.raises(InputError, match="truncated"):
        Rows(tmp_path / "a.npy")[3]
    with pytest.raises(InputError, match="crop store not found"):
        load_splits(tmp_path / "nothing", ("train",))
    save_splits(tmp_path / "s", {"val": load_split(_prepared(tmp_path / "p"), "val", 8)})
    with pytest.raises(InputError, match="no split 'train'"):
        load_splits(tmp_path / "s", ("train",))
    with pytest.raises(InputError, match="no samples in split 'unused'"):
        store_split(tmp_path / "t", tmp_path / "p", "unused", 8)
