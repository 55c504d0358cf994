"""ThermEval-D: COCO annotations -> per-(Person, Nose) crops with the nose point, and the blog's 40/15/80 split.

Raw layout: Annotations/annotations_{1,2}.json and images/<stem>.png. Categories are looked up by name. In
annotations_2.json the file names end in .jpg while the files on disk are .png; `resolve_image` handles that.

Two crop geometries (params `prepare.thermeval.crop_geometry`): `blog`, the nostril-finetune blog's dataset script
(`crops.blog_window`: a 1.25 x max(w, h) square about the Person box centre, shifted inward at the left/top border,
clipped at the right/bottom, whole pixels resized bilinearly), and `per_axis`, the Person box padded by 1.25 per axis
and resampled with zero padding outside the frame. Two splits (`split`): `blog`, the blog's own draw (Python
`random.Random(split_seed)` shuffling its pair list, first valid crops per split), and `seeded`, whole frames drawn in
a numpy-seeded order against crop quotas. Both are image-disjoint between train and val.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thermbench.core import crops
from thermbench.core.io import InputError, is_number
from thermbench.core.progress import progress
from thermbench.datasets.common import check_choice, check_crop, points_json, read_image, write_png
from thermbench.datasets.prepared import write_frames, write_samples

# Download layout: globs that must each match something in the unpacked root (docs/sources.md, Datasets).
LAYOUT = ("Annotations/annotations_1.json", "Annotations/annotations_2.json", "images/*.png")
# The prepared contract's columns. crop_path: gray crop PNG; nose_*: crop px; frame_nose_*: frame px; box_*: the crop
# window in the frame; person_*: the GT Person box; split: train | val | test | unused
COLUMNS = ("sample_id", "split", "image_file", "crop_path", "nose_x", "nose_y", "frame_nose_x", "frame_nose_y",
           "box_x0", "box_y0", "box_w", "box_h", "person_x0", "person_y0", "person_w", "person_h")
ANNOTATION_FILES = {1: "Annotations/annotations_1.json", 2: "Annotations/annotations_2.json"}
CROP_GEOMETRIES = ("blog", "per_axis")  # params prepare.thermeval.crop_geometry (module docstring)
SPLIT_RULES = ("blog", "seeded")  # params prepare.thermeval.split


@dataclass(frozen=True)
class PrepareConfig:
    """params `prepare.thermeval`, checked before any stage runs (params_schema) and before a crop is cut."""

    n_train: int
    n_val: int
    n_test: int
    box_scale: float
    crop_size: int
    crop_geometry: str
    split: str
    split_seed: int

    def __post_init__(self):
        check_crop("prepare.thermeval", self.box_scale, self.crop_size)
        check_choice("prepare.thermeval.crop_geometry", self.crop_geometry, CROP_GEOMETRIES)
        check_choice("prepare.thermeval.split", self.split, SPLIT_RULES)
        for key in ("n_train", "n_val", "n_test"):
            if getattr(self, key) < 0:
                raise InputError(f"params.yaml: 'prepare.thermeval.{key}' must be a number of crops of at least 0, "
                                 f"not {getattr(self, key)!r}")
PERSON, NOSE = "Person", "Nose"


def _require(record: dict, keys: tuple[str, ...], where: str, path: Path) -> None:
    for key in keys:
        if key not in record:
            raise InputError(f"{path}: {where} has no '{key}'")


def _id(value, where: str, path: Path) -> None:
    if not isinstance(value, (int, str)) or isinstance(value, bool):
        raise InputError(f"{path}: {where} must be a number or a string, got {value!r}")


def load_annotations(path: Path) -> dict:
    """Read one COCO file and check the keys the parser uses."""
    if not path.is_file():
        raise InputError(f"{path}: annotation file not found")
    try:
        coco = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(coco, dict):
        raise InputError(f"{path}: expected a COCO object at the top level")
    _require(coco, ("images", "annotations", "categories"), "the top level", path)
    for i, cat in enumerate(coco["categories"]):
        _require(cat, ("id", "name"), f"categories[{i}]", path)
    for i, image in enumerate(coco["images"]):
        _require(image, ("id", "file_name"), f"images[{i}]", path)
        _id(image["id"], f"images[{i}].id", path)
    for i, ann in enumerate(coco["annotations"]):
        _require(ann, ("image_id", "category_id", "bbox"), f"annotations[{i}]", path)
        _id(ann["image_id"], f"annotations[{i}].image_id", path)
        if not isinstance(ann["bbox"], list) or len(ann["bbox"]) != 4 or not all(map(is_number, ann["bbox"])):
            raise InputError(f"{path}: annotations[{i}].bbox must be [x, y, w, h], four numbers")
    return coco


def category_id(coco: dict, name: str, path: Path) -> int:
    """Id of the category called `name` (case-insensitive); ids differ between sources, names do not."""
    for cat in coco["categories"]:
        if str(cat["name"]).strip().lower() == name.lower():
            return cat["id"]
    found = ", ".join(sorted(str(c["name"]) for c in coco["categories"]))
    raise InputError(f"{path}: no category named '{name}' (found: {found})")


def resolve_image(raw: Path, file_name: str) -> Path:
    """Path of an image under raw/images, accepting the .jpg names that stand for .png files on disk."""
    path = find_image(raw, file_name)
    if path is None:
        raise InputError(f"{raw / 'images' / Path(file_name).name}: image file not found (also tried .png)")
    return path


def find_image(raw: Path, file_name: str) -> Path | None:
    """`resolve_image`, or None when neither name exists."""
    name = Path(file_name).name
    for candidate in (name, Path(name).with_suffix(".png").name):
        path = raw / "images" / candidate
        if path.is_file():
            return path
    return None


def polygon_centroid(segmentation) -> np.ndarray:
    """Area-weighted centroid of COCO polygons; NaN when there is no polygon (e.g. RLE or missing)."""
    polygons = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in segmentation or [] if isinstance(p, list)]
    polygons = [p for p in polygons if len(p) >= 3]
    if not polygons:
        return np.array([np.nan, np.nan])
    total, moment = 0.0, np.zeros(2)
    for p in polygons:
        x, y = p[:, 0], p[:, 1]
        cross = x * np.roll(y, -1) - np.roll(x, -1) * y
        total += cross.sum() / 2.0
        moment += [((x + np.roll(x, -1)) * cross).sum() / 6.0, ((y + np.roll(y, -1)) * cross).sum() / 6.0]
    if abs(total) < 1e-9:  # degenerate polygon: fall back to the vertex mean
        return np.concatenate(polygons).mean(axis=0)
    return moment / total


def smallest_containing(point: np.ndarray, boxes: list[list[float]]) -> int | None:
    """Index of the smallest-area box [x0, y0, x1, y1] that contains `point` (edges included), or None."""
    best, best_area = None, np.inf
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        area = (x1 - x0) * (y1 - y0)
        if x0 <= point[0] <= x1 and y0 <= point[1] <= y1 and area < best_area:
            best, best_area = i, area
    return best


def parse_frames(raw: Path) -> tuple[list[dict], list[str]]:
    """One dict per image of both annotation files (images missing on disk left out, with a warning line).

    Each frame: annotation_file, image_id, path, persons, noses, pairs [(person index, nose index)] in nose order, and
    first_seen, the position of the image's first annotation, which orders images in the blog's pair list.
    """
    frames, warnings = [], []
    for number, rel in ANNOTATION_FILES.items():
        path = raw / rel
        coco = load_annotations(path)
        person_id, nose_id = category_id(coco, PERSON, path), category_id(coco, NOSE, path)
        by_image = {image["id"]: {"persons": [], "noses": [], "first_seen": np.inf} for image in coco["images"]}
        for i, ann in enumerate(coco["annotations"]):
            if ann["image_id"] not in by_image:
                raise InputError(f"{path}: annotations[{i}] refers to unknown image_id {ann['image_id']}")
            x, y, w, h = (float(v) for v in ann["bbox"])
            entry = by_image[ann["image_id"]]
            entry["first_seen"] = min(entry["first_seen"], i)
            if ann["category_id"] == person_id:
                entry["persons"].append({"id": ann.get("id", i), "box": [x, y, x + w, y + h], "bbox": [x, y, w, h]})
            elif ann["category_id"] == nose_id:
                centre = np.array([x + w / 2.0, y + h / 2.0])
                entry["noses"].append(
                    {"id": ann.get("id", i), "centre": centre, "centroid": polygon_centroid(ann.get("segmentation"))}
                )
        n_pairs, missing = 0, []
        for image in sorted(coco["images"], key=lambda im: im["id"]):
            entry = by_image[image["id"]]
            image_path = find_image(raw, image["file_name"])
            if image_path is None:
                missing.append(image["file_name"])
                continue
            boxes = [p["box"] for p in entry["persons"]]
            pairs = [(smallest_containing(n["centre"], boxes), k) for k, n in enumerate(entry["noses"])]
            pairs = [(p, k) for p, k in pairs if p is not None]
            n_pairs += len(pairs)
            frames.append({"annotation_file": number, "image_id": image["id"], "path": image_path, **entry,
                           "pairs": pairs})
        if missing:  # the blog's script skips them too; say so rather than silently
            warnings.append(f"warning: ThermEval: {len(missing)} image(s) named in {rel} are not under images/ "
                            f"(first: {missing[0]}); their noses are left out")
        if n_pairs == 0:
            raise InputError(f"{path}: no Nose inside a Person box, so its split would be empty")
    return frames, warnings


def assign_splits(frames: list[dict], sizes: dict, seed: int) -> tuple[list[str], list[str]]:
    """The `seeded` split, by whole frames (image-disjoint): train/val from file 1, test from file 2, crop quotas.

    Frames are visited in a seeded random order; each goes to the first split whose quota it still fits.
    Returns the split per frame and warnings for splits left short of their quota.
    """
    quotas = {1: [("train", sizes["n_train"]), ("val", sizes["n_val"])], 2: [("test", sizes["n_test"])]}
    splits, warnings = ["unused"] * len(frames), []
    for number, file_quotas in quotas.items():
        members = [i for i, f in enumerate(frames) if f["annotation_file"] == number and f["pairs"]]
        filled = {name: 0 for name, _ in file_quotas}
        for i in np.random.default_rng([seed, number]).permutation(members):
            n = len(frames[i]["pairs"])
            for name, quota in file_quotas:
                if filled[name] + n <= quota:
                    splits[i], filled[name] = name, filled[name] + n
                    break
        for name, quota in file_quotas:
            if filled[name] < quota:
                warnings.append(f"warning: ThermEval {name} split has {filled[name]} of {quota} crops")
    return splits, warnings


def blog_order(frames: list[dict], number: int) -> list[tuple]:
    """The blog's pair list for one annotation file, before its shuffle: images in the order their first annotation
    appears, each image's noses in annotation order; a pair is the key (annotation_file, image_id, nose index)."""
    members = sorted((f for f in frames if f["annotation_file"] == number), key=lambda f: f["first_seen"])
    return [(number, f["image_id"], k) for f in members for _, k in f["pairs"]]


