"""A breath_tracks predictions file read as a built-in source's track is kept: a point outside the frame is no face
there and is counted, by hand on a 5-frame video."""

import json

import numpy as np
import pandas as pd
import tifffile

from profile_configs import default_config
from thermbench.breath import sources as S
from thermbench.breath import tracks as tr
from thermbench.breath.submission import write_tracks
from thermbench.core.submissions import Submission

TRACK = default_config("breath.track", S.TrackConfig, {"workers": 1, "skip": []})


def test_a_submitted_point_outside_the_frame_is_no_face_and_is_counted(tmp_path):
    video = tmp_path / "videos" / "a"
    (video / "frames").mkdir(parents=True)
    for i in range(5):  # 100 x 80 frames: x in [0, 100), y in [0, 80)
        tifffile.imwrite(video / "frames" / f"f{i:03d}.tif", np.zeros((80, 100), np.float32))
    (video / "meta.json").write_text(json.dumps({"fps": 5.0, "units": "celsius", "scene": "test",
                                                 "subjects": [{"id": "p", "face_box": [40, 40, 60, 60]}]}))
    # f0 inside; f1 x = 100 (the frame's right edge: outside); f2 y < 0; f3 no face (empty); f4 (0, 79.9) inside
    pd.DataFrame({"sequence": "a", "subject": "p", "frame": range(5), "x": [50.0, 100.0, 10.0, np.nan, 0.0],
                  "y": [40.0, 20.0, -0.5, np.nan, 79.9]}).to_csv(tmp_path / "t.csv", index=False)
    write_tracks([Submission("mine", "breath_tracks", tmp_path / "t.csv", "")], tmp_path / "videos",
                 tmp_path / "out", TRACK)
    track = tr.read_tracks(tmp_path / "out" / "mine.json")
    nan = np.nan
    np.testing.assert_array_equal(track["tracks"]["a"]["p"], [[50, 40], [nan, nan], [nan, nan], [nan, nan],
                                                              [0, 79.9]])
    assert {k: track[k] for k in tr.TRACK_CHECKS} == {"outside_frame": 2, "model_frames": 5, "not_tracked": []}
