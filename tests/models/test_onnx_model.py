"""A user's ONNX model through its model card: the decoders on models with known outputs, computed by hand; a
malformed card is one line naming the card and the key."""

import numpy as np
import pytest
import torch
import yaml

from model_builders import ConstantPoints, PooledPeak, lively_rtmpose_t, write_card
from thermbench.core.io import InputError
from thermbench.models.onnx_model import OnnxFaceModel, OnnxLandmarks, graph_counts, read_card
from thermbench.models.rtmpose import predict


@pytest.fixture(scope="module")
def heatmap_card(tmp_path_factory):
    return write_card(tmp_path_factory.mktemp("heatmap"), PooledPeak(), 8, "heatmap", ["heatmaps"], channels=1,
                      mean=(0.0,), std=(1.0,))


def test_a_heatmap_model_gives_the_centre_of_its_peak_cell(heatmap_card):
    image = np.zeros((1, 8, 8), np.uint8)
    image[0, 2:4, 4:6] = 200  # the 2x2 block of heatmap cell (column 2, row 1)
    points = OnnxLandmarks(read_card(heatmap_card), threads=1)(image)
    # cell (2, 1) of a 4x4 map over an 8x8 input: centre ((2 + 0.5) * 2, (1 + 0.5) * 2) = (5, 3) input px
    assert points.shape == (1, 68, 2)
    np.testing.assert_array_equal(points[0], np.tile([5.0, 3.0], (68, 1)))


def test_a_face_box_crop_maps_the_model_points_back_to_the_frame(tmp_path):
    card = read_card(write_card(tmp_path, ConstantPoints((16.0, 48.0)), 64, "coords", ["points"]))
    model = OnnxFaceModel(card, threads=1)
    faces = np.array([[100.0, 50.0, 40.0, 80.0]])  # x, y, w, h: crop side 1.25 x 80 = 100 about (120, 90)
    points = model.on_faces(np.zeros((200, 300), np.uint8), faces)
    # crop (70, 40, 100, 100) at 64 px: input (16, 48) -> (70 + 16 * 100 / 64, 40 + 48 * 100 / 64) = (95, 115)
    np.testing.assert_allclose(points[0], np.tile([95.0, 115.0], (68, 1)), atol=1e-9)


