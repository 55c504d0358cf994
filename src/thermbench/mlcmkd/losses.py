"""MLCM-KD losses (paper eqs. 1-9) on RTMPose SimCC outputs, and the distillation task that combines them.

Terms (all on SimCC logits of shape (B,K,bins) per axis, or on stride-32 backbone features):
- L_kp  `simcc_kl_loss`     mmpose KLDiscretLoss vs Gaussian labels, visibility-weighted (eq. 3).
- L_fm  `feature_mse`       MSE between teacher features and student features (eq. 1). Equal widths: raw
                            features, as DWPose's FeaLoss. Unequal widths: through the aligner f, a trainable 1x1
                            conv that starts as the identity on the shared channels (`near_identity_conv`).
- L_lg  `simcc_kd_loss`     KL from teacher SimCC distributions to the student's (eq. 2, DWPose KDLoss).
- L_fi, L_ri                DIKD forward / reverse injection (eqs. 4-6), see `DistillTask`.
- gamma(t) `decay_gamma`    time-adaptive decay of the distillation terms (eq. 7).
KTL (eq. 8) and MCL (eq. 9) are `DistillTask` with different flags; Tables III/IV are the flag sets below.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from thermbench.models.rtmpose import RTMPose, fold_batchnorm

__all__ = ["simcc_kl_loss", "simcc_kd_loss", "target_log_probs", "kd_from_log_targets", "kd_terms", "feature_mse",
           "decay_gamma", "near_identity_conv", "DistillConfig", "DistillTask"]


def simcc_kl_loss(pred_x: torch.Tensor, pred_y: torch.Tensor, target_x: torch.Tensor, target_y: torch.Tensor,
                  weight: torch.Tensor, beta: float = 10.0, label_beta: float = 10.0) -> torch.Tensor:
    """L_kp: mmpose KLDiscretLoss(beta=10, label_softmax=True, use_target_weight=True).

    Per axis and row (n,k): p = log_softmax(beta * pred), q = softmax(label_beta * target),
    l = mean over bins of q (log q - p). Loss = sum over axes and (n,k) of weight[n,k] * l, divided by K:
    a SUM over the batch, as mmpose (and the paper's eq. 3, whose 1/L is the mean over bins).
    """
    num_keypoints = pred_x.shape[1]
    w = weight.reshape(-1)
    loss = pred_x.new_zeros(())
    for pred, target in ((pred_x, target_x), (pred_y, target_y)):
        log_p = F.log_softmax(beta * pred.reshape(-1, pred.shape[-1]), dim=-1)
        q = F.softmax(label_beta * target.reshape(-1, target.shape[-1]), dim=-1)
        per_row = F.kl_div(log_p, q, reduction="none").mean(dim=-1)
        loss = loss + (per_row * w).sum()
    return loss / num_keypoints


def simcc_kd_loss(student_x: torch.Tensor, student_y: torch.Tensor, teacher_x: torch.Tensor,
                  teacher_y: torch.Tensor, beta: float = 10.0) -> torch.Tensor:
    """L_lg (eq. 2) as DWPose KDLoss: t = softmax(beta * z_teacher), s = log_softmax(beta * z_student),
    KL = sum over bins of t (log t - s), summed over the two axes and averaged over (n,k).

    `beta` multiplies the logits (DWPose calls it tau; it equals the KLDiscretLoss beta). Eq. 2 is the cross entropy
    -sum t log s; KL differs by the teacher's entropy, a constant for the student, so the gradients are the same and
    the term is 0 when student = teacher. No visibility weight (DWPose distills invisible points too). The teacher
    side is detached: it is a target.
    """
    return kd_from_log_targets(student_x, student_y, target_log_probs(teacher_x, teacher_y, beta), beta)


def target_log_probs(teacher_x: torch.Tensor, teacher_y: torch.Tensor, beta: float = 10.0) -> tuple[torch.Tensor, ...]:
    """log_softmax(beta * z) of the (detached) target logits per axis, as rows (B*K, bins): made once where several
    terms distil towards the same logits."""
    return tuple(F.log_softmax(beta * t.detach().reshape(-1, t.shape[-1]), dim=-1) for t in (teacher_x, teacher_y))


def kd_from_log_targets(student_x: torch.Tensor, student_y: torch.Tensor, log_targets: tuple[torch.Tensor, ...],
                        beta: float = 10.0) -> torch.Tensor:
    """`simcc_kd_loss` with the target side given as `target_log_probs`."""
    loss = student_x.new_zeros(())
    for s, log_t in zip((student_x, student_y), log_targets):
        log_s = F.log_softmax(beta * s.reshape(-1, s.shape[-1]), dim=-1)
        loss = loss + F.kl_div(log_s, log_t, reduction="sum", log_target=True)
    return loss / (student_x.shape[0] * student_x.shape[1])


def kd_terms(students: list[tuple[torch.Tensor, ...]], targets: list[tuple[torch.Tensor, ...]],
             beta: float = 10.0) -> torch.Tensor:
    """`kd_from_log_targets` of several (student logits, target log-probs) pairs as one vector, in a few kernels:
    every pair's rows stacked (both axes together where their bins agree) through one log-softmax and one KL."""
    b, k = students[0][0].shape[:2]
    xs, ys = [s[0] for s in students], [s[1] for s in students]
    xt, yt = [t[0] for t in targets], [t[1] for t in targets]
    groups = [(xs + ys, xt + yt)] if xs[0].shape == ys[0].shape else [(xs, xt), (ys, yt)]
    total = 0
    for logits, log_targets in groups:
        log_s = F.log_softmax(beta * torch.stack(logits).flatten(1, 2), dim=-1)
        log_t = torch.stack(log_targets)
        total = total + (log_t.exp() * (log_t - log_s)).sum((1, 2)).view(-1, len(students)).sum(0)
    return total / (b * k)


def feature_mse(student_aligned: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """L_fm (eq. 1): 1/(CHW) sum (F_teacher - f(F_student))^2 per sample, averaged over the batch (= plain MSE).

    DWPose instead sums over C,H,W and scales by 7e-5; the paper's normalisation is used here.
    """
    return F.mse_loss(student_aligned, teacher.detach())


def decay_gamma(epoch: int, total_epochs: int, warmup: int = 0) -> float:
    """Eq. 7: gamma(t) = 1 for t <= alpha, else 1 - (t - alpha) / T, with t = 1..T the 1-based epoch, T = total_epochs,
    alpha = warmup. Clamped to [0, 1] so epochs past T (or alpha < 0 misuse) cannot flip the sign.

    Note gamma(T) = alpha / T, not 0. DWPose's r = 1 - epoch0 / max_epochs (0-based epoch0 = t - 1) is alpha = 1.
    """
    if total_epochs < 1 or warmup < 0 or epoch < 1:
        raise ValueError(f"decay_gamma: need epoch >= 1, total_epochs >= 1, warmup >= 0 (got {epoch}, "
                         f"{total_epochs}, {warmup})")
    if epoch <= warmup:
        return 1.0
    return min(1.0, max(0.0, 1.0 - (epoch - warmup) / total_epochs))


def near_identity_conv(cin: int, cout: int) -> nn.Conv2d:
    """1x1 conv (with bias, as DWPose's align conv) that starts as the identity on the first min(cin, cout) channels
    and zero elsewhere (bias 0).

    Chosen over an orthogonal init: at the start, reverse injection then hands the teacher head the student's own
    channels unchanged (the teacher head was trained on post-activation features of that scale); an orthogonal map
    keeps the norm but mixes channels, and a default (Kaiming) init lands outside the head's range altogether, which
    made RI's gradients explode in a default-profile run. L_fm then trains the extra channels.
    """
    conv = nn.Conv2d(cin, cout, 1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        shared = min(cin, cout)
        conv.weight[torch.arange(shared), torch.arange(shared), 0, 0] = 1.0
    return conv


@dataclass(frozen=True)
class DistillConfig:
    """Which terms are on and their weights (paper Sec. III-C: lambda_kp = 0.1, every distillation weight 1e-3).

    L = kp_weight L_kp + gamma (fm_weight L_fm + lg_weight L_lg + fi_weight L_fi + ri_weight L_ri)   (eqs. 6, 8, 9)
    """

    fd: bool = True        # feature distillation L_fm
    ld: bool = True        # logit distillation L_lg
    fi: bool = False       # DIKD forward injection
    ri: bool = False       # DIKD reverse injection
    dikd_mode: str = "text"  # "text" | "equations", see DistillTask
    kp_weight: float = 0.1
    fm_weight: float = 1e-3
    lg_weight: float = 1e-3
    fi_weight: float = 1e-3
    ri_weight: float = 1e-3
    beta: float = 10.0     # SimCC logit scale in L_kp, L_lg, L_fi, L_ri


class DistillTask(nn.Module):
    """Frozen teacher + trainable student (+ aligners) -> named losses (timm task pattern).

    KTL: `task(thermal, rgb, targets, gamma)` with an RGB teacher. MCL (eq. 9): `task(thermal, thermal, ...)` with the
    frozen KTL thermal model as teacher and fi = ri = False. Both inputs are already normalised (`normalize_input`).

    Logit names follow the paper: L_tt teacher backbone + teacher head, L_ss student + student, L_ts teacher backbone
    + student head (the FI path), L_st student backbone (aligned by the L_fm aligner f) + frozen teacher head (the RI
    path). The teacher's parameters never train, but gradients flow THROUGH its head on the RI path.
    Equal widths (the paper's KTL pairs): no aligner and no FI adapter; L_fm and RI use the raw student features.

    dikd_mode="text" (default), the meaning of the paper's prose (Sec. II-A.4):
        L_fi = KL(L_tt || L_ts)  "the student's head [should] behave like the teacher's head when given the same
                                  features from the teacher's backbone"; trains the student head only.
        L_ri = KL(L_tt || L_st)  "compels the student's features to produce teacher-like predictions when processed
                                  by the teacher's head"; trains the student backbone and the aligner only.
    dikd_mode="equations", the printed equations, which swap the paths:
        (4) L_ri = -1/N sum_n sum_k sum_i L_ss^i log(L_ts^i)  -> KL(L_ss || L_ts), L_ss detached as the target;
            trains the student head only (despite the name "reverse").
        (5) L_fi = -1/N sum_n sum_k sum_i L_tt^i log(L_st^i)  -> KL(L_tt || L_st); trains backbone + aligner.
    Both modes use `simcc_kd_loss` (KL, softmax of beta * logits, mean over (n,k)): KL = cross entropy minus the
    target's entropy, so the gradients equal the printed cross entropies and each term is 0 at agreement.
    When teacher and student widths differ, FI feeds the teacher features through an extra 1x1 conv (teacher ->
    student channels, near-identity init); the paper does not say how (its KTL pairs have equal widths).

    Loss balance: L_kp is a SUM over the batch (mmpose) while every distillation term is a MEAN (DWPose), so per
    sample L_kp weighs lambda_kp * B against lambda_distill. `forward(..., kp_scale=world_size)` keeps that balance
    under DDP: DDP averages gradients over ranks, which turns each rank's local sum into sum / world_size, while the
    local means average to the global mean; scaling the summed term by world_size restores the one-process loss.
    """

    def __init__(self, student: RTMPose, teacher: RTMPose, cfg: DistillConfig = DistillConfig()):
        super().__init__()
        if cfg.dikd_mode not in ("text", "equations"):
            raise ValueError(f"dikd_mode must be 'text' or 'equations', got '{cfg.dikd_mode}'")
        if (student.cfg.num_keypoints, student.cfg.input_size) != (teacher.cfg.num_keypoints, teacher.cfg.input_size):
            # SimCC bins and stride-32 maps then line up one to one; the paper uses 256x256 for both
            raise ValueError("student and teacher must share num_keypoints and input_size")
        self.cfg = cfg
        self.student = student
        self.teacher = teacher.eval().requires_grad_(False)
        # Which cross-injected logits the DIKD terms need: text fi->L_ts, ri->L_st; equations ri->L_ts, fi->L_st.
        self._needs_ts = cfg.fi if cfg.dikd_mode == "text" else cfg.ri
        self._needs_st = cfg.ri if cfg.dikd_mode == "text" else cfg.fi
        cs, ct = student.feature_channels, teacher.feature_channels
        self.aligner = near_identity_conv(cs, ct) if (cs != ct and (cfg.fd or self._needs_st)) else None
        self.fi_adapter = near_identity_conv(ct, cs) if (cs != ct and self._needs_ts) else None
        # `lean_step`'s stacked loss: every possible term's weight in `forward`'s order of terms (kp first, then
        # fm, lg, fi, ri as switched on; text mode adds fi before ri, equations mode ri before fi) and whether gamma
        # scales it; buffers (not saved) so they move with the task
        self.lean = False
        order = ["kp"] + [t for t in ("fm", "lg") if getattr(cfg, {"fm": "fd", "lg": "ld"}[t])] + \
            [t for t in (("fi", "ri") if cfg.dikd_mode == "text" else ("ri", "fi")) if getattr(cfg, t)]
        self.register_buffer("loss_weights", torch.tensor([getattr(cfg, f"{t}_weight") for t in order]),
                             persistent=False)
        self.register_buffer("loss_distilled", torch.tensor([t != "kp" for t in order]), persistent=False)

    def train(self, mode: bool = True) -> DistillTask:
        super().train(mode)
        self.teacher.eval()  # frozen: keep its BN running statistics
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Student + aligners (the teacher is frozen); pass these to the optimiser."""
        return [p for p in self.parameters() if p.requires_grad]

    def _student_head_on_teacher(self, feats_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.student.forward_head(feats_t if self.fi_adapter is None else self.fi_adapter(feats_t))  # L_ts

    def forward(self, student_input: torch.Tensor, teacher_input: torch.Tensor, targets: dict[str, torch.Tensor],
                gamma: float = 1.0, kp_scale: float = 1.0) -> dict[str, torch.Tensor | tuple]:
        """targets: `target_x`, `target_y`, `weight` from `simcc.encode` (student input frame); `kp_scale` multiplies
        the batch-summed L_kp in the total (the number of DDP processes, see the class doc).

        Returns `loss` (weighted total to backprop), the unweighted active terms `loss_kp`, `loss_fm`, `loss_lg`,
        `loss_fi`, `loss_ri`, `weighted` = each term as it enters the total ({"kp": ..., "fm": ...}), and `output` =
        the student's (simcc_x, simcc_y) for metrics.
        """
        if self.lean:
            return self._lean_forward(student_input, teacher_input, targets, gamma, kp_scale)
        cfg = self.cfg
        with torch.no_grad():
            feats_t = self.teacher.forward_features(teacher_input)
            logits_tt = self.teacher.forward_head(feats_t) if (cfg.ld or cfg.fi or cfg.ri) else None
            log_tt = None if logits_tt is None else target_log_probs(*logits_tt, beta=cfg.beta)  # once for all terms
        feats_s = self.student.forward_features(student_input)
        logits_ss = self.student.forward_head(feats_s)

        terms = {"loss_kp": simcc_kl_loss(*logits_ss, targets["target_x"], targets["target_y"], targets["weight"],
                                          beta=cfg.beta)}
        aligned = self.aligner(feats_s) if self.aligner is not None else feats_s
        if cfg.fd:
            terms["loss_fm"] = feature_mse(aligned, feats_t)
        if cfg.ld:
            terms["loss_lg"] = kd_from_log_targets(*logits_ss, log_tt, beta=cfg.beta)
        if cfg.fi or cfg.ri:
            terms.update(self._dikd(feats_t, aligned, log_tt, logits_ss))

        weighted = {"kp": cfg.kp_weight * kp_scale * terms["loss_kp"]}
        weighted.update({name[5:]: gamma * getattr(cfg, f"{name[5:]}_weight") * value
                         for name, value in terms.items() if name != "loss_kp"})
        terms["loss"] = sum(weighted.values())
        terms["weighted"] = weighted
        terms["output"] = logits_ss
        return terms

    def _lean_forward(self, student_input: torch.Tensor, teacher_input: torch.Tensor,
                      targets: dict[str, torch.Tensor], gamma: float | torch.Tensor,
                      kp_scale: float) -> dict[str, torch.Tensor | tuple]:
        """`forward`'s terms, equal within float rounding, in fewer kernels: each head runs once on its inputs
        stacked along the batch (the student's on its own and the FI features, the teacher's on its own and the RI
        features), every distillation term of the logits in one `kd_terms`, and the terms weighted in one product
        with the weights made once (`loss_weights`)."""
        cfg, b = self.cfg, student_input.shape[0]
        with torch.no_grad():
            feats_t = self.teacher.forward_features(teacher_input)
        feats_s = self.student.forward_features(student_input)
        aligned = self.aligner(feats_s) if self.aligner is not None else feats_s
        heads_in = [feats_s] + ([feats_t if self.fi_adapter is None else self.fi_adapter(feats_t)]
                                if self._needs_ts else [])
        student_out = self.student.forward_head(torch.cat(heads_in) if len(heads_in) > 1 else feats_s)
        logits_ss = tuple(o[:b] for o in student_out)
        logits_ts = tuple(o[b:] for o in student_out)
        logits_tt = logits_st = None
        if self._needs_st:  # gradients flow through the teacher's head on the RI half only
            teacher_out = self.teacher.forward_head(torch.cat([feats_t, aligned]))
            logits_tt, logits_st = tuple(o[:b].detach() for o in teacher_out), tuple(o[b:] for o in teacher_out)
        elif cfg.ld or cfg.fi or cfg.ri:
            with torch.no_grad():
                logits_tt = self.teacher.forward_head(feats_t)

        terms = [simcc_kl_loss(*logits_ss, targets["target_x"], targets["target_y"], targets["weight"],
                               beta=cfg.beta)]
        names = ["kp"]
        if cfg.fd:
            terms.append(feature_mse(aligned, feats_t))
            names.append("fm")
        pairs = []  # (term, student logits, target log-probs) in `forward`'s order
        if logits_tt is not None:
            log_tt = target_log_probs(*logits_tt, beta=cfg.beta)
            pairs = ([("lg", logits_ss, log_tt)] if cfg.ld else []) + \
                self._dikd_pairs(logits_ss, logits_ts, logits_st, log_tt)
        values = torch.stack(terms)
        if pairs:
            values = torch.cat([values, kd_terms([p[1] for p in pairs], [p[2] for p in pairs], beta=cfg.beta)])
            names += [p[0] for p in pairs]
        scale = torch.where(self.loss_distilled[:len(names)], gamma, kp_scale)
        weighted = values * (self.loss_weights[:len(names)] * scale)
        out: dict = {f"loss_{n}": v for n, v in zip(names, values.unbind())}
        out.update(loss=weighted.sum(), weighted=dict(zip(names, weighted.unbind())), output=logits_ss)
        return out

    @contextlib.contextmanager
    def lean_step(self, dtype: torch.dtype):
        """Within the block, the task computes as `FitConfig.lean_step` (`_lean_forward`), its teacher a copy with
        BatchNorm folded into its convolutions and its weights cast once to `dtype` (autocast caches the casts of
        weights that require grad only: a frozen teacher's would be cast again at every use). The task's own
        teacher is back on exit."""
        teacher, self.teacher = self.teacher, fold_batchnorm(copy.deepcopy(self.teacher)).to(dtype)
        self.lean = True
        try:
            yield self
        finally:
            self.teacher, self.lean = teacher, False

    def _dikd(self, feats_t, aligned, log_tt, logits_ss) -> dict[str, torch.Tensor]:
        logits_ts = self._student_head_on_teacher(feats_t) if self._needs_ts else None
        logits_st = self.teacher.forward_head(aligned) if self._needs_st else None
        return {f"loss_{name}": kd_from_log_targets(*student, target, beta=self.cfg.beta)
                for name, student, target in self._dikd_pairs(logits_ss, logits_ts, logits_st, log_tt)}

    def _dikd_pairs(self, logits_ss, logits_ts, logits_st, log_tt) -> list[tuple[str, tuple, tuple]]:
        """The DIKD terms on (see the class doc) in `forward`'s order, as (term, student logits, target log-probs):
        text mode L_fi = KL(L_tt || L_ts), L_ri = KL(L_tt || L_st); equations mode (4) L_ri = KL(L_ss || L_ts),
        (5) L_fi = KL(L_tt || L_st)."""
        cfg = self.cfg
        if cfg.dikd_mode == "text":
            return ([("fi", logits_ts, log_tt)] if cfg.fi else []) + ([("ri", logits_st, log_tt)] if cfg.ri else [])
        return ([("ri", logits_ts, target_log_probs(*logits_ss, beta=cfg.beta))] if cfg.ri else []) + \
            ([("fi", logits_st, log_tt)] if cfg.fi else [])
