"""A user's landmark model as an ONNX file and a model card (YAML) beside it, run as the project's own models are.

The card (docs/own-model.md; submissions/README.md has a full example):

    onnx: mymodel.onnx          # the model file, relative to the card
    keypoints: ibug68           # the order of its points: a schema of src/thermbench/schemas
    to_ibug68: null             # a mapping of src/thermbench/schemas (<schema>_to_ibug68) where keypoints is not
                                # ibug68; without one the model is not scored in Table I
    input:
      size: [256, 256]          # width, height
      layout: NCHW              # NCHW | NHWC
      channels: 3               # 1: the gray crop; 3: the gray crop repeated (thermal images are gray)
      mean: [123.675, 116.28, 103.53]   # per channel, on the 0..255 scale: (pixel - mean) / std
      std: [58.395, 57.12, 57.375]
      window_c: null            # the breath videos' °C mapped to 0..255 ([lo, hi]); null: each sequence's own
                                # 1st..99.5th percentile of its first frame
    output:
      kind: simcc               # simcc | heatmap | coords
      names: [simcc_x, simcc_y] # simcc: the x and y outputs; heatmap, coords: one output
      split_ratio: 2.0          # simcc: bins per input px
    face:
      detector: hog             # dlib's face detector (hog | mmod) where no face box is given
      upsample: 1               # its upsampling
      crop_scale: 1.25          # the model's crop: a square of this x the face box's longer side

Outputs, all in input px (continuous: pixel i covers [i, i+1)): `simcc` (N, K, W*r) and (N, K, H*r), decoded by argmax
as the project's RTMPose students are (`models.simcc.decode`); `heatmap` (N, K, h, w), the argmax cell's centre
scaled to the input; `coords` (N, K, 2) x, y. K is the schema's point count, W x H the input size, r split_ratio; the
card is refused unless one run on a zero image gives exactly these shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from thermbench.core import crops
from thermbench.core.io import InputError, is_number
from thermbench.core.keypoints import load_schema, map_points
from thermbench.core.onnx_session import cpu_session
from thermbench.models import simcc
from thermbench.models.dlib68 import DETECTORS, Dlib68
from thermbench.models.landmarker import Prediction
from thermbench.models.weights import file_sha256

KEYS = {"onnx", "keypoints", "to_ibug68", "input", "output", "face"}
INPUT_KEYS = {"size", "layout", "channels", "mean", "std", "window_c"}
OUTPUT_KEYS = {"kind", "names", "split_ratio"}
FACE_KEYS = {"detector", "upsample", "crop_scale"}
OUTPUTS = {"simcc": 2, "heatmap": 1, "coords": 1}  # kind -> how many named outputs


@dataclass(frozen=True)
class Card:
    path: Path
    onnx: Path
    keypoints: str
    to_ibug68: list[int | None] | None  # index per iBUG-68 point into the model's points; None: not mappable
    size: tuple[int, int]  # width, height
    layout: str
    channels: int
    mean: np.ndarray
    std: np.ndarray
    window_c: tuple[float, float] | None
    kind: str
    outputs: tuple[str, ...]
    split_ratio: float
    detector: str
    upsample: int
    crop_scale: float
    nose: list[int]  # the schema's nose-centre indices


def _section(card: dict, key: str, known: set, where: str) -> dict:
    value = card.get(key)
    if not isinstance(value, dict):
        raise InputError(f"{where}: {key}: expected a mapping with {', '.join(sorted(known))}")
    unknown = sorted(set(value) - known)
    if unknown:
        raise InputError(f"{where}: {key}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return value


def _numbers(value, count: int, what: str, where: str, positive: bool = False) -> list[float]:
    ok = isinstance(value, list) and len(value) == count and all(
        is_number(v) and np.isfinite(v) and (v > 0 or not positive)
        for v in value)
    if not ok:
        raise InputError(f"{where}: {what}: expected a list of {count} {'positive ' if positive else ''}numbers, "
                         f"got {value!r}")
    return [float(v) for v in value]


def read_card(path: str | Path) -> Card:
    """The model card at `path`, checked against itself and its ONNX graph; each problem is one InputError naming
    the card and the key."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise InputError(f"{where}: model card not found")
    try:
        card = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise InputError(f"{where}: not YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(card, dict):
        raise InputError(f"{where}: expected a mapping with {', '.join(sorted(KEYS))}")
    unknown = sorted(set(card) - KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})")
    inp = _section(card, "input", INPUT_KEYS, where)
    out = _section(card, "output", OUTPUT_KEYS, where)
    face = _section(card, "face", FACE_KEYS, where)

    if not card.get("onnx"):
        raise InputError(f"{where}: onnx: the model file is not named")
    onnx = path.parent / str(card["onnx"])
    if not onnx.is_file():
        raise InputError(f"{where}: onnx: {onnx} not found")
    try:
        schema = load_schema(str(card.get("keypoints")))
    except KeyError:
        raise InputError(f"{where}: keypoints: {card.get('keypoints')!r} is not a schema of "
                         "src/thermbench/schemas") from None
    if "nose_centre" not in schema:
        raise InputError(f"{where}: keypoints: {card['keypoints']!r} is a mapping, not a schema")
    mapping = None
    if card["keypoints"] == "ibug68":
        mapping = list(range(68))
    elif card.get("to_ibug68"):
        try:
            table = load_schema(str(card["to_ibug68"]))
        except KeyError:
            raise InputError(f"{where}: to_ibug68: {card['to_ibug68']!r} is not a mapping of "
                             "src/thermbench/schemas") from None
        if len(table.get("index", [])) != 68:
            raise InputError(f"{where}: to_ibug68: {card['to_ibug68']!r} does not map to ibug68")
        mapping = table["index"]

    width, height = (int(v) for v in _numbers(inp.get("size"), 2, "input.size", where, positive=True))
    if inp.get("layout") not in ("NCHW", "NHWC"):
        raise InputError(f"{where}: input.layout: {inp.get('layout')!r} is not NCHW or NHWC")
    if inp.get("channels") not in (1, 3):
        raise InputError(f"{where}: input.channels: {inp.get('channels')!r} is not 1 or 3")
    channels = int(inp["channels"])
    mean = _numbers(inp.get("mean"), channels, "input.mean", where)
    std = _numbers(inp.get("std"), channels, "input.std", where, positive=True)
    window = inp.get("window_c")
    window = None if window is None else tuple(_numbers(window, 2, "input.window_c", where))
    if window is not None and window[1] <= window[0]:
        raise InputError(f"{where}: input.window_c: {list(window)} is not [low, high]")

    kind = out.get("kind")
    if kind not in OUTPUTS:
        raise InputError(f"{where}: output.kind: {kind!r} is not one of {', '.join(OUTPUTS)}")
    names = out.get("names")
    if not (isinstance(names, list) and len(names) == OUTPUTS[kind] and all(isinstance(n, str) for n in names)):
        raise InputError(f"{where}: output.names: a {kind} model names {OUTPUTS[kind]} output(s), got {names!r}")
    split_ratio = _numbers([out.get("split_ratio", 1.0)], 1, "output.split_ratio", where, positive=True)[0]
    if kind == "simcc" and "split_ratio" not in out:
        raise InputError(f"{where}: output.split_ratio: a simcc model needs its bins per input px")

    if face.get("detector") not in DETECTORS:
        raise InputError(f"{where}: face.detector: {face.get('detector')!r} is not one of {', '.join(DETECTORS)}")
    upsample = face.get("upsample")
    if not isinstance(upsample, int) or isinstance(upsample, bool) or upsample < 0:
        raise InputError(f"{where}: face.upsample: {upsample!r} is not a whole number >= 0")
    crop_scale = _numbers([face.get("crop_scale")], 1, "face.crop_scale", where, positive=True)[0]

    parsed = Card(path, onnx, str(card["keypoints"]), mapping, (width, height), inp["layout"], channels,
                  np.asarray(mean, np.float32), np.asarray(std, np.float32), window, kind, tuple(names), split_ratio,
                  face["detector"], upsample, crop_scale, list(schema["nose_centre"]))
    _check_graph(parsed, point_count(schema))
    return parsed


