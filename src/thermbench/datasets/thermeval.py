"""ThermEval-D: COCO annotations -> per-(Person, Nose) crops with the nose point, and the blog's 40/15/80 split.

Raw layout: Annotations/annotations_{1,2}.json and images/<stem>.png. Categories are looked up by name. In
annotations_2.json the file names end in .jpg while the files on disk are .png; `resolve_image` handles that.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from thermbench.core import crops
from thermbench.core.io import InputError
from thermbench.core.progress import progress
from thermbench.datasets.common import points_json, read_image, write_png, write_table

ANNOTATION_FILES = {1: "Annotations/annotations_1.json", 2: "Annotations/annotations_2.json"}
PERSON, NOSE = "Person", "Nose"


def _require(record: dict, keys: tuple[str, ...], where: str, path: Path) -> None:
    for key in keys:
        if key not in record:
            raise InputError(f"{path}: {where} has no '{key}'")


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
    for i, ann in enumerate(coco["annotations"]):
        _require(ann, ("image_id", "category_id", "bbox"), f"annotations[{i}]", path)
        if not isinstance(ann["bbox"], list) or len(ann["bbox"]) != 4:
            raise InputError(f"{path}: annotations[{i}].bbox must be [x, y, w, h]")
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
    name = Path(file_name).name
    for candidate in (name, Path(name).with_suffix(".png").name):
        path = raw / "images" / candidate
        if path.is_file():
            return path
    raise InputError(f"{raw / 'images' / name}: image file not found (also tried .png)")


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


def parse_frames(raw: Path) -> list[dict]:
    """One dict per image of both annotation files: resolved file, Person boxes, Nose points and the pairs."""
    frames = []
    for number, rel in ANNOTATION_FILES.items():
        path = raw / rel
        coco = load_annotations(path)
        person_id, nose_id = category_id(coco, PERSON, path), category_id(coco, NOSE, path)
        by_image = {image["id"]: {"persons": [], "noses": []} for image in coco["images"]}
        for i, ann in enumerate(coco["annotations"]):
            if ann["image_id"] not in by_image:
                raise InputError(f"{path}: annotations[{i}] refers to unknown image_id {ann['image_id']}")
            x, y, w, h = (float(v) for v in ann["bbox"])
            entry = by_image[ann["image_id"]]
            if ann["category_id"] == person_id:
                entry["persons"].append({"id": ann.get("id", i), "box": [x, y, x + w, y + h]})
            elif ann["category_id"] == nose_id:
                centre = np.array([x + w / 2.0, y + h / 2.0])
                entry["noses"].append(
                    {"id": ann.get("id", i), "centre": centre, "centroid": polygon_centroid(ann.get("segmentation"))}
                )
        n_pairs = 0
        for image in sorted(coco["images"], key=lambda im: im["id"]):
            entry = by_image[image["id"]]
            boxes = [p["box"] for p in entry["persons"]]
            pairs = [(smallest_containing(n["centre"], boxes), k) for k, n in enumerate(entry["noses"])]
            n_pairs += sum(p is not None for p, _ in pairs)
            frames.append(
                {
                    "annotation_file": number,
                    "image_id": image["id"],
                    "path": resolve_image(raw, image["file_name"]),
                    **entry,
                    "pairs": [(p, k) for p, k in pairs if p is not None],
                }
            )
        if n_pairs == 0:
            raise InputError(f"{path}: no Nose inside a Person box, so its split would be empty")
    return frames


def assign_splits(frames: list[dict], sizes: dict, seed: int) -> tuple[list[str], list[str]]:
    """Split by whole frames (image-disjoint): train/val from file 1, test from file 2, with crop counts as quotas.

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


def prepare(raw: Path, out: Path, cfg: dict, seed: int) -> None:
    """Write out/crops/<sample_id>.png, out/samples.csv (one row per pair) and out/frames.csv (one row per image)."""
    frames = parse_frames(raw)
    splits, warnings = assign_splits(frames, cfg, seed)
    size = (cfg["crop_size"], cfg["crop_size"])
    samples, frame_rows = [], []
    for frame, split in zip(progress(frames, desc="thermeval"), splits):
        image_file = frame["path"].relative_to(raw).as_posix()
        image = read_image(frame["path"]) if frame["pairs"] else None
        for p, k in frame["pairs"]:
            person, nose = frame["persons"][p], frame["noses"][k]
            x0, y0, x1, y1 = person["box"]
            box = crops.scale_box(x0, y0, x1 - x0, y1 - y0, cfg["box_scale"])
            sample_id = f"te{frame['annotation_file']}_{frame['image_id']}_{nose['id']}"
            write_png(out / "crops" / f"{sample_id}.png", crops.crop(image, box, size))
            (nx, ny), (cx, cy) = crops.to_crop(np.stack([nose["centre"], nose["centroid"]]), box, size)
            samples.append(
                {
                    "sample_id": sample_id,
                    "split": split,
                    "image_file": image_file,
                    "crop_path": f"crops/{sample_id}.png",
                    "nose_x": nx, "nose_y": ny, "nose_cx": cx, "nose_cy": cy,
                    "frame_nose_x": nose["centre"][0], "frame_nose_y": nose["centre"][1],
                    "box_x0": box[0], "box_y0": box[1], "box_w": box[2], "box_h": box[3],
                    "annotation_file": frame["annotation_file"],
                    "image_id": frame["image_id"],
                    "person_id": person["id"],
                    "nose_id": nose["id"],
                }
            )  # fmt: skip
        frame_rows.append(
            {
                "image_file": image_file,
                "annotation_file": frame["annotation_file"],
                "image_id": frame["image_id"],
                "split": split,
                "noses": points_json([n["centre"] for n in frame["noses"]]),
                "persons": points_json([p["box"] for p in frame["persons"]]),
            }
        )
    write_table(samples, out / "samples.csv", ["annotation_file", "image_id", "nose_id"])
    write_table(frame_rows, out / "frames.csv", ["annotation_file", "image_id"])
    for line in warnings:  # after the work, so that an input error stays the only line on stderr
        print(line, file=sys.stderr)