class ConvThenLinear(torch.nn.Module):
    """A 3x3 conv (1 -> 2 channels, padding 1) on 8x8, then a linear layer from its 128 values to 136 (68 points)."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Linear(128, 136)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1)).reshape(-1, 68, 2)


def test_graph_counts_weights_and_multiply_adds_by_hand(tmp_path):
    card = read_card(write_card(tmp_path, ConvThenLinear(), 8, "coords", ["points"], channels=1, mean=(0.0,),
                                std=(1.0,)))
    weights, gmacs = graph_counts(card)
    # weights: conv 2*1*3*3 + 2, linear 136*128 + 136 = 20 + 17,544
    # multiply-adds: conv 2*8*8 outputs x 9 each = 1,152; linear 136 outputs x 128 each = 17,408
    assert weights == 17_564 and gmacs == pytest.approx(18_560 / 1e9, rel=1e-12)


def test_an_exported_student_gives_its_own_points(tmp_path):
    student = lively_rtmpose_t(64)
    card = read_card(write_card(tmp_path, student, 64, "simcc", ["simcc_x", "simcc_y"]))
    images = np.random.default_rng(0).integers(0, 256, (5, 64, 64), dtype=np.uint8)
    np.testing.assert_array_equal(OnnxLandmarks(card, threads=1)(images), predict(student, images))


def _broken(card_path, edit):
    card = yaml.safe_load(card_path.read_text())
    edit(card)
    card_path.write_text(yaml.safe_dump(card))
    with pytest.raises(InputError) as err:
        read_card(card_path)
    return str(err.value).removeprefix(f"{card_path}: ")


@pytest.mark.parametrize("edit, rule", [
    (lambda c: c["output"].update(names=["nope"]),
     "output.names: 'nope' is not an output of the graph (it has heatmaps)"),
    (lambda c: c.update(onnx="gone.onnx"), "onnx: {folder}/gone.onnx not found"),
    (lambda c: c["output"].update(kind="boxes"), "output.kind: 'boxes' is not one of simcc, heatmap, coords"),
    (lambda c: c.update(colour="gray"),
     "unknown key(s) colour (known: face, input, keypoints, onnx, output, to_ibug68)"),
    (lambda c: c["input"].update(window_c=[40, 20]), "input.window_c: [40.0, 20.0] is not [low, high]"),
    (lambda c: c["input"].update(size=[16, 16]),
     "input: the graph's input is ['batch', 1, 8, 8], the card gives NCHW [1, 16, 16]"),
    (lambda c: c["input"].update(std=[0.0]), "input.std: expected a list of 1 positive numbers, got [0.0]"),
    (lambda c: c.update(keypoints="coco17"), "keypoints: 'coco17' is not a schema of src/thermbench/schemas"),
    (lambda c: c.update(keypoints="mediapipe478_nose"),
     "output 'heatmaps' has shape (N, 68, 4, 4), the card expects (N, 478, h, w) (heatmap, keypoints "
     "mediapipe478_nose)"),
    (lambda c: c["face"].update(detector="yolo"), "face.detector: 'yolo' is not one of hog, mmod"),
])
def test_a_malformed_card_is_one_line(heatmap_card, tmp_path, edit, rule):
    folder = tmp_path / "card"
    folder.mkdir()
    (folder / "model.onnx").write_bytes((heatmap_card.parent / "model.onnx").read_bytes())
    card = folder / "card.yaml"
    card.write_text(heatmap_card.read_text())
    assert _broken(card, edit) == rule.format(folder=folder)


def test_a_file_that_is_not_onnx_is_one_line(heatmap_card, tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"not a graph")
    card = tmp_path / "card.yaml"
    card.write_text(heatmap_card.read_text())
    with pytest.raises(InputError, match=r"model.onnx is not a model ONNX Runtime can load"):
        read_card(card)


class ThreeColumns(torch.nn.Module):
    """(N, 68, 3): x, y and a score per point, where a coords model gives x, y only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1, :1, :1].reshape(-1, 1, 1) * 0 + torch.ones(68, 3)


class SimccBins(torch.nn.Module):
    """SimCC outputs of 2 bins per px of an 8 px input: (N, 68, 16) for x and y."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bins = x[:, :1, :1, :1].reshape(-1, 1, 1) * 0 + torch.zeros(68, 16)
        return bins, bins


@pytest.mark.parametrize("model, kind, names, extra, rule", [
    (ThreeColumns(), "coords", ["coords"], {},
     "output 'coords' has shape (N, 68, 3), the card expects (N, 68, 2) (coords, keypoints ibug68)"),
    (SimccBins(), "simcc", ["simcc_x", "simcc_y"], {"output.split_ratio": 3.0},
     "output 'simcc_x' has shape (N, 68, 16), the card expects (N, 68, 24) (simcc, keypoints ibug68)"),
    (PooledPeak(), "heatmap", ["heatmaps"], {"output.kind": "coords"},
     "output 'heatmaps' has shape (N, 68, 4, 4), the card expects (N, 68, 2) (coords, keypoints ibug68)"),
])
def test_every_output_shape_is_checked_in_full(tmp_path, model, kind, names, extra, rule):
    channels = 1 if isinstance(model, PooledPeak) else 3
    card = write_card(tmp_path, model, 8, kind, names, channels=channels, mean=(0.0,) * channels,
                      std=(1.0,) * channels, **extra)
    with pytest.raises(InputError) as err:
        read_card(card)
    assert str(err.value) == f"{card}: {rule}"


def test_a_graph_with_a_fixed_batch_is_one_line(tmp_path):
    card = write_card(tmp_path, SimccBins(), 8, "simcc", ["simcc_x", "simcc_y"], dynamic_batch=False)
    with pytest.raises(InputError) as err:
        read_card(card)
    assert str(err.value) == (f"{card}: onnx: the graph's batch axis is fixed at 1; export it with a dynamic one "
                              "(torch.onnx.export(..., dynamic_axes={<input name>: {0: 'batch'}}))")


def test_a_simcc_card_of_the_right_bins_is_taken(tmp_path):
    card = write_card(tmp_path, SimccBins(), 8, "simcc", ["simcc_x", "simcc_y"])
    assert read_card(card).outputs == ("simcc_x", "simcc_y")