def blog_splits(frames: list[dict], usable: set, sizes: dict, seed: int) -> tuple[dict, list[str]]:
    """The blog's split: {pair key: split} for the selected pairs, and warnings for short splits.

    One `random.Random(seed)` shuffles file 1's pair list, then file 2's (the blog seeds Python's global generator
    once and shuffles both lists in that order). Train = the first n_train usable pairs of file 1; val = the first
    n_val usable pairs of file 1 whose image is not in train (so train and val share no image); test = the first n_test
    usable pairs of file 2. Unusable pairs (`usable` holds the others) are passed over, so they take no place.
    """
    rng = random.Random(seed)
    order1, order2 = blog_order(frames, 1), blog_order(frames, 2)
    rng.shuffle(order1)
    rng.shuffle(order2)
    chosen, warnings = {}, []

    def take(order: list[tuple], quota: int, name: str, exclude: set) -> set:
        images = set()
        for key in order:
            if sum(split == name for split in chosen.values()) >= quota:
                break
            if key in usable and key[1] not in exclude:
                chosen[key] = name
                images.add(key[1])
        return images

    train_images = take(order1, sizes["n_train"], "train", set())
    take(order1, sizes["n_val"], "val", train_images)
    take(order2, sizes["n_test"], "test", set())
    for name, quota in (("train", sizes["n_train"]), ("val", sizes["n_val"]), ("test", sizes["n_test"])):
        filled = sum(split == name for split in chosen.values())
        if filled < quota:
            warnings.append(f"warning: ThermEval {name} split has {filled} of {quota} crops")
    return chosen, warnings


