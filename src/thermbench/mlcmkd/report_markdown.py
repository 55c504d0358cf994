"""The MLCM-KD report as one markdown document: conclusions first, then the checks, the sections and the paper's
tables with their paired differences; with its summary scalars and statements."""

from __future__ import annotations

import numpy as np

from thermbench.core.conclusions import Statement
from thermbench.mlcmkd.losses import DistillConfig
from thermbench.mlcmkd.report_statements import (
    COMPARISON_HEADER,
    compare_family,
    families,
    mcl_effect,
    mean_shape_check,
    rank_statements,
    statements_section,
    table_v_family,
    teacher_check,
)
from thermbench.mlcmkd.report_tables import (
    UNTRAINED,
    Group,
    convergence_section,
    gradient_shares,
    initial_weights,
    md_table,
    table_i,
    table_iii,
    table_iv,
    table_v,
)
from thermbench.mlcmkd.settings import Settings, kp_weight
from thermbench.models.rtmpose import RTMPoseConfig


def markdown(groups: dict[str, Group], settings: Settings, source_label: str,
             early_late: dict[str, dict[int, float]] | None = None,
             shapes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
             check: dict[str, dict[str, str]] | None = None) -> tuple[str, dict, list[Statement]]:
    """The report's markdown, its summary scalars and its statements. `shapes`: T-FAKE landmarks of the students'
    training crops, val and test (crop px), for the mean-shape baseline; `check`: the kernel-check verdicts."""
    check = check or {}
    any_run = next(g.runs[s] for g in groups.values() if g.kind not in UNTRAINED for s in g.runs)
    size = any_run["input_size"]
    dikd_mode = settings.train.ktl.dikd_mode
    teacher_text, teacher_summary, teacher_st = teacher_check(groups, settings.rtmpose.ktl_arch)
    shape_text, shape_summary, shape_st = mean_shape_check(groups, *shapes) if shapes is not None else ("", {}, [])
    ktl = settings.train.ktl
    fams = families(groups, ktl, settings.rtmpose.ktl_arch, settings.rtmpose.mcl_arch)
    kernel = {"replicates": getattr(check, "replicates_of", None),
              "kernel_runs": getattr(check, "kernel_runs_of", None)}
    st_i, rows_i = compare_family(groups, fams.get("table_i", []), **kernel)
    st_iv, rows_iv = compare_family(groups, fams.get("table_iii_iv", []), **kernel)
    st_v, rows_v = compare_family(groups, table_v_family(groups, ktl), per_image=False, **kernel)
    ranks = rank_statements(groups, ktl)
    train = settings.train
    mcl_text, mcl_st = mcl_effect(groups, settings.rtmpose.mcl_arch, int(size * RTMPoseConfig.split_ratio),
                                  kp_weight(train), train.fit.batch_size,
                                  train.mcl.weights.get("lg_weight", DistillConfig.lg_weight), st_i)
    statements = teacher_st + shape_st + st_i + mcl_st + st_iv + ranks + st_v
    parts = [
        f"# MLCM-KD reproduction ({source_label})\n\n",
        f"Trained at {size}x{size} input; student seeds {', '.join(map(str, settings.train.seeds))} for every "
        "compared method (one frozen teacher, trained with the top-level seed; MCL run k compresses the DIKD run of "
        "seed k); cells are mean ± sample sd over seeds, and `test SE` is the bootstrap standard error over test "
        f"images of the seed mean. DIKD mode: **{dikd_mode}** ("
        + ("the paper's prose: FI = teacher features through the student head vs L_tt, RI = student features through "
           "the frozen teacher head vs L_tt" if dikd_mode == "text" else
           "the paper's printed eqs. (4)-(5), which swap the cross-injected logits relative to its prose")
        + "). Equal teacher/student widths: raw features on the RI path and in L_fm (no aligner, as DWPose); unequal "
          "widths: a 1x1 aligner initialised as the identity on the shared channels. NME-IO (outer eye corners) on "
          "T-FAKE; NME normalised by the GT box diagonal on CHARLOTTE subsets (Side: only the mapped, labelled "
          "points). Params and GMACs (multiply-adds) are for the architecture at 256x256.\n\n",
        "## Conclusions\n\n", statements_section(statements, check), "\n",
        convergence_section(groups, settings), "\n", initial_weights(groups), "\n", teacher_text, "\n", shape_text,
        "\n", gradient_shares(groups, settings),
        "\n## Table I: supervised vs KD\n\n", table_i(groups),
        "\nPaired differences (same student seed: same initial head, batches and augmentation), one Holm family for "
        "the table: the t interval is at the Holm level of each comparison. Negative = lower NME than the "
        "second method.\n\n", md_table(COMPARISON_HEADER, rows_i) if rows_i else "No comparisons (methods missing).\n",
        "\n" + mcl_text if mcl_text else "",
        "\n## Table III: distillation strategies (KTL)\n\n", table_iii(groups, ktl),
        "\n## Table IV: DIKD ablation\n\n", table_iv(groups, ktl),
        "\nPaired differences against FD+LD (Tables III and IV, one Holm family).\n\n",
        md_table(COMPARISON_HEADER, rows_iv) if rows_iv else "No comparisons (FD+LD or the variants missing).\n",
        "\n## Table V: gradient-norm stability (logged KTL steps, mean ± sd over seeds)\n\n",
        table_v(groups, ktl, early_late),
        ("\nFirst / last 20% of steps: the mean grad norm of the first fifth of the logged steps over that of the last "
         "fifth (1 = no trend; a series that starts high and settles has a high CV without step-to-step "
         "volatility).\n" if early_late else ""),
        ("\nPaired CV differences against FD+LD (one Holm family; no test images involved).\n\n"
         + md_table(COMPARISON_HEADER, rows_v) if rows_v else ""),
    ]
    return "".join(parts), {**teacher_summary, **shape_summary}, statements
