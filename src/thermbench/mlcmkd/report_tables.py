"""MLCM-KD report tables: runs grouped by method over student seeds (`Group`), the paper's Tables I, III, IV, V
as markdown with mean ± sd over seeds and the test-set sampling error, and the sections on initial weights, loss
balance (gradient shares) and convergence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thermbench.core import stats
from thermbench.core.io import InputError
from thermbench.mlcmkd.settings import TABLE_III, TABLE_IV, TABLE_V, Flags, KTLParams, Settings, kp_weight
from thermbench.models.run_layout import SCRATCH

CHARLOTTE_COLUMNS = ("high", "mean", "low", "front", "side", "full")
GRAD_STATS = ("std", "cv_percent", "mean_abs_step_change", "r2")


def paper_rows(table: tuple[tuple[str, Flags], ...], ktl: KTLParams) -> list[tuple[str, str, Flags]]:
    """(row label, group key, flags) of each row of one of the paper's tables (`settings.TABLE_III`, ...) whose flag
    set a variant of params has."""
    return [(label, f"ktl-{name}", flags) for label, flags in table if (name := ktl.name_of(flags))]


@dataclass
class Group:
    """One method over its student seeds: the metrics JSON of each seed, and its per-image T-FAKE test NME-IO
    (seeds x images, rows in seed order) where its predictions were read."""
    kind: str
    arch: str
    variant: str | None
    runs: dict[int, dict]
    per_image: np.ndarray | None = None

    def values(self, get) -> np.ndarray:
        return np.array([get(self.runs[s]) for s in sorted(self.runs)], dtype=np.float64)

    def by_seed(self, get) -> dict[int, float]:
        return {s: float(get(m)) for s, m in self.runs.items()}

    def unconverged(self) -> list[str]:
        return sorted(m["model"] for m in self.runs.values() if not _converged(m))


def _converged(m: dict) -> bool:
    return bool(m.get("training", {}).get("convergence", {}).get("converged"))


UNTRAINED = ("zeroshot", "submission")  # rows scored here but not trained here: no seeds, no training


def group_key(name: str, m: dict) -> str:
    """`supervised-s`, `supervised-s-scratch`, `ktl-dikd`, `mcl-dikd`, `teacher`, `pretrain-t`, `zeroshot-<name>`,
    `submission-<name>`."""
    kind = m.get("kind")
    if kind in ("teacher", "pretrain") + UNTRAINED:
        return name
    method = m["arch"] if kind == "supervised" else m.get("variant")
    return f"{kind}-{method}{SCRATCH if is_scratch(name) else ''}"


def is_scratch(name: str) -> bool:
    """Whether run `name` is of the from-scratch pair (`layout.run_name`)."""
    return f"{SCRATCH}-seed" in name


def group_runs(metrics: dict[str, dict]) -> dict[str, Group]:
    """Group run metrics by method (`group_key`), seeds inside. Zero-shot rows (another area's
    metrics/mlcmkd/zeroshot-*.json) have no seed and no training."""
    groups: dict[str, Group] = {}
    for name, m in sorted(metrics.items()):
        if name.startswith("zeroshot-"):
            m = {**m, "kind": "zeroshot"}
        if m.get("kind") is None:
            raise InputError(f"metrics/mlcmkd/{name}.json: no 'kind'")
        g = groups.setdefault(group_key(name, m), Group(m["kind"], m.get("arch", ""), m.get("variant"), {}))
        g.runs[int(m.get("seed") or 0)] = m
    return groups


def fmt(x, digits: int = 4) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{digits}f}"


def mean_sd(values: np.ndarray, digits: int = 4) -> str:
    """'mean ± sd' with the sample sd (ddof 1); a single value prints alone."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 1:
        return fmt(float(values[0]), digits)
    return f"{fmt(float(values.mean()), digits)} ± {fmt(float(values.std(ddof=1)), digits)}"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def tfake_nme(m: dict) -> float:
    return m["tfake"]["nme"]


def _image_se(g: Group) -> str:
    """Bootstrap standard error over test images of the method's seed-mean T-FAKE NME."""
    if g.per_image is None:
        return "n/a"
    return fmt(stats.bootstrap_mean(np.nanmean(g.per_image, axis=0))["se"])


def _nme_cells(g: Group) -> list[str]:
    return ([mean_sd(g.values(tfake_nme)), _image_se(g)]
            + [mean_sd(g.values(lambda m, c=c: m["charlotte"][c]["nme"])) for c in CHARLOTTE_COLUMNS])


def describe(g: Group, name: str) -> str:
    """Row label in the paper's naming: teacher/student sizes and the method."""
    if g.kind == "zeroshot":
        return f"{name[len('zeroshot-'):]} (zero-shot, no training)"
    if g.kind == "submission":
        return next(iter(g.runs.values()))["label"]
    m = next(iter(g.runs.values()))
    start = " from random weights" if is_scratch(m["model"]) else ""
    if g.kind == "teacher":
        return f"RTMPose-{g.arch} RGB teacher, zero-shot on thermal"
    if g.kind == "supervised":
        return f"RTMPose-{g.arch} (supervised){start}"
    if g.kind == "ktl":
        return f"KTL {g.variant}: RTMPose-{m['teacher_arch']} -> RTMPose-{g.arch}{start}"
    return f"MCL from ktl-{g.variant}: RTMPose-{m['teacher_arch']} -> RTMPose-{g.arch}"


