"""Backbone checkpoints per size (rtmpose.backbone_checkpoints): fetched once with a pinned sha256, loaded into the
teacher and every student (backbone only, head random), and, where a checkpoint cannot be had, one line and the
offline stand-in; with none set, the runs start exactly as before."""

import hashlib
import urllib.error
from dataclasses import fields, replace

import pytest
import torch

from model_builders import official_backbone_state, official_checkpoint
from split_builders import dot_split
from thermbench.core import download
from thermbench.core.io import InputError
from thermbench.core.stage import build, seed_everything
from thermbench.datasets.crop_store import save_splits
from thermbench.mlcmkd import runs
from thermbench.mlcmkd.backbones import backbone_checkpoint, backbone_sources, build_student, student_backbones
from thermbench.mlcmkd.groups import student_archs
from thermbench.mlcmkd.run_outputs import GroupPaths, RunPaths
from thermbench.mlcmkd.runs import run_ktl, run_mcl, run_supervised, run_teacher
from thermbench.mlcmkd.settings import RTMPoseParams, Settings, train_params
from thermbench.models.rtmpose import build_rtmpose, load_run, save_model
from thermbench.models.weights import Checkpoint

SIZE = 64
URL = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/cspnext-tiny_udp-aic-coco_210e-256x192-cbed682d_20230130.pth"


def _settings(checkpoints: dict, cache, ktl_arch: str = "t", mcl_arch: str = "t", supervised=("t",)) -> Settings:
    train = {"device": "cpu", "num_threads": 1, "run_threads": 1, "workers": 1, "seeds": [0], "teacher_epochs": 1,
             "max_train_samples": None, "fit": {"epochs": 1, "batch_size": 4, "progress": False},
             "kp_weight": 0.1, "kp_reference_batch": None, "scratch": {}, "scratch_seeds": [],
             "ktl": {"dikd_mode": "text", "runs": ["fdld"], "variants": {"fdld": {"fd": True, "ld": True}},
                     "weights": {}},
             "mcl": {"variants": ["fdld"], "weights": {}}}
    rtmpose = RTMPoseParams(SIZE, "t", None, "pretrained", (), ktl_arch, mcl_arch, tuple(supervised), checkpoints,
                            str(cache))
    return Settings(seed=0, rtmpose=rtmpose, train=train_params(train),
                    data={"tfake": "synthetic", "charlotte": "synthetic"})


def _checkpoint_file(path, arch: str = "t") -> dict:
    """An official-layout file (publish_model's legacy format) for RTMPose-`arch` at `path`; returns its backbone."""
    model = build_rtmpose(arch, input_size=(SIZE, SIZE))
    backbone = official_backbone_state(model, seed=5)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(official_checkpoint(backbone, "mmpose", model.feature_channels), path,
               _use_new_zipfile_serialization=False)
    return backbone


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(download.urllib.request, "urlopen", refuse)


def _seeded(arch: str, seed: int) -> dict:
    torch.manual_seed(seed)
    return build_rtmpose(arch, input_size=(SIZE, SIZE)).state_dict()


def _starts_from(state: dict, backbone: dict, fresh: dict) -> bool:
    """`state`'s backbone is the file's (`backbone`), its head the seeded build's (`fresh`)."""
    return all(torch.equal(v, backbone[k] if k.startswith("backbone.") else fresh[k]) for k, v in state.items())


