"""RTMDet fitted on full frames' person boxes, so that a detector's boxes are worth comparing offline: the speed stage
measures what each runtime and precision does to the top box, which a seeded detector (its boxes are points) cannot
show. A short fit, not a detector benchmark: a prior is positive for a box when it lies inside the box and within
`radius` strides of its centre (FCOS's centre sampling, in place of mmdet's dynamic soft-label assigner), the class
target of a positive is the IoU of its predicted box (RTMDet's quality focal loss), and the box loss is GIoU (weight
2, as RTMDet's).

Frames are gray uint8 letterboxed to the detector's input (`letterbox`); the outputs are flattened level by level,
row by row, as mmdet's point priors lie (col * stride, row * stride)."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from thermbench.models.rtmdet import RTMDet, normalize_detector_input

PAD_VALUE = 114  # mmdet's letterbox padding
BOX_WEIGHT = 2.0  # RTMDet's GIoU loss weight


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """`image` (H, W) scaled to fit `size` (W, H) with its aspect kept, top-left aligned, the rest padded: (frame,
    scale); a box in the image maps to the frame by `* scale`."""
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                         interpolation=cv2.INTER_LINEAR)
    out = np.full((height, width), PAD_VALUE, dtype=np.uint8)
    out[:resized.shape[0], :resized.shape[1]] = resized
    return out, scale


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
    for _ in range(steps):
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