def point_count(schema: dict) -> int:
    """How many points a schema has (the schema files name the count in one of three ways)."""
    return int(schema.get("num_keypoints") or schema.get("num_points") or len(schema["names"]))


def _check_graph(card: Card, num_keypoints: int) -> None:
    """The card against the ONNX graph: one input, the named outputs present, their shapes where the graph fixes
    them."""
    import onnxruntime as ort

    try:
        session = cpu_session(card.onnx, threads=1)
    except (ort.capi.onnxruntime_pybind11_state.Fail, ort.capi.onnxruntime_pybind11_state.InvalidGraph,
            ort.capi.onnxruntime_pybind11_state.InvalidProtobuf) as err:
        raise InputError(f"{card.path}: onnx: {card.onnx} is not a model ONNX Runtime can load "
                         f"({str(err).splitlines()[0][:160]})") from None
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise InputError(f"{card.path}: onnx: the graph has {len(inputs)} inputs; one image input is expected")
    expected = input_shape(card, None)
    if isinstance(inputs[0].shape[0], int):  # the stages stack every face of a frame, and crops by the batch
        raise InputError(f"{card.path}: onnx: the graph's batch axis is fixed at {inputs[0].shape[0]}; export it "
                         "with a dynamic one (torch.onnx.export(..., dynamic_axes={<input name>: {0: 'batch'}}))")
    for axis, (got, want) in enumerate(zip(inputs[0].shape, expected)):
        if axis and isinstance(got, int) and got != want:
            raise InputError(f"{card.path}: input: the graph's input is {inputs[0].shape}, the card gives "
                             f"{card.layout} {list(expected[1:])}")
    outputs = {o.name: o.shape for o in session.get_outputs()}
    for name in card.outputs:
        if name not in outputs:
            raise InputError(f"{card.path}: output.names: {name!r} is not an output of the graph (it has "
                             f"{', '.join(outputs)})")
    # One run on two zero images: the graph's shapes are often symbolic, so only a run fixes every axis.
    got = session.run(list(card.outputs), {inputs[0].name: np.zeros(input_shape(card, 2), np.float32)})
    for name, value, want in zip(card.outputs, got, output_shapes(card, num_keypoints)):
        shape = np.shape(value)
        if shape[:1] != (2,):
            raise InputError(f"{card.path}: output {name!r} has shape {shape} for a batch of 2 images; its first axis "
                             "must be the batch")
        if len(shape) != len(want) or any(w is not None and s != w for s, w in zip(shape[1:], want[1:])):
            raise InputError(f"{card.path}: output {name!r} has shape {_shape_text((None, *shape[1:]))}, the "
                             f"card expects {_shape_text(want)} ({card.kind}, keypoints {card.keypoints})")