def test_a_url_is_downloaded_once_and_its_sha256_pinned(tmp_path, capsys, monkeypatch):
    source = tmp_path / "mirror/cspnext-t.pth"
    _checkpoint_file(source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    rtmpose = _settings({"t": source.as_uri()}, tmp_path / "cache").rtmpose
    checkpoint = backbone_checkpoint(rtmpose, "t", "unused")
    cached = tmp_path / "cache/cspnext-t.pth"
    assert checkpoint == Checkpoint(cached, digest) and cached.read_bytes() == source.read_bytes()
    assert (tmp_path / "cache/cspnext-t.pth.sha256").read_text() == digest + "\n"
    assert capsys.readouterr().err.endswith(f"RTMPose-t: backbone from {cached} (sha256 {digest})\n")
    # Once there, it is not fetched again (no network needed) ...
    _no_network(monkeypatch)
    assert backbone_checkpoint(rtmpose, "t", "unused") == checkpoint
    # ... and a file that changed under its pin is refused, not used.
    cached.write_bytes(b"truncated")
    with pytest.raises(InputError, match=r"cspnext-t\.pth: sha256 [0-9a-f]{64} differs from the one pinned"):
        backbone_checkpoint(rtmpose, "t", "unused")


def test_a_local_path_is_used_where_it_lies(tmp_path, capsys):
    source = tmp_path / "mine/cspnext-t.pth"
    _checkpoint_file(source)
    rtmpose = _settings({"t": str(source)}, tmp_path / "cache").rtmpose
    checkpoint = backbone_checkpoint(rtmpose, "t", "unused")
    assert checkpoint == Checkpoint(source, hashlib.sha256(source.read_bytes()).hexdigest())
    assert not (tmp_path / "cache").exists()
    assert capsys.readouterr().err == f"RTMPose-t: backbone from {source} (sha256 {checkpoint.sha256})\n"


@pytest.mark.parametrize("ref", [URL, "downloads/nowhere/cspnext-t.pth", "http://127.0.0.1:port/cspnext-t.pth"],
                         ids=["no network", "no file", "malformed url"])
def test_a_checkpoint_that_cannot_be_had_gives_one_line_and_the_stand_in(ref, tmp_path, capsys, monkeypatch):
    if ref == URL:
        _no_network(monkeypatch)
    save_model(build_rtmpose("t", input_size=(SIZE, SIZE)), tmp_path / "teacher/model.safetensors")
    settings = _settings({"t": ref}, tmp_path / "cache")
    sources = student_backbones(settings, student_archs(settings, "supervised"),
                                backbone_sources([tmp_path / "teacher"]))
    assert sources == {"t": tmp_path / "teacher"}
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"RTMPose-t: backbone checkpoint {ref} not available (")
    assert err.endswith(f"); set rtmpose.backbone_checkpoints.t to a local copy of it; its students start from the "
                        f"offline stand-in instead, the backbone of {tmp_path / 'teacher'} (an RTMPose-t pretrained "
                        "on the RGB face set here)\n")
    assert not (tmp_path / "cache/cspnext-tiny_udp-aic-coco_210e-256x192-cbed682d_20230130.pth").exists()
    assert build_student(settings, "t", sources)[1] == "pretrained backbone"


def test_each_group_resolves_its_students_sizes_and_states_the_stand_in(tmp_path, capsys):
    backbone = _checkpoint_file(tmp_path / "t.pth")
    save_model(build_rtmpose("s", input_size=(SIZE, SIZE)), tmp_path / "pretrain/pretrain-s/model.safetensors")
    stand_ins = backbone_sources([tmp_path / "pretrain"])
    settings = _settings({"t": str(tmp_path / "t.pth"), "s": None}, tmp_path / "cache", ktl_arch="s",
                         supervised=("t", "s"))
    digest = hashlib.sha256((tmp_path / "t.pth").read_bytes()).hexdigest()
    supervised = student_backbones(settings, student_archs(settings, "supervised"), stand_ins)
    assert supervised == {"t": Checkpoint(tmp_path / "t.pth", digest), "s": tmp_path / "pretrain/pretrain-s"}
    assert capsys.readouterr().err.splitlines() == [
        f"RTMPose-t: backbone from {tmp_path / 't.pth'} (sha256 {digest})",
        "RTMPose-s: no backbone checkpoint (rtmpose.backbone_checkpoints.s: null): its students start from the offline "
        f"stand-in instead, the backbone of {tmp_path / 'pretrain/pretrain-s'} (an RTMPose-s pretrained on the RGB "
        "face set here)"]
    assert student_backbones(settings, student_archs(settings, "ktl"), stand_ins) == {  # ktl_arch only
        "s": tmp_path / "pretrain/pretrain-s"}
    assert student_backbones(settings, student_archs(settings, "mcl"), {})["t"].sha256 == digest  # mcl_arch t
    capsys.readouterr()
    # Students of a size with neither: the line says so, and the build fails in one line as before.
    lacking = replace(settings, rtmpose=replace(settings.rtmpose, backbone_checkpoints={}))
    assert student_backbones(lacking, student_archs(lacking, "mcl"), {}) == {}
    assert "there is no offline stand-in of that size either (add 't' to rtmpose.pretrain_archs)" in \
        capsys.readouterr().err
    # With rtmpose.student_backbone null nothing is fetched: every student starts at random.
    scratch = replace(settings, rtmpose=replace(settings.rtmpose, student_backbone=None))
    assert student_backbones(scratch, student_archs(scratch, "supervised"), stand_ins) == stand_ins
    assert capsys.readouterr().err == ""
    torch.manual_seed(0)
    student, init = build_student(settings, "t", supervised)
    assert init == f"backbone of t.pth (sha256 {digest}), head random"
    assert _starts_from(student.state_dict(), backbone, _seeded("t", 0))


class _Started(Exception):
    """Raised by a stand-in fit function: the weights training would have started from, and the torch RNG state."""


def _started(model, *args, **kwargs):
    raise _Started({k: v.clone() for k, v in model.state_dict().items()}, torch.get_rng_state())


