import dataclasses
import hashlib

import numpy as np
import pytest
import torch

from profile_configs import default_section
from raw_builders import build_thermeval_frames
from thermbench.core.io import InputError
from thermbench.core.stage import build
from thermbench.models.rtmdet import build_rtmdet
from thermbench.speed import deploy, detect_then_pose


def _config(**values) -> deploy.DeployConfig:
    return build(deploy.DeployConfig, default_section("speed.deploy", {"detector_input_size": [64, 64], **values}),
                 "speed.deploy")


def _checkpoint(path, seed=1):
    torch.manual_seed(seed)
    torch.save({"state_dict": build_rtmdet("nano", (64, 64)).state_dict()}, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_no_checkpoint_keeps_the_seeded_weights():
    model = build_rtmdet("nano", (64, 64))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert deploy.detector_weights(model, _config()) == "seeded"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_local_checkpoint_is_loaded_and_named_with_its_sha256(tmp_path):
    digest = _checkpoint(tmp_path / "det.pth")
    model = build_rtmdet("nano", (64, 64))
    assert deploy.detector_weights(model, _config(detector_checkpoint=str(tmp_path / "det.pth"))) == \
        f"det.pth (sha256 {digest[:12]})"
    torch.manual_seed(1)
    want = build_rtmdet("nano", (64, 64)).state_dict()
    assert all(torch.equal(want[k], v) for k, v in model.state_dict().items())


def test_a_downloaded_checkpoint_lands_in_the_cache_with_its_sha256_pinned(tmp_path):
    digest = _checkpoint(tmp_path / "det.pth")
    cache = tmp_path / "cache"
    cfg = _config(detector_checkpoint=(tmp_path / "det.pth").as_uri(), detector_cache=str(cache))
    assert deploy.detector_weights(build_rtmdet("nano", (64, 64)), cfg) == f"det.pth (sha256 {digest[:12]})"
    assert (cache / "det.pth.sha256").read_text().strip() == digest


def test_a_checkpoint_that_cannot_be_had_leaves_seeded_weights_and_one_line_says_so(tmp_path, capsys):
    cfg = _config(detector_checkpoint=str(tmp_path / "absent.pth"))
    assert deploy.detector_weights(build_rtmdet("nano", (64, 64)), cfg) == "seeded"
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "absent.pth" in err and "seeded weights" in err


def test_a_checkpoint_of_another_network_is_refused_in_one_line(tmp_path):
    torch.save({"state_dict": {"backbone.stem.0.conv.weight": torch.zeros(3)}}, tmp_path / "other.pth")
    cfg = _config(detector_checkpoint=str(tmp_path / "other.pth"))
    with pytest.raises(InputError, match="does not fit RTMDet-nano"):
        deploy.detector_weights(build_rtmdet("nano", (64, 64)), cfg)


def test_a_trained_detector_is_compared_on_thermeval_frames_and_a_seeded_one_on_seeded_frames(tmp_path):
    thermeval = build_thermeval_frames(tmp_path, np.random.default_rng(0), ["test", "train", "test", "train", "train"])
    cfg = _config(detector_input_size=[64, 32], agreement_frames=4)
    cfg = dataclasses.replace(cfg, int8=dataclasses.replace(cfg.int8, calibration_crops=2))
    detector = build_rtmdet("nano", (64, 32))
    frames, calibration = deploy.detector_frames(cfg, detector, True, thermeval, seed=0)
    # every test frame there is (2 of the 4 asked), then the first 2 train frames, each 96x64 letterboxed into 64x32
    assert frames.shape == (2, 32, 64) and calibration.shape == (2, 32, 64) and frames.dtype == np.uint8
    want, _ = detect_then_pose.person_frames(*thermeval, ("test",), (64, 32))
    assert np.array_equal(frames, want)
    assert np.array_equal(calibration, detect_then_pose.person_frames(*thermeval, ("train",), (64, 32), 2)[0])
    frames, calibration = deploy.detector_frames(cfg, detector, False, (tmp_path / "none", tmp_path / "none"), seed=3)
    assert np.array_equal(frames, detect_then_pose.seeded_frames(detector, 4, 3))
    assert np.array_equal(calibration, detect_then_pose.calibration_frames(detector, 2, 3))


def test_the_table_says_what_the_boxes_were_compared_on_and_how_to_measure_a_seeded_detectors():
    seeded = {"weights": "seeded", "input_size": [320, 320]}
    trained = {"weights": "det.pth (sha256 0123456789ab)", "input_size": [320, 256]}
    assert deploy._detector_weights(seeded).startswith("seeded detector weights")
    assert deploy._detector_weights(trained) == "detector weights det.pth (sha256 0123456789ab)"
    assert deploy._compared_frames(seeded).startswith("seeded frames. Boxes narrower than 1 px")
    assert "set speed.deploy.detector_checkpoint to trained weights" in deploy._compared_frames(seeded)
    assert deploy._compared_frames(trained) == "ThermEval test frames letterboxed to 256×320"  # H×W, as the table


def test_a_file_that_is_no_checkpoint_is_refused_in_one_line(tmp_path):
    (tmp_path / "bad.pth").write_text("not a checkpoint")
    cfg = _config(detector_checkpoint=str(tmp_path / "bad.pth"))
    with pytest.raises(InputError, match=r"bad.pth: not a readable torch checkpoint") as err:
        deploy.detector_weights(build_rtmdet("nano", (64, 64)), cfg)
    assert "\n" not in str(err.value)
