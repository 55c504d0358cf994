"""The signal chain from nostril points to breaths per minute, as pure numpy/scipy functions.

points (T, 2) -> optional Savitzky-Golay smoothing of the track (zero-phase: the benchmark is offline) -> disc ROI of
radius `roi_radius` x face size about each point -> mean ROI temperature per frame (minus the frame median, which
removes the global offset steps of flat-field correction; or minus a ring about the ROI on the face, which moves with
the head and so also cancels what head motion does to the ROI) -> frames frozen by an FFC and frames without a point
are gaps, filled linearly -> Butterworth band-pass (zero-phase) -> sliding windows -> three rates per window: the
Welch spectrum peak and peak counting (the two reference estimators, which assume one rate per window), and the ridge
of the short-time spectrum (follows a rate that changes inside the window). Every estimate lies inside the band: a
Welch rate is clamped to it, a peak-counting rate outside it is rejected (NaN), the ridge never leaves it.
Coordinates are continuous pixels: pixel (i, j) covers [j, j+1) x [i, i+1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import signal as sps


@dataclass
class ChainConfig:
    smoothing: str  # savgol | none: temporal smoothing of the point track
    smoothing_window_s: float
    smoothing_order: int
    roi_radius: float  # ROI radius as a share of the face size (first-frame face box width)
    min_roi_px: float  # at least this radius, for far faces
    reference: str  # frame_median | ring | none: subtracted per frame (FFC offset steps; ring: motion)
    ring_radii: tuple[float, float]  # the ring reference's inner and outer radius / ROI radius
    motion_degree: int  # regress the ROI signal on the track's position, polynomial of this degree (0: off)
    band_hz: tuple[float, float]
    filter_order: int
    window_s: float
    hop_s: float
    welch_segment_s: float
    min_window_coverage: float  # share of a window's frames with a point, else no estimate
    peak_prominence: float  # peaks must stand out by this many standard deviations of the window
    peaks_guided: bool  # peak spacing from the Welch rate (else from the band's upper edge)
    ridge_segment_s: float  # short-time spectrum of the ridge estimator: segment length and hop
    ridge_hop_s: float
    ridge_max_change_bpm_s: float  # the ridge moves at most this fast (breaths/min per second)
    ridge_penalty: float  # log-power given up per breath/min the ridge moves between segments


def savgol_track(points: np.ndarray, fps: float, window_s: float, order: int) -> np.ndarray:
    """Savitzky-Golay smoothing of each coordinate over each run of frames with a point (runs shorter than the
    window stay as they are)."""
    points = np.asarray(points, dtype=np.float64)
    out = points.copy()
    n = int(round(window_s * fps)) | 1  # odd
    if n <= order + 1:
        return out
    valid = np.isfinite(points).all(1)
    edges = np.flatnonzero(np.diff(np.r_[0, valid.astype(int), 0]))
    for start, stop in zip(edges[::2], edges[1::2]):
        if stop - start >= n:
            out[start:stop] = sps.savgol_filter(points[start:stop], n, order, axis=0)
    return out


def roi_means(frames: np.ndarray, centres: np.ndarray, radius: float) -> np.ndarray:
    """Mean temperature in a disc of `radius` px about each frame's centre (NaN: no centre or the disc off-frame)."""
    return _masked_means(frames, centres, radius, lambda d2: d2 <= radius**2)