def _caches(root):
    save_splits(root / "tfake", {"train": dot_split(4, 0, SIZE, "same"), "val": dot_split(2, 1, SIZE)})
    save_splits(root / "rgbpretrain", {"train": dot_split(4, 2, SIZE), "val": dot_split(2, 3, SIZE)})


def test_supervised_ktl_and_mcl_students_start_from_the_checkpoint(tmp_path, monkeypatch):
    _caches(tmp_path)
    backbone = _checkpoint_file(tmp_path / "t.pth")
    save_model(build_rtmpose("t", input_size=(SIZE, SIZE)), tmp_path / "teacher/model.safetensors")
    for fit in ("fit_supervised", "fit_ktl", "fit_mcl"):
        monkeypatch.setattr(runs, fit, _started)
    settings = _settings({"t": str(tmp_path / "t.pth")}, tmp_path / "cache")
    paths = GroupPaths(tmp_path / "m", tmp_path / "c", tmp_path / "j", tmp_path / "p", tmp_path / "tfake",
                       tmp_path / "charlotte")
    starts = []
    for group, run in (("supervised", lambda b: run_supervised(settings, "t", 1, b, paths.of("s"))),
                       ("ktl", lambda b: run_ktl(settings, "fdld", 1, tmp_path / "teacher", b, paths.of("k"))),
                       ("mcl", lambda b: run_mcl(settings, "fdld", 1, tmp_path / "teacher", b, paths.of("c")))):
        with pytest.raises(_Started) as started:
            run(student_backbones(settings, student_archs(settings, group), {}))
        starts.append(started.value.args[0])
    assert all(_starts_from(state, backbone, _seeded("t", 1)) for state in starts)


def test_the_teacher_starts_from_its_checkpoint_or_as_before(tmp_path, capsys, monkeypatch):
    _caches(tmp_path)
    backbone = _checkpoint_file(tmp_path / "t.pth")
    monkeypatch.setattr(runs, "fit_supervised", _started)
    paths = RunPaths(tmp_path / "teacher", tmp_path / "c", tmp_path / "j.json", tmp_path / "p.npy",
                     tmp_path / "tfake", tmp_path / "charlotte")
    seed_everything(0)  # as `setup` seeds the teacher's build
    fresh = build_rtmpose("t", input_size=(SIZE, SIZE)).state_dict()
    rng = torch.get_rng_state()
    with pytest.raises(_Started) as started:
        run_teacher(_settings({"t": str(tmp_path / "t.pth")}, tmp_path / "cache"), tmp_path / "rgbpretrain", paths)
    assert _starts_from(started.value.args[0], backbone, fresh)
    # None set: the seeded build alone, and no random number drawn besides it.
    capsys.readouterr()
    with pytest.raises(_Started) as started:
        run_teacher(_settings({}, tmp_path / "cache"), tmp_path / "rgbpretrain", paths)
    state, after = started.value.args
    assert all(torch.equal(v, fresh[k]) for k, v in state.items()) and torch.equal(after, rng)
    assert capsys.readouterr().err.startswith(
        "RTMPose-t: no backbone checkpoint (rtmpose.backbone_checkpoints.t: null): the teacher starts from random "
        "weights instead; pretrained on the RGB face set, it is the offline stand-in of its size\n")


def test_a_stand_in_student_draws_the_random_numbers_it_drew_before(tmp_path):
    # The default profile's students (no checkpoint): the seeded build, then the stand-in loaded as a model (which
    # draws), so training starts from the same weights and the same RNG state as before checkpoints were wired in.
    save_model(build_rtmpose("t", input_size=(SIZE, SIZE)), tmp_path / "teacher/model.safetensors")
    torch.manual_seed(3)
    build_rtmpose("t", input_size=(SIZE, SIZE))
    load_run(tmp_path / "teacher")
    expected = torch.get_rng_state()
    torch.manual_seed(3)
    build_student(_settings({}, tmp_path / "cache"), "t", {"t": tmp_path / "teacher"})
    assert torch.equal(torch.get_rng_state(), expected)


def test_unknown_sizes_and_refs_that_are_not_text_are_refused(tmp_path):
    with pytest.raises(InputError, match=r"backbone_checkpoints has unknown size\(s\) tiny \(expected t, s, m, l, x"):
        backbone_checkpoint(_settings({"tiny": "t.pth"}, tmp_path).rtmpose, "t", "unused")
    raw = {f.name: getattr(_settings({}, tmp_path).rtmpose, f.name) for f in fields(RTMPoseParams)}
    with pytest.raises(InputError, match=r"'rtmpose.backbone_checkpoints.t' must be str, not 5"):
        build(RTMPoseParams, {**raw, "backbone_checkpoints": {"t": 5}}, "rtmpose")
