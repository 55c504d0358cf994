"""datasets.stats: split sizes and mean coordinates of a prepared samples.csv, hand-computed."""

import pytest

from thermbench.core.io import InputError
from thermbench.datasets.stats import prepared_summary


def test_thermeval_style_columns(tmp_path):
    (tmp_path / "samples.csv").write_text("sample_id,split,nose_x,nose_y,box_w\na,train,10,20,100\n"
                                          "b,train,30,40,200\nc,test,50,60,300\n")
    assert prepared_summary(tmp_path) == {"samples": {"test": 1, "train": 2},
                                          "mean_px": {"nose_x": 30.0, "nose_y": 40.0, "box_w": 200.0}}


def test_keypoint_column_counts_visible_points_only(tmp_path):
    (tmp_path / "samples.csv").write_text('sample_id,split,kpts\na,val,"[[10,20,1],[99,99,0]]"\n'
                                          'b,val,"[[30,40,1],[50,60,1]]"\n')
    summary = prepared_summary(tmp_path)
    assert summary["keypoints"] == {"per_sample": 2, "visible_share": 0.75, "mean_x_px": 30.0, "mean_y_px": 40.0}
    (tmp_path / "samples.csv").write_text("sample_id,split,kpts\na,val,oops\n")
    with pytest.raises(InputError, match="samples.csv: column kpts is not a JSON list"):
        prepared_summary(tmp_path)