def output_shapes(card: Card, num_keypoints: int) -> list[tuple]:
    """The shape of each named output the card's kind implies (None: the batch, or an axis the card leaves free)."""
    width, height = card.size
    k = num_keypoints
    if card.kind == "simcc":
        return [(None, k, round(width * card.split_ratio)), (None, k, round(height * card.split_ratio))]
    if card.kind == "heatmap":
        return [(None, k, None, None)]
    return [(None, k, 2)]


def _shape_text(shape: tuple) -> str:
    free = ("N", None, "h", "w")  # how a free axis reads: the batch, a heatmap's height and width
    return "(" + ", ".join(free[i] if v is None else str(v) for i, v in enumerate(shape)) + ")"


def onnx_fields(card: Card | None) -> dict:
    """What a metrics row records of the ONNX model behind it (nothing for a predictions file)."""
    if card is None:
        return {}
    return {"onnx": str(card.onnx), "onnx_sha256": file_sha256(card.onnx), "keypoints": card.keypoints,
            "face_detector": f"dlib {card.detector}"}


def input_shape(card: Card, batch: int | None) -> tuple:
    width, height = card.size
    return (batch, card.channels, height, width) if card.layout == "NCHW" else (batch, height, width, card.channels)


class OnnxLandmarks:
    """The card's model on 8-bit gray crops of its input size: points (N, K, 2) in input px."""

    def __init__(self, card: Card, threads: int):
        self.card = card
        self.session = cpu_session(card.onnx, threads)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, images: np.ndarray) -> np.ndarray:
        card = self.card
        x = np.asarray(images, dtype=np.float32)[..., None]  # (N, H, W, 1)
        if x.shape[1:3] != (card.size[1], card.size[0]):
            raise ValueError(f"crops of {x.shape[2]}x{x.shape[1]} px for a {card.size[0]}x{card.size[1]} model")
        x = (np.repeat(x, card.channels, axis=-1) - card.mean) / card.std
        if card.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        outputs = self.session.run(list(card.outputs), {self.input_name: np.ascontiguousarray(x, np.float32)})
        return decode(card, outputs)

    def ibug68(self, points: np.ndarray) -> np.ndarray:
        """The model's points in iBUG-68 order (NaN where the mapping has no source point)."""
        if self.card.to_ibug68 is None:
            raise InputError(f"{self.card.path}: keypoints {self.card.keypoints} have no mapping to ibug68 "
                             "(to_ibug68)")
        return map_points(points, self.card.to_ibug68)