def crop_pair(image: np.ndarray, person_bbox: list[float], cfg: dict) -> tuple[np.ndarray | None, np.ndarray]:
    """One Person crop in the configured geometry: (crop or None if the window is empty, its (x0, y0, w, h) box)."""
    size = (cfg["crop_size"], cfg["crop_size"])
    geometry = option(cfg, "crop_geometry", CROP_GEOMETRIES)
    if geometry == "blog":
        window = crops.blog_window(person_bbox, (image.shape[1], image.shape[0]), cfg["box_scale"])
        return crops.crop_window(image, window, size), crops.window_box(window)
    box = crops.scale_box(*person_bbox, cfg["box_scale"])
    return crops.crop(image, box, size), box


def option(cfg: dict, key: str, choices: tuple[str, ...]) -> str:
    """A named choice from params `prepare.thermeval`, checked."""
    check_choice(f"prepare.thermeval.{key}", cfg.get(key), choices)
    return cfg[key]


def prepare(raw: Path, out: Path, cfg: dict, seed: int) -> None:
    """Write out/crops/<sample_id>.png, out/samples.csv (one row per usable pair) and out/frames.csv (one per image).

    A pair is usable when its crop window is not empty and the nose lands inside the crop (the blog's two checks);
    the others are counted in a warning. `seed` drives the `seeded` split; the `blog` split uses cfg["split_seed"].
    """
    option(cfg, "crop_geometry", CROP_GEOMETRIES)
    option(cfg, "split", SPLIT_RULES)
    frames, warnings = parse_frames(raw)
    size = cfg["crop_size"]
    samples, usable, n_unusable = {}, set(), 0
    for frame in progress(frames, desc="thermeval"):
        image_file = frame["path"].relative_to(raw).as_posix()
        image = read_image(frame["path"]) if frame["pairs"] else None
        for p, k in frame["pairs"]:
            person, nose = frame["persons"][p], frame["noses"][k]
            crop, box = crop_pair(image, person["bbox"], cfg)
            (nx, ny), (cx, cy) = crops.to_crop(np.stack([nose["centre"], nose["centroid"]]), box, (size, size))
            if crop is None or not (0 <= nx < size and 0 <= ny < size):
                n_unusable += 1
                continue
            key = (frame["annotation_file"], frame["image_id"], k)
            usable.add(key)
            sample_id = f"te{frame['annotation_file']}_{frame['image_id']}_{nose['id']}"
            write_png(out / "crops" / f"{sample_id}.png", crop)
            px, py, pw, ph = person["bbox"]
            samples[key] = {
                "sample_id": sample_id,
                "image_file": image_file,
                "crop_path": f"crops/{sample_id}.png",
                "nose_x": nx, "nose_y": ny, "nose_cx": cx, "nose_cy": cy,
                "frame_nose_x": nose["centre"][0], "frame_nose_y": nose["centre"][1],
                "box_x0": box[0], "box_y0": box[1], "box_w": box[2], "box_h": box[3],
                "person_x0": px, "person_y0": py, "person_w": pw, "person_h": ph,
                "annotation_file": frame["annotation_file"],
                "image_id": frame["image_id"],
                "person_id": person["id"],
                "nose_id": nose["id"],
            }  # fmt: skip
    if n_unusable:
        warnings.append(f"warning: ThermEval: {n_unusable} (Person, Nose) pair(s) give an empty crop or a nose outside "
                        "it and are left out")
    split_of, split_warnings = split_pairs(frames, usable, cfg, seed)
    frame_rows = []
    for frame in frames:
        keys = [(frame["annotation_file"], frame["image_id"], k) for _, k in frame["pairs"]]
        chosen = {split_of[key] for key in keys if key in split_of}
        frame_rows.append(
            {
                "image_file": frame["path"].relative_to(raw).as_posix(),
                "annotation_file": frame["annotation_file"],
                "image_id": frame["image_id"],
                "split": chosen.pop() if chosen else "unused",
                "noses": points_json([n["centre"] for n in frame["noses"]]),
                "persons": points_json([p["box"] for p in frame["persons"]]),
            }
        )
    rows = [{**row, "split": split_of.get(key, "unused")} for key, row in samples.items()]
    write_samples(rows, out, COLUMNS, ["annotation_file", "image_id", "nose_id"])
    write_frames(frame_rows, out, ["annotation_file", "image_id"])
    for line in warnings + split_warnings:  # after the work, so that an input error stays the only line on stderr
        print(line, file=sys.stderr)


def split_pairs(frames: list[dict], usable: set, cfg: dict, seed: int) -> tuple[dict, list[str]]:
    """{pair key: train|val|test} for the selected usable pairs under params `split` (blog | seeded), and warnings."""
    if option(cfg, "split", SPLIT_RULES) == "blog":
        return blog_splits(frames, usable, cfg, cfg["split_seed"])
    kept = [{**f, "pairs": [(p, k) for p, k in f["pairs"] if (f["annotation_file"], f["image_id"], k) in usable]}
            for f in frames]
    splits, warnings = assign_splits(kept, cfg, seed)
    return {(f["annotation_file"], f["image_id"], k): split for f, split in zip(kept, splits) if split != "unused"
            for _, k in f["pairs"]}, warnings