TABLE_I_KINDS = ("zeroshot", "teacher", "supervised", "ktl", "mcl", "submission")


def table_i_order(groups: dict[str, Group]) -> list[str]:
    """Table I's rows: by kind, the from-scratch runs after the others of their kind."""
    return sorted((k for k in groups if groups[k].kind in TABLE_I_KINDS),
                  key=lambda k: (TABLE_I_KINDS.index(groups[k].kind), "scratch" in k))


def table_i(groups: dict[str, Group]) -> str:
    header = ["Method", "Seeds", "Epochs (best)", "Converged", "Params (M) @256", "GMACs @256", "T-FAKE",
              "T-FAKE test SE", "High", "Mean", "Low", "Front", "Side", "Full", "T-FAKE FR@0.1", "T-FAKE AUC@0.1"]
    rows = []
    notes = []
    for name in table_i_order(groups):
        g = groups[name]
        m = next(iter(g.runs.values()))
        if m.get("status", "ok") != "ok":  # a zero-shot model without weights: its status, no numbers
            rows.append([describe(g, name), m["status"].split(":")[0]] + [""] * (len(header) - 2))
            notes.append(f"- {describe(g, name)}: {m['status']}")
            continue
        if m.get("notes"):
            notes.append(f"- {describe(g, name)}: {m['notes']}")
        c = m.get("complexity") or {}
        trained = g.kind not in UNTRAINED
        epochs = (", ".join(f"{r['training']['epochs_run']} ({r['training']['best_epoch']})"
                            for _, r in sorted(g.runs.items())) if trained else "–")
        converged = f"{len(g.runs) - len(g.unconverged())}/{len(g.runs)}" if trained else "–"
        seeds = ", ".join(map(str, sorted(g.runs))) if trained else "–"
        rows.append([describe(g, name), seeds, epochs, converged, fmt(c.get("params_m"), 2),
                     fmt(c["gflops"] / 2, 2) if "gflops" in c else "n/a"] + _nme_cells(g)
                    + [mean_sd(g.values(lambda m: m["tfake"]["fr@0.1"])),
                       mean_sd(g.values(lambda m: m["tfake"]["auc@0.1"]))])
    return md_table(header, rows) + ("\n" + "\n".join(notes) + "\n" if notes else "")


def table_iii(groups: dict[str, Group], ktl: KTLParams) -> str:
    header = ["Method", "Teacher", "Student", "Seeds", "T-FAKE", "T-FAKE test SE", "High", "Mean", "Low", "Front",
              "Side", "Full"]
    rows = []
    for label, key, _ in paper_rows(TABLE_III, ktl):
        g = groups.get(key)
        if g:
            m = next(iter(g.runs.values()))
            rows.append([label, f"RTMPose-{m['teacher_arch']}", f"RTMPose-{g.arch}", str(len(g.runs))]
                        + _nme_cells(g))
    return md_table(header, rows)


def table_iv(groups: dict[str, Group], ktl: KTLParams) -> str:
    header = ["Method", "L_fm", "L_lg", "L_kp", "L_DIKD^fi", "L_DIKD^ri", "Seeds", "NME T-FAKE", "T-FAKE test SE",
              "NME CHARLOTTE Full"]
    mark = lambda on: "✓" if on else "–"  # noqa: E731
    rows = []
    for label, key, flags in paper_rows(TABLE_IV, ktl):
        g = groups.get(key)
        if g:
            rows.append([label, "✓", "✓", "✓", mark(flags.fi), mark(flags.ri), str(len(g.runs)),
                         mean_sd(g.values(tfake_nme)), _image_se(g),
                         mean_sd(g.values(lambda m: m["charlotte"]["full"]["nme"]))])
    return md_table(header, rows)


def grad_stat(m: dict, key: str, part: str = "grad_norm") -> float:
    return m["training"][part][key]


def table_v(groups: dict[str, Group], ktl: KTLParams, early_late: dict[str, dict[int, float]] | None = None) -> str:
    """Gradient-norm statistics over every logged step and after the warm-up; `early_late`: per KTL group and seed,
    `stability.early_late_ratio` of the run's logged grad norms (a column when given)."""
    header = ["Method", "Seeds", "Steps", "Std Dev", "CV (%)", "Mean Step Change", "R^2", "Steps after warm-up",
              "CV (%) after warm-up"]
    header += ["First / last 20% of steps"] if early_late else []
    rows = []
    for label, key, _ in paper_rows(TABLE_V, ktl):
        g = groups.get(key)
        if g and all("grad_norm" in m["training"] for m in g.runs.values()):
            first = next(iter(g.runs.values()))["training"]
            row = [label, str(len(g.runs)), str(first["grad_norm"]["steps"])]
            row += [mean_sd(g.values(lambda m, k=k: grad_stat(m, k)), 2 if k == "cv_percent" else 4)
                    for k in GRAD_STATS]
            after = all("grad_norm_after_warmup" in m["training"] for m in g.runs.values())
            row += ([str(first["grad_norm_after_warmup"]["steps"]),
                     mean_sd(g.values(lambda m: grad_stat(m, "cv_percent", "grad_norm_after_warmup")), 2)]
                    if after else ["–", "–"])
            if early_late:
                ratios = early_late.get(key, {})
                row.append(mean_sd([ratios[s] for s in sorted(ratios)], 2) if ratios else "–")
            rows.append(row)
    return md_table(header, rows)