def graph_counts(card: Card) -> tuple[int, float]:
    """(weights stored in the graph (its initializers), multiply-adds of one batch-1 forward pass in billions over
    its Conv, Gemm and MatMul nodes: the speed table's GFLOPs convention, a multiply-add counted once). The operand
    shapes are read from one run on a zero image with every operand exposed as an output: shape inference loses them
    behind computed reshapes."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(card.onnx))
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    known = {o.name for o in model.graph.output}
    for name in sorted({v for n in nodes for v in (n.input[0], n.input[1], n.output[0])} - set(weights) - known):
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every node as it is
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    x = np.zeros([1 if i == 0 else d for i, d in enumerate(input_shape(card, 1))], np.float32)
    shapes = {**dict(zip(names, (v.shape for v in session.run(names, {session.get_inputs()[0].name: x})))),
              **weights}
    total = 0
    for node in nodes:
        out, a, b = (shapes[v] for v in (node.output[0], node.input[0], node.input[1]))
        if node.op_type == "Conv":
            total += int(np.prod(out)) * int(np.prod(b[1:]))  # weight (Cout, Cin / groups, kh, kw)
        elif node.op_type == "Gemm" and next((at.i for at in node.attribute if at.name == "transA"), 0):
            total += int(np.prod(out)) * a[0]
        else:
            total += int(np.prod(out)) * a[-1]
    return int(sum(np.prod(d, dtype=np.int64) for d in weights.values())), total / 1e9


def decode(card: Card, outputs: list[np.ndarray]) -> np.ndarray:
    """The raw outputs of the card's kind -> (N, K, 2) input px (float64)."""
    if card.kind == "simcc":
        return simcc.decode(outputs[0], outputs[1], card.split_ratio)[0]
    if card.kind == "heatmap":
        maps = np.asarray(outputs[0])
        n, k, h, w = maps.shape
        flat = maps.reshape(n, k, h * w).argmax(-1)
        cells = np.stack([flat % w, flat // w], axis=-1).astype(np.float64) + 0.5
        return cells * np.array([card.size[0] / w, card.size[1] / h])
    return np.asarray(outputs[0], dtype=np.float64).reshape(len(outputs[0]), -1, 2)


class OnnxFaceModel:
    """The zero-shot adapter of a card's model: dlib's face detector finds the faces (in the frame, or in each given
    Person box as the dlib-68 row does), the model runs on each face's square crop."""

    def __init__(self, card: Card, threads: int):
        self.card = card
        self.landmarks = OnnxLandmarks(card, threads)
        self.detector = Dlib68(card.detector, card.upsample)  # its face finding, in the frame or in Person boxes

    def on_faces(self, image: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """(F, K, 2) frame px for face boxes (F, 4) (x0, y0, w, h)."""
        image = np.asarray(image)
        gray = image if image.ndim == 2 else image.mean(axis=-1).round().astype(np.uint8)
        boxes = [crops.square_box([f[:2], f[:2] + f[2:]], self.card.crop_scale) for f in faces]
        if not boxes:
            return np.zeros((0, 0, 2))
        batch = np.stack([crops.crop(gray, b, self.card.size) for b in boxes])
        points = self.landmarks(batch)
        return np.stack([crops.to_frame(p, b, self.card.size) for p, b in zip(points, boxes)])

    def predict(self, image: np.ndarray, boxes=None) -> Prediction:
        kpts = self.on_faces(image, self.detector.faces(image, boxes))
        if not len(kpts):
            return Prediction(np.zeros((0, 1, 2)), np.zeros((0, 1)), np.zeros((0, 2)))
        return Prediction(kpts, np.full(kpts.shape[:2], np.nan), kpts[:, self.card.nose].mean(axis=1))
