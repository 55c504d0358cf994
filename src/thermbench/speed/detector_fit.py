"""RTMDet fitted on full frames' person boxes, so that a detector's boxes are worth comparing offline: the speed stage
measures what each runtime and precision does to the top box, which a seeded detector (its boxes are points) cannot
show. A short fit, not a detector benchmark: a prior is positive for a box when it lies inside the box and within
`radius` strides of its centre (FCOS's centre sampling, in place of mmdet's dynamic soft-label assigner), the class
target of a positive is the IoU of its predicted box (RTMDet's quality focal loss), and the box loss is GIoU (weight
2, as RTMDet's).

Frames are gray uint8 letterboxed to the detector's input (`detect_then_pose.person_frames`); the outputs are
flattened level by level, row by row, as mmdet's point priors lie (col * stride, row * stride)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from thermbench.core.progress import progress
from thermbench.models.rtmdet import RTMDet, build_rtmdet, normalize_detector_input
from thermbench.speed.detect_then_pose import MISSED_BELOW_IOU, iou, person_frames, torch_box

BOX_WEIGHT = 2.0  # RTMDet's GIoU loss weight


def priors(size: tuple[int, int], strides: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every output position's point (x, y) in input pixels and its stride, level by level, row by row."""
    width, height = size
    points, point_strides = [], []
    for stride in strides:
        rows, cols = torch.meshgrid(torch.arange(height // stride), torch.arange(width // stride), indexing="ij")
        points.append(torch.stack([cols.flatten(), rows.flatten()], dim=1).float() * stride)
        point_strides.append(torch.full((rows.numel(),), float(stride)))
    return torch.cat(points), torch.cat(point_strides)


def assign(points: torch.Tensor, point_strides: torch.Tensor, boxes: torch.Tensor, radius: float = 2.5) -> torch.Tensor:
    """For each point, the index of the box it is positive for (inside the box and within `radius` strides of its
    centre; of several, the smallest), or -1."""
    if len(boxes) == 0:
        return torch.full((len(points),), -1, dtype=torch.long)
    x, y = points[:, None, 0], points[:, None, 1]
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    reach = radius * point_strides[:, None]
    inside = (x > boxes[:, 0]) & (x < boxes[:, 2]) & (y > boxes[:, 1]) & (y < boxes[:, 3])
    central = ((x - cx).abs() < reach) & ((y - cy).abs() < reach)
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[None].expand(len(points), -1)
    area = torch.where(inside & central, area, torch.full_like(area, float("inf")))
    best, index = area.min(dim=1)
    return torch.where(torch.isfinite(best), index, torch.full_like(index, -1))


def decode(points: torch.Tensor, distances: torch.Tensor) -> torch.Tensor:
    """Boxes (x1, y1, x2, y2) from points and their (l, t, r, b) distances (mmdet's `distance2bbox`)."""
    return torch.cat([points - distances[..., :2], points + distances[..., 2:]], dim=-1)


def iou_and_giou(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IoU and generalised IoU of boxes `a` and `b` (..., 4), element by element."""
    lt, rb = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = lambda x: (x[..., 2:] - x[..., :2]).clamp(min=0).prod(-1)  # noqa: E731
    union = area(a) + area(b) - inter
    iou = inter / union.clamp(min=1e-6)
    hull = (torch.maximum(a[..., 2:], b[..., 2:]) - torch.minimum(a[..., :2], b[..., :2])).clamp(min=0).prod(-1)
    return iou, iou - (hull - union) / hull.clamp(min=1e-6)


def flatten(outputs: tuple[torch.Tensor, ...], levels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """RTMDet's outputs as (B, points) class logits of the one class and (B, points, 4) distances."""
    logits = torch.cat([o[:, 0].flatten(1) for o in outputs[:levels]], dim=1)
    distances = torch.cat([o.flatten(2).transpose(1, 2) for o in outputs[levels:]], dim=1)
    return logits, distances


def loss(logits: torch.Tensor, distances: torch.Tensor, points: torch.Tensor, point_strides: torch.Tensor,
         boxes: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(quality focal loss, GIoU loss) of a batch, each summed over images and divided by the number of positives."""
    targets = torch.zeros_like(logits)
    giou_terms, positives = [], 0
    for i, image_boxes in enumerate(boxes):
        owner = assign(points, point_strides, image_boxes)
        pos = owner >= 0
        if not pos.any():
            continue
        predicted = decode(points[pos], distances[i, pos])
        iou, giou = iou_and_giou(predicted, image_boxes[owner[pos]])
        targets[i, pos] = iou.detach().clamp(min=0)
        giou_terms.append(1 - giou)
        positives += int(pos.sum())
    prob = logits.sigmoid()
    qfl = F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * (prob - targets).abs().pow(2)
    norm = max(positives, 1)
    box = torch.cat(giou_terms).sum() if giou_terms else logits.sum() * 0
    return qfl.sum() / norm, BOX_WEIGHT * box / norm


def fit(model: RTMDet, frames: np.ndarray, boxes: list[np.ndarray], steps: int, batch_size: int, lr: float,
        seed: int) -> list[dict]:
    """AdamW on random batches of `frames` (N, H, W) gray uint8 at the model's input size with their `boxes` ((k, 4)
    each, frame pixels), each frame flipped left-right at random, cosine-decayed `lr`; the losses of each step."""
    width, height = model.cfg.input_size
    if frames.shape[1:] != (height, width):
        raise ValueError(f"frames {frames.shape[1:]} differ from the detector's input (H, W) {(height, width)}")
    generator = torch.Generator().manual_seed(seed)
    points, point_strides = priors((width, height), model.cfg.strides)
    images = torch.from_numpy(frames)[:, None]
    targets = [torch.as_tensor(b, dtype=torch.float32).reshape(-1, 4) for b in boxes]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    levels, history = len(model.cfg.strides), []
    model.train()
    for _ in progress(range(steps), desc="detector_fit", unit="step"):
        index = torch.randint(len(frames), (batch_size,), generator=generator)
        flip = torch.rand(batch_size, generator=generator) < 0.5
        batch = torch.where(flip[:, None, None, None], images[index].flip(-1), images[index])
        batch_boxes = [torch.stack([width - b[:, 2], b[:, 1], width - b[:, 0], b[:, 3]], dim=1) if f else b
                       for b, f in ((targets[int(i)], bool(f)) for i, f in zip(index, flip))]
        logits, distances = flatten(model(normalize_detector_input(batch)), levels)
        cls_loss, box_loss = loss(logits, distances, points, point_strides, batch_boxes)
        optimizer.zero_grad(set_to_none=True)
        (cls_loss + box_loss).backward()
        optimizer.step()
        schedule.step()
        history.append({"cls_loss": cls_loss.item(), "box_loss": box_loss.item()})
    model.eval()
    return history


@dataclasses.dataclass(frozen=True)
class DetectorFitConfig:
    """params.yaml `detector_fit`: the detector and its input (W, H); the ThermEval splits it is fitted on and
    the one its top boxes are checked on; the fit's steps, batch, learning rate and torch threads."""

    detector: str
    input_size: tuple[int, int]
    fit_splits: tuple[str, ...]
    test_split: str
    steps: int
    batch_size: int
    lr: float
    threads: int


def top_box_check(model: RTMDet, frames: np.ndarray, boxes: list[np.ndarray]) -> dict:
    """How the fitted detector's top box (`detect_then_pose.torch_box`, as the speed stage's PyTorch row finds it)
    meets the people of the frames that have any: the median IoU with the nearest person and the share of frames
    where it is at least `MISSED_BELOW_IOU`."""
    best = [float(iou(torch_box(frame, model)[None], people).max()) for frame, people in zip(frames, boxes)
            if len(people)]
    return {"frames": len(best), "top_box_iou_median": float(np.median(best)) if best else None,
            "top_box_matched_share": float(np.mean(np.array(best) >= MISSED_BELOW_IOU)) if best else None}


def fit_detector(cfg: DetectorFitConfig, prepared: Path, raw: Path, seed: int) -> tuple[RTMDet, dict]:
    """RTMDet-`cfg.detector` from seeded weights fitted on the person boxes of `cfg.fit_splits`: (the model, its
    numbers: the fit's settings, its last losses and `top_box_check` on `cfg.test_split`)."""
    size = tuple(cfg.input_size)
    frames, boxes = person_frames(prepared, raw, cfg.fit_splits, size)
    test_frames, test_boxes = person_frames(prepared, raw, (cfg.test_split,), size)
    torch.manual_seed(seed)
    model = build_rtmdet(cfg.detector, size)
    previous = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        history = fit(model, frames, boxes, cfg.steps, cfg.batch_size, cfg.lr, seed)
        check = top_box_check(model, test_frames, test_boxes)
    finally:
        torch.set_num_threads(previous)
    last = history[-min(10, len(history)):]
    return model, {"detector": f"RTMDet-{cfg.detector}", "input_size": list(size), "fit_frames": len(frames),
                   "steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr,
                   "cls_loss_last10": float(np.mean([h["cls_loss"] for h in last])),
                   "box_loss_last10": float(np.mean([h["box_loss"] for h in last])),
                   "test_split": cfg.test_split, **check}


def save_mmdet_checkpoint(model: RTMDet, path: Path) -> None:
    """`model`'s weights as mmdet lays a checkpoint out (`state_dict`), for `rtmdet.load_mmdet_checkpoint`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()}}, path)