INIT_LABELS = {"pretrained backbone": "from the backbone of an RTMPose of their size pretrained on the RGB face set, "
                                      "head random (the offline stand-in for the pose-pretrained CSPNeXt backbone "
                                      "that RTMPose and DWPose start from)",
               "random": "from random weights"}


def initial_weights(groups: dict[str, Group]) -> str:
    """Which trained student methods started from a pretrained backbone and which from random weights (the `init` of
    their runs' metrics), and the RGB-pretrained backbone sources with their RGB NME."""
    starts: dict[str, list[str]] = {}
    for key, g in groups.items():
        if g.kind in ("supervised", "ktl", "mcl"):
            for init in sorted({str(m.get("init")) for m in g.runs.values()}):
                starts.setdefault(init, []).append(key)
    if not starts:
        return ""
    text = "Initial weights: " + "; ".join(f"{', '.join(sorted(keys))} {INIT_LABELS.get(init, f'from {init}')}"
                                           for init, keys in sorted(starts.items())) + ".\n"
    sources = [(k, g) for k, g in sorted(groups.items()) if g.kind in ("teacher", "pretrain")]
    if sources:
        text += "Backbone sources (RGB-pretrained, RGB T-FAKE test NME-IO): " + ", ".join(
            f"RTMPose-{g.arch} ({k}) {fmt(next(iter(g.runs.values()))['tfake_rgb']['nme'])}"
            for k, g in sources) + ".\n"
    return text


def gradient_shares(groups: dict[str, Group], settings: Settings) -> str:
    """Each loss term's share of the gradient norm at the start and the end of training, mean over seeds per method,
    and the lambda_kp scaling that sets the balance."""
    train = settings.train
    rows, terms = [], ("kp", "fm", "lg", "fi", "ri")
    for key, g in sorted(groups.items()):
        if g.kind not in ("supervised", "ktl", "mcl") or not all(m["training"].get("gradient_shares")
                                                                 for m in g.runs.values()):
            continue
        for when in ("start", "end"):
            shares = [m["training"]["gradient_shares"].get(when, {}) for m in g.runs.values()]
            rows.append([key, when] + [f"{100 * np.mean([sh.get(t, 0.0) for sh in shares]):.1f}%"
                                       if any(t in sh for sh in shares) else "–" for t in terms])
    scale = (f"lambda_kp = {train.kp_weight} x {train.kp_reference_batch} / {train.fit.batch_size} = "
             f"{kp_weight(train):g}, the paper's 0.1 rescaled so that a batch-summed L_kp keeps against the batch-mean "
             f"distillation terms the balance it has at the paper's batch of {train.kp_reference_batch}"
             if train.kp_reference_batch else f"lambda_kp = {train.kp_weight} as given (no batch rescaling)")
    text = ("Loss balance, as shares of the gradient: each weighted term's gradient L2 norm over the sum of those "
            f"norms, on {train.fit.share_batches} fixed training batches, at the initial weights (start) and at the "
            f"restored best epoch (end); mean over seeds. Every student uses {scale}; the supervised students the same "
            "lambda_kp, optimiser, schedule and clipping, so the distillation terms are the only difference.\n\n")
    return text + (md_table(["Method", "When", "L_kp", "L_fm", "L_lg", "L_fi", "L_ri"], rows) if rows else "")


def convergence_section(groups: dict[str, Group], settings: Settings) -> str:
    """The stated convergence criterion and every run that did not meet it."""
    runs = [m for g in groups.values() if g.kind not in UNTRAINED for m in g.runs.values()]
    criterion = next((m["training"]["convergence"]["criterion"] for m in runs
                      if "convergence" in m.get("training", {})), "n/a")
    bad = sorted(f"{m['model']} ({m['training']['epochs_run']} of {m['training']['convergence']['epoch_cap']} "
                 "epochs)" for m in runs if not _converged(m))
    text = (f"Convergence: every run trains until its validation NME-IO has converged — {criterion} — or reaches "
            f"its epoch cap ({settings.train.fit.epochs} for students, {settings.train.teacher_epochs} for the teacher "
            "and the pretrained backbones), and keeps its best validation epoch. ")
    return text + (f"**Not converged ({len(bad)} of {len(runs)} runs): {', '.join(bad)}; no comparison below rests "
                   "on them (their statements are not resolved).**\n" if bad else
                   f"All {len(runs)} runs converged.\n")