def _masked_means(frames: np.ndarray, centres: np.ndarray, reach: float, inside) -> np.ndarray:
    """Per frame, the mean over the pixels within `reach` of the centre whose squared centre distance `inside`
    accepts."""
    t, h, w = frames.shape
    out = np.full(t, np.nan)
    r = int(np.ceil(reach)) + 1
    for i, c in enumerate(np.asarray(centres, dtype=np.float64)):
        if not np.isfinite(c).all():
            continue
        x0, y0 = max(int(np.floor(c[0])) - r, 0), max(int(np.floor(c[1])) - r, 0)
        x1, y1 = min(int(np.floor(c[0])) + r + 1, w), min(int(np.floor(c[1])) + r + 1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        mask = inside((xs + 0.5 - c[0]) ** 2 + (ys + 0.5 - c[1]) ** 2)
        if mask.any():
            out[i] = frames[i, y0:y1, x0:x1][mask].mean()
    return out


def ring_means(frames: np.ndarray, centres: np.ndarray, inner: float, outer: float) -> np.ndarray:
    """Mean temperature in the ring inner < distance <= outer px about each frame's centre (NaN: no centre or the
    ring off-frame): a reference on the face next to the nostrils that moves with them."""
    return _masked_means(frames, centres, outer, lambda d2: (d2 > inner**2) & (d2 <= outer**2))


def regress_motion(raw: np.ndarray, points: np.ndarray, degree: int) -> np.ndarray:
    """The ROI signal minus its least-squares fit on a polynomial of the track's position (x, y standardised; degree
    1: x, y; degree 2: also x², y², xy) over the frames with both. A head that turns or sways carries the ROI over
    other parts of the face; what the position explains is motion, not breathing (breathing does not move the
    nostrils' position). Degree 0, or fewer frames than terms: unchanged."""
    raw, points = np.asarray(raw, np.float64), np.asarray(points, np.float64)
    ok = np.isfinite(raw) & np.isfinite(points).all(1)
    if degree <= 0:
        return raw.copy()
    centred = points - points[ok].mean(axis=0) if ok.any() else points
    x, y = (centred / max(float(centred[ok].std()), 1e-9)).T if ok.any() else centred.T
    terms = [np.ones(len(raw)), x, y] + ([x * x, y * y, x * y] if degree >= 2 else [])
    design = np.column_stack(terms)
    if ok.sum() <= design.shape[1]:
        return raw.copy()
    coef, *_ = np.linalg.lstsq(design[ok], raw[ok], rcond=None)
    return np.where(ok, raw - design @ coef + coef[0], raw)


def box_means(frames: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Mean temperature inside a fixed box (x0, y0, x1, y1) in every frame (the whole-face baseline)."""
    h, w = frames.shape[1:]
    x0, y0 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
    x1, y1 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
    return frames[:, y0:y1, x0:x1].mean(axis=(1, 2)).astype(np.float64)


def frozen_frames(frames: np.ndarray) -> np.ndarray:
    """Frames identical to their predecessor: the image froze (flat-field correction of cheap cameras)."""
    same = np.zeros(len(frames), bool)
    same[1:] = np.all(frames[1:] == frames[:-1], axis=(1, 2))
    return same


def reference(frames: np.ndarray, kind: str) -> np.ndarray:
    """The per-frame reference that does not depend on a point: none, or the frame median (the `ring` reference is
    made per track by `ring_means`; a box baseline falls back to the frame median under it)."""
    if kind == "none":
        return np.zeros(len(frames))
    if kind in ("frame_median", "ring"):
        return np.median(frames.reshape(len(frames), -1), axis=1).astype(np.float64)
    raise ValueError(f"unknown reference '{kind}' (frame_median | ring | none)")


def fill_gaps(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaNs (constant beyond the ends); all NaN stays all NaN."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x.copy()
    idx = np.arange(len(x))
    return np.interp(idx, idx[ok], x[ok])


def bandpass(x: np.ndarray, fps: float, band: tuple[float, float], order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-pass (second-order sections, forward and backward)."""
    sos = sps.butter(order, band, btype="bandpass", fs=fps, output="sos")
    return sps.sosfiltfilt(sos, np.asarray(x, dtype=np.float64))


def welch_rate(x: np.ndarray, fps: float, band: tuple[float, float], segment_s: float) -> float:
    """Breaths/min from the Welch spectrum (Hann segments of segment_s, half overlap, zero-padded to a 0.002 Hz grid):
    the power-weighted mean frequency of the highest peak inside `band`, over its bins above half the peak power,
    clamped to the band (the lobe of a peak at the band's edge reaches beyond it: slow motion leaking through the
    filter's skirt gave rates below the band). A varying rate spreads the peak (its maximum sits where the rate
    dwells, at the extremes of a slow swing); the centroid of the half-power lobe is the mean rate the window's
    breath count gives. A window whose rate steps has two peaks, and this keeps one: see `ridge_rates`."""
    n = min(len(x), max(int(round(segment_s * fps)), 8))
    nfft = max(n, int(2 ** np.ceil(np.log2(fps / 0.002))))
    freqs, power = sps.welch(x, fs=fps, nperseg=n, noverlap=n // 2, nfft=nfft, detrend="constant")
    inside = np.flatnonzero((freqs >= band[0]) & (freqs <= band[1]))
    if not len(inside) or not np.isfinite(power[inside]).all() or power[inside].max() <= 0:
        return float("nan")
    top = inside[np.argmax(power[inside])]
    above = power >= power[top] / 2
    lo, hi = top, top
    while lo > 0 and above[lo - 1]:  # the lobe may cross the band edge: only its peak must lie inside
        lo -= 1
    while hi + 1 < len(power) and above[hi + 1]:
        hi += 1
    lobe = slice(lo, hi + 1)
    centroid = np.sum(freqs[lobe] * power[lobe]) / np.sum(power[lobe])
    return float(np.clip(centroid, *band) * 60)


def peak_rate(x: np.ndarray, fps: float, max_bpm: float, prominence: float,
              band_bpm: tuple[float, float] = (0.0, np.inf)) -> float:
    """Breaths/min from the mean interval between peaks (exhale maxima) at least 0.6 x 60 / max_bpm s apart that
    stand out by `prominence` standard deviations; NaN with fewer than two peaks or a rate outside `band_bpm`
    (rejected: a rate the band-pass removed cannot be the breathing). Given the spectral rate as `max_bpm`, this
    counts breaths at the rhythm the spectrum found, so pauses count as time without breaths."""
    x = np.asarray(x, dtype=np.float64)
    std = x.std()
    if not np.isfinite(std) or std == 0:
        return float("nan")
    peaks, _ = sps.find_peaks(x, distance=max(int(0.6 * fps * 60 / max_bpm), 1), prominence=prominence * std)
    if len(peaks) < 2:
        return float("nan")
    rate = 60 * (len(peaks) - 1) / ((peaks[-1] - peaks[0]) / fps)
    return float(rate) if band_bpm[0] <= rate <= band_bpm[1] else float("nan")


def ridge_rates(x: np.ndarray, fps: float, band: tuple[float, float], segment_s: float, hop_s: float,
                max_change_bpm_s: float, penalty: float) -> np.ndarray:
    """Breaths/min per frame that follow a changing rate: the ridge of the short-time spectrum (Hann segments of
    segment_s every hop_s, zero-padded to a 0.002 Hz grid, log power relative to each segment's maximum inside
    `band`), found by dynamic programming as the path through the band that maximises the summed log power minus
    `penalty` per breath/min moved between segments, moving at most `max_change_bpm_s`; linear between segment
    centres, constant beyond the first and last. The window mean of this rate is the window's breath count, as the
    truth defines it, also when the rate steps inside the window (where the Welch peak keeps one of two rates)."""
    x = np.asarray(x, dtype=np.float64)
    total = len(x)
    n = min(total, max(int(round(segment_s * fps)), 8))
    hop = max(int(round(hop_s * fps)), 1)
    starts = list(range(0, total - n + 1, hop))
    if starts[-1] != total - n:
        starts.append(total - n)  # the last segment ends at the last frame
    nfft = max(n, int(2 ** np.ceil(np.log2(fps / 0.002))))
    freqs = np.fft.rfftfreq(nfft, 1 / fps)
    inside = (freqs >= band[0]) & (freqs <= band[1])
    segments = np.stack([x[s:s + n] for s in starts])
    segments -= segments.mean(axis=1, keepdims=True)
    power = np.abs(np.fft.rfft(segments * sps.get_window("hann", n), nfft, axis=1))[:, inside] ** 2
    bpm = freqs[inside] * 60
    score = np.log(power / np.maximum(power.max(axis=1, keepdims=True), 1e-300) + 1e-6)
    moved = np.abs(bpm[:, None] - bpm[None, :])  # [from, to]
    step = np.where(moved <= max_change_bpm_s * hop / fps, -penalty * moved, -np.inf)
    total_score, back = score[0], []
    for row in score[1:]:
        options = total_score[:, None] + step
        best = options.argmax(axis=0)
        total_score = options[best, np.arange(len(bpm))] + row
        back.append(best)
    path = [int(total_score.argmax())]
    for best in reversed(back):
        path.append(int(best[path[-1]]))
    centres = np.array(starts) + (n - 1) / 2
    return np.interp(np.arange(total), centres, bpm[path[::-1]])


def windows(n: int, fps: float, window_s: float, hop_s: float) -> list[tuple[int, int]]:
    """[start, stop) frame ranges of window_s every hop_s; one shorter window when the sequence is shorter."""
    size, hop = int(round(window_s * fps)), max(int(round(hop_s * fps)), 1)
    if n <= size:
        return [(0, n)]
    return [(s, s + size) for s in range(0, n - size + 1, hop)]


def prepare_signal(raw: np.ndarray, frozen: np.ndarray, fps: float, cfg: ChainConfig) -> tuple[np.ndarray, np.ndarray]:
    """(band-passed signal, valid mask): frozen frames and frames without an ROI are gaps, filled before filtering."""
    valid = np.isfinite(raw) & ~frozen
    if not valid.any():
        return np.full(len(raw), np.nan), valid
    filled = fill_gaps(np.where(valid, raw, np.nan))
    return bandpass(filled, fps, cfg.band_hz, cfg.filter_order), valid


def window_rates(filtered: np.ndarray, valid: np.ndarray, fps: float, cfg: ChainConfig) -> pd.DataFrame:
    """One row per window: t_start, t_end, coverage, welch_bpm, peaks_bpm, ridge_bpm (NaN where the window lacks
    coverage)."""
    rows = []
    band_bpm = (cfg.band_hz[0] * 60, cfg.band_hz[1] * 60)
    ridge = (ridge_rates(filtered, fps, cfg.band_hz, cfg.ridge_segment_s, cfg.ridge_hop_s,
                         cfg.ridge_max_change_bpm_s, cfg.ridge_penalty)
             if len(filtered) and np.isfinite(filtered).all() else np.full(len(filtered), np.nan))
    for start, stop in windows(len(filtered), fps, cfg.window_s, cfg.hop_s):
        cov = float(valid[start:stop].mean())
        seg = filtered[start:stop]
        ok = cov >= cfg.min_window_coverage and np.isfinite(seg).all()
        welch = welch_rate(seg, fps, cfg.band_hz, cfg.welch_segment_s) if ok else np.nan
        rhythm = welch if cfg.peaks_guided and np.isfinite(welch) else band_bpm[1]
        rows.append({"t_start": start / fps, "t_end": stop / fps, "coverage": cov, "welch_bpm": welch,
                     "peaks_bpm": peak_rate(seg, fps, rhythm, cfg.peak_prominence, band_bpm) if ok else np.nan,
                     "ridge_bpm": float(ridge[start:stop].mean()) if ok else np.nan})
    return pd.DataFrame(rows)


def true_window_rates(rate_bpm: np.ndarray, fps: float, cfg: ChainConfig) -> np.ndarray:
    """Ground truth per window: the mean instantaneous rate = breaths counted in the window per minute; NaN (not
    scored) where any frame of the window has no ground truth."""
    return np.array([np.mean(rate_bpm[s:e]) for s, e in windows(len(rate_bpm), fps, cfg.window_s, cfg.hop_s)])


def true_window_spread(rate_bpm: np.ndarray, fps: float, cfg: ChainConfig) -> np.ndarray:
    """Per window, how far the true rate moves inside it: the 5th to 95th percentile range / mean of the
    instantaneous rate over its breathing frames (a pause's zero rate left out, and by the percentiles the partial
    breath of the frame a pause begins in: a pause is not a change of rhythm); NaN without truth."""
    out = []
    for s, e in windows(len(rate_bpm), fps, cfg.window_s, cfg.hop_s):
        rate = np.asarray(rate_bpm[s:e], np.float64)
        breathing = rate[rate > 0]
        ok = np.isfinite(rate).all() and len(breathing)
        out.append(np.ptp(np.percentile(breathing, [5, 95])) / breathing.mean() if ok else np.nan)
    return np.array(out)
