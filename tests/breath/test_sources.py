"""Landmark sources of the breath benchmark: points outside the frame."""

import json

import numpy as np
import tifffile

from thermbench.breath import evaluate as ev
from thermbench.breath import sources as src
from thermbench.datasets.video import Sequence, Subject


class Scripted:
    """A predictor that answers each crop with the next scripted point (crop px), as nostril and centre."""

    def __init__(self, points):
        self.points = iter(points)

    def __call__(self, batch):
        return [(p, p) for p in (np.array(next(self.points), float) for _ in batch)]


def test_a_point_outside_the_frame_is_no_face_and_moves_nothing():
    # Face (40, 40, 60, 60) in a 100 x 80 frame; square crops of 2 x 20 = 40 px at 40 px, so crop px + box corner.
    # f0: box (30, 30): (10, 10) -> (40, 40), the box follows to (20, 20). f1: (-200, 5) -> (-180, 25) outside.
    # f2: still (20, 20): (10, 10) -> (30, 30), box to (10, 10). f3: (95, 10) -> (105, 20), x >= 100 outside.
    # f4: (10, 75) -> (20, 85), y >= 80 outside. f5: the box never moved for them: (-10, 10) -> (0, 20), inside.
    seq = Sequence("s", 1.0, np.zeros((6, 80, 100), np.float32), [Subject("p", (40.0, 40.0, 60.0, 60.0))])
    predict = Scripted([(10, 10), (-200, 5), (10, 10), (95, 10), (10, 75), (-10, 10)])
    points, outside, runs = src.track(seq, seq.subjects[0], predict, src.CropConfig(2.0, 40, (0, 1)))
    nan = np.nan
    np.testing.assert_allclose(points, [[40, 40], [nan, nan], [30, 30], [nan, nan], [nan, nan], [0, 20]])
    assert (outside, runs) == (3, 6)


def _write_video(folder, frames, face_box, fps=5.0):
    """One sequence in the documented format (float32 °C TIFFs, meta.json), no ground truth."""
    (folder / "frames").mkdir(parents=True)
    for i, frame in enumerate(frames):
        tifffile.imwrite(folder / "frames" / f"f{i:03d}.tif", frame.astype(np.float32))
    meta = {"fps": fps, "units": "celsius", "subjects": [{"id": "p", "face_box": face_box}], "scene": "test"}
    (folder / "meta.json").write_text(json.dumps(meta))


def test_track_file_counts_points_outside_the_frame(tmp_path, monkeypatch):
    _write_video(tmp_path / "v" / "a", np.zeros((6, 80, 100)), [40.0, 40.0, 60.0, 60.0])
    script = [(10, 10), (-200, 5)] * 3  # every second point outside the frame
    monkeypatch.setattr(ev, "_predictor_factory", lambda *_: (lambda: Scripted(script),
                                                              src.CropConfig(2.0, 40, (0, 1))))
    out = ev.track_source("mediapipe", tmp_path / "v", tmp_path / "t.json", ev.TrackConfig())
    saved = json.loads((tmp_path / "t.json").read_text())
    assert out["available"] and {k: saved[k] for k in ev.TRACK_CHECKS} == {
        "outside_frame": 3, "model_frames": 6, "not_tracked": []}
    assert np.isnan(np.array(saved["tracks"]["a"]["p"], float)[1::2]).all()
