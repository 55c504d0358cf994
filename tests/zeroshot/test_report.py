"""Zero-shot report built from metrics alone: table rows, status rows, figures with the data tag."""

import numpy as np

from thermbench.zeroshot import report


def _block(rate, mean, pck):
    return {"detection_rate": rate, "mean_px": mean, "median_px": mean, "n_gt": 4,
            "pck": {f"{t}px": v for t, v in zip([3, 10], pck)}}


RESULTS = {
    "dwpose": {"model": "dwpose", "data": "synthetic", "status": "weights not available: get them from X"},
    "tfan": {"model": "tfan", "data": "synthetic", "status": "weights not available: TFAN from Y"},
    "mediapipe": {
        "model": "mediapipe", "data": "synthetic", "status": "ok",
        "full_frame": _block(0.25, 4.0, [0.0, 0.25]),
        "crop": {"frame_px": _block(0.5, 2.0, [0.5, 0.5]), "crop_px": _block(0.5, 6.25, [0.0, 0.5])},
        "crop_offset_corrected": {"frame_px": _block(0.5, 1.0, [0.5, 0.5]), "crop_px": _block(0.5, 3.0, [0.5, 0.5])},
        "offset": {"crop_px_xy": [1.5, -2.0], "n_fit": 3},
    },
}


def test_table_rows_and_status():
    md = report.table(RESULTS, [3, 10], cap=80)
    assert "(SYNTHETIC data)" in md
    assert "| MediaPipe FaceMesh | 25% | 4.0 px | 4.0 px | 0% | 25% |" in md
    assert "| MediaPipe FaceMesh | 50% | 6.2 px | 6.2 px | 0% | 50% |" in md  # crop px block
    assert "| DWPose (rtmlib) | weights not available | | | | |" in md
    assert "| MediaPipe FaceMesh | 1.5 px | -2.0 px | 3 |" in md
    assert "- DWPose (rtmlib): weights not available: get them from X" in md
    assert "Match cap 80 px" in md
    assert "| TFAN (T-FAKE) | weights not available | | | | |" in md
    assert "- TFAN (T-FAKE): weights not available: TFAN from Y" in md
    assert "- TFAN (T-FAKE) nose centre:" not in md                    # stated only when asked for


def test_a_submission_row_is_marked_and_its_notes_listed():
    mine = {**RESULTS["mediapipe"], "model": "mine", "notes": "fine-tuned RTMPose-m, CC-BY-4.0"}
    md = report.table({**RESULTS, "mine": mine}, [3, 10], cap=80)
    assert "| mine (submission) | 25% | 4.0 px | 4.0 px | 0% | 25% |" in md
    assert "- mine (submission): fine-tuned RTMPose-m, CC-BY-4.0" in md


def test_tfan_nose_definition_is_stated_from_the_schema():
    md = report.table(RESULTS, [3, 10], cap=80, noses={"tfan": "facesynthetics70"})
    line = next(x for x in md.splitlines() if x.startswith("- TFAN (T-FAKE) nose centre:"))
    assert line.startswith("- TFAN (T-FAKE) nose centre: mean of facesynthetics70 points 31, 32, 33, 34, 35 (mean of "
                           "the nose-base arc 31-35")


def test_figures_carry_the_data_tag():
    fig, rows = report.pck_curves(RESULTS, [3, 10])
    assert "SYNTHETIC data" in fig._suptitle.get_text()
    assert len(rows) == 8 and rows[0] == {"protocol": "full_frame/frame_px", "model": "mediapipe",
                                          "threshold_px": 3, "pck": 0.0}
    bars = report.detection_bars(RESULTS).axes[0]
    assert "SYNTHETIC data" in bars.get_title()
    frames = [np.zeros((4, 3), np.uint8)]
    grid = report.qualitative_grid(frames, {"mediapipe": [{"image_file": "images/a.png", "gt": [[1, 1]], "pred": []}]},
                                   upscale=4, source="synthetic")
    assert "SYNTHETIC data" in grid._suptitle.get_text()
    assert "SYNTHETIC data" in report.qualitative_grid([], {}, 4, "synthetic")._suptitle.get_text()


def test_detection_bars_model_names_do_not_overlap():
    """Five models' names side by side at the published size: wrapped, so no two tick labels overlap."""
    names = ["dwpose", "sapiens2", "mediapipe", "dlib68", "tfan"]
    results = {m: {**next(iter(RESULTS.values())), "status": "weights not available"} for m in names}
    fig = report.detection_bars(results)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in fig.axes[0].get_xticklabels()]
    assert len(boxes) == 5 and all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))
