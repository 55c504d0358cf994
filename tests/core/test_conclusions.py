"""Conclusions as data: difference verdicts, rank orders, the kernel check folded in by `final`, the records."""

import hashlib
import json
from dataclasses import replace

import pytest

from thermbench.core import conclusions as cc
from thermbench.core.io import InputError

NOT_CHECKED = ("not kernel-checked (conclusions/kernel_check.json holds no check made for these params and this code: "
               "`make conclusions` makes one)")


@pytest.fixture(autouse=True)
def margin_of_a_quarter(monkeypatch):
    """The cases below are worked by hand for a vendor margin of 0.25 half-widths; the margin itself is the measured
    one (tests/tools/test_vendor_shift.py)."""
    monkeypatch.setattr(cc, "VENDOR_MARGIN", 0.25)


def test_difference_below_and_above_zero_is_resolved():
    s = cc.difference("x.lower", "A vs B", "A", "B", -0.02, -0.03, -0.01)
    assert (s.verdict, s.resolved, s.why) == ("A < B", True, "")
    assert s.text == "A vs B: A < B (A − B = -0.02 [-0.03, -0.01])"
    assert s.numbers == {"mean": -0.02, "low": -0.03, "high": -0.01}
    s = cc.difference("x.higher", "A vs B", "A", "B", 0.5, 0.1, 0.9, "%", extra={"n_seeds": 3})
    assert (s.verdict, s.resolved) == ("A > B", True)
    assert s.text == "A vs B: A > B (A − B = +0.5% [+0.1, +0.9])"
    assert s.numbers == {"mean": 0.5, "low": 0.1, "high": 0.9, "n_seeds": 3}
    assert cc.sentence(s) == "A vs B: A > B (A − B = +0.5% [+0.1, +0.9])."


@pytest.mark.parametrize("low, high", [(-0.01, 0.03), (0.0, 0.2), (-0.2, 0.0)])
def test_difference_whose_interval_includes_or_touches_zero_is_not_resolved(low, high):
    s = cc.difference("x", "A vs B", "A", "B", 0.01, low, high)
    assert (s.verdict, s.resolved, s.why) == ("not resolved", False, "interval includes 0")
    assert s.text.endswith(", interval includes 0)")


def test_difference_without_an_interval():
    s = cc.difference("x", "A vs B", "A", "B", -0.5, None, None)
    assert (s.verdict, s.resolved, s.why) == ("not resolved", False, "too few runs for an interval")
    assert s.text == "A vs B: not resolved (A − B = -0.5 no interval, too few runs for an interval)"


def test_blockers_stop_even_a_clear_difference():
    s = cc.difference("x", "A vs B", "A", "B", -0.02, -0.03, -0.01, blockers=["not converged: a-seed0", "2 seeds"])
    assert (s.verdict, s.resolved) == ("not resolved", False)
    assert s.why == "not converged: a-seed0; 2 seeds"
    assert s.text == "A vs B: not resolved (A − B = -0.02 [-0.03, -0.01]; not converged: a-seed0; 2 seeds)"


def test_ranking_orders_only_the_pairs_whose_intervals_separate():
    # A [0, 2] overlaps B [1.5, 3], B overlaps C [2.5, 4]; A and C do not overlap: only A < C is ordered.
    items = {"C": (3.0, 2.5, 4.0), "A": (1.0, 0.0, 2.0), "B": (2.0, 1.5, 3.0)}
    assert cc.separations(items) == {"A": ["C"], "B": [], "C": []}
    s = cc.ranking("r", "order", items)
    assert (s.verdict, s.resolved) == ("A < C", True)
    assert s.text == "order: A < C (by mean: A, B, C; pairs not named overlap)"
    # A [0.5, 1.5] and B [0.9, 1.6] overlap, C [2.5, 3.5] and D [2.0, 4.0] overlap; both lie above A and B.
    items = {"A": (1.0, 0.5, 1.5), "B": (1.2, 0.9, 1.6), "D": (3.1, 2.0, 4.0), "C": (3.0, 2.5, 3.5)}
    s = cc.ranking("r", "order", items)
    assert (s.verdict, s.resolved) == ("A < C, D; B < C, D", True)
    assert s.numbers["D"] == {"mean": 3.1, "low": 2.0, "high": 4.0} and list(s.numbers) == ["A", "B", "C", "D"]
    # B's and A's means swap, C's and D's too, inside overlapping intervals: the same pairs, the same verdict.
    swapped = {"A": (1.3, 0.5, 1.5), "B": (1.2, 0.9, 1.6), "D": (2.9, 2.0, 4.0), "C": (3.0, 2.5, 3.5)}
    assert cc.ranking("r", "order", swapped).verdict == "A < C, D; B < C, D"
    # A chain: X [0, 1] < Y [2, 3] < Z [4, 5]; Z lies above two items, Y above one.
    chain = cc.ranking("r", "order", {"Z": (4.5, 4.0, 5.0), "X": (0.5, 0.0, 1.0), "Y": (2.5, 2.0, 3.0)})
    assert chain.verdict == "X < Y, Z; Y < Z"
    # Touching ends overlap.
    assert cc.separations({"B": (1.0, 0.0, 2.0), "C": (3.0, 2.0, 4.0)}) == {"B": [], "C": []}
    # Blocked: not resolved whatever the order.
    blocked = cc.ranking("r", "order", items, blockers=["not converged: x"])
    assert (blocked.verdict, blocked.resolved, blocked.text) == ("not resolved", False,
                                                                 "order: not resolved (not converged: x)")


def test_ranking_with_every_interval_overlapping_is_not_resolved():
    items = {"A": (1.0, 0.0, 2.0), "B": (1.5, 1.0, 3.0)}
    s = cc.ranking("r", "order", items)
    assert (s.verdict, s.resolved, s.why) == ("not resolved", False, "every interval overlaps")
    assert s.text == "order: not resolved (every interval overlaps)"


def _resolved():
    return cc.difference("m.a_vs_b", "A vs B", "A", "B", -0.02, -0.03, -0.01)


def test_final_with_a_kernel_check_that_agrees_differs_or_lacks_the_id():
    s = _resolved()
    assert cc.final(s, {"aten_default": {"m.a_vs_b": "A < B"}, "default": {"m.a_vs_b": "A < B"}}) is s
    f = cc.final(s, {"default": {"m.a_vs_b": "not resolved"}, "aten_default": {"m.a_vs_b": "A < B"}})
    assert (f.verdict, f.resolved) == ("not resolved", False)
    assert f.text == "A vs B: not resolved (differs across CPU kernels) (here A < B; default: not resolved)"
    assert f.why == "differs across CPU kernels (default: not resolved)"
    assert f.numbers == s.numbers and f.id == s.id
    # Two settings differ: both named, in sorted order.
    f = cc.final(s, {"z": {"m.a_vs_b": "A > B"}, "a": {"m.a_vs_b": "not resolved"}})
    assert f.why == "differs across CPU kernels (a: not resolved; z: A > B)"
    # A setting that did not check the id has not confirmed it: the statement is not kernel-checked there.
    f = cc.final(s, {"default": {"other": "X < Y"}, "aten_default": {"m.a_vs_b": "A < B"}})
    assert (f.verdict, f.resolved) == ("not resolved", False)
    assert f.text == "A vs B: not resolved (not kernel-checked) (here A < B)"
    assert f.why == "not kernel-checked (no verdict under default)"


def test_final_without_a_complete_kernel_check_resolves_neither_kind_and_an_unmoved_untrained_one_then_stands():
    s = _resolved()
    f = cc.final(s, {})
    assert (f.verdict, f.resolved) == ("not resolved", False)
    assert f.text == "A vs B: not resolved (not kernel-checked) (here A < B)"
    assert f.why == NOT_CHECKED
    untrained = cc.difference("d", "A vs B", "A", "B", -0.02, -0.03, -0.01, trained=False)
    assert cc.final(untrained, {}).why == NOT_CHECKED
    # a setting required but not made yet (an empty verdict set) confirms nothing
    f = cc.final(untrained, {"native": {"d": "A < B"}, "default": {}})
    assert (f.resolved, f.why) == (False, "not kernel-checked (no verdict under default)")
    # every setting gave it and its numbers did not move: deterministic, as it is
    assert cc.final(untrained, {"native": {"d": "A < B"}, "default": {"d": "A < B"}}) is untrained
    # its numbers moved: checked as a trained one
    moved = cc.final(untrained, {"native": {"d": "A < B"}, "default": {"d": "not resolved"}}, frozenset({"d"}))
    assert (moved.resolved, moved.why) == (False, "differs across CPU kernels (default: not resolved)")
    records = cc.as_records([untrained], {"native": {"d": "A < B"}, "default": {}})
    assert (records[0]["deterministic"], records[0]["trained"], records[0]["kernels_checked"]) == (False, False,
                                                                                                    ["native"])
    records = cc.as_records([untrained], {"native": {"d": "A < B"}, "default": {"d": "A < B"}})
    assert (records[0]["deterministic"], records[0]["resolved"]) == (True, True)
    assert cc.settings_compared({"native": {"d": "A < B"}, "default": {}, "avx2": {"d": "A < B"}}) == (
        "native (this machine's own run), avx2 (not made yet: default)")


def test_a_setting_made_for_the_untrained_sources_only_judges_those_and_is_named_apart():
    trained = cc.difference("t", "T vs U", "T", "U", -0.02, -0.03, -0.01)
    untrained = cc.difference("u", "O vs W", "O", "W", -0.02, -0.03, -0.01, trained=False)
    # aten_default made in full; avx2 and default for the untrained sources only (no verdict on trained statements)
    check = {"native": {"t": "T < U", "u": "O < W"}, "aten_default": {"t": "T < U", "u": "O < W"},
             "avx2": {"u": "O < W"}, "default": {"u": "O < W"}, "mkl_compatible": {}}
    kinds = {"t": True, "u": False}
    assert cc.settings_compared(check, kinds) == (
        "for the statements on trained models: native (this machine's own run), aten_default (not made yet: avx2, "
        "default, mkl_compatible); for the statements on untrained sources: native (this machine's own run), "
        "aten_default, avx2, default (not made yet: mkl_compatible)")
    assert cc.final(trained, check).why == "not kernel-checked (no verdict under avx2, default, mkl_compatible)"
    assert cc.final(untrained, check).why == "not kernel-checked (no verdict under mkl_compatible)"
    check["mkl_compatible"] = {"u": "O < W"}
    assert cc.final(untrained, check) is untrained  # deterministic: every setting gave it, its numbers did not move
    assert not cc.final(trained, check).resolved
    records = cc.as_records([trained, untrained], check)
    assert [(r["deterministic"], r["resolved"], len(r["kernels_checked"])) for r in records] == [
        (False, False, 2), (True, True, 5)]
    # one kind only, or both given by the same settings: one list, as before
    assert cc.settings_compared(check, {"u": False}) == cc.settings_compared(check) == (
        "native (this machine's own run), aten_default, avx2, default, mkl_compatible")


def test_pairs_of_inverts_pair_order():
    pairs = {("A", "C"), ("A", "D"), ("B", "C"), ("B", "D"), ("oracle+2px", "x_y")}
    text = cc.pair_order(pairs)
    assert text == "A < C, D; B < C, D; oracle+2px < x_y"
    assert cc.pairs_of(text) == pairs
    assert cc.pairs_of("TinyHead > dlib68") == {("dlib68", "TinyHead")}
    assert cc.pairs_of("not resolved") == set()
    assert cc.pairs_of("5 px") is None and cc.pairs_of("missed") is None
    assert cc.pair_order(set()) == ""


def test_final_keeps_the_pairs_every_setting_resolved(monkeypatch):
    monkeypatch.setattr(cc, "VENDOR_MARGIN", 0.0)  # the intersection alone (O < F lies 0.195 half-widths from 0)
    # Here: O < F, M, W and K < M; the other CPU separated one pair more (K < F) and one less (O < W).
    # O [0, 0.6] overlaps K [0.5, 1.5]; K's top 1.5 lies above F's and W's bottoms (1.4, 1.45), below M's (2.7).
    items = {"O": (0.1, 0.0, 0.6), "K": (1.0, 0.5, 1.5), "F": (6.0, 1.4, 9.0), "M": (3.0, 2.7, 3.3),
             "W": (5.0, 1.45, 7.0)}
    s = cc.ranking("r", "order", items)
    assert s.verdict == "K < M; O < F, W, M"  # M lies above two items, F and W above one
    check = {"native": {"r": "K < M; O < F, W, M"}, "other": {"r": "K < F, M; O < F, M"}}
    f = cc.final(s, check)
    assert (f.verdict, f.resolved) == ("K < M; O < F, M", True)
    assert f.text == ("order: K < M; O < F, M (an intersection: the pairs every CPU kernel setting checked "
                      "separates; not resolved (differs across CPU kernels) where named: O < W (other); as made here: "
                      f"{s.text.removeprefix('order: ')})")
    assert f.text.endswith("as made here: K < M; O < F, W, M (by mean: O, K, M, W, F; pairs not named overlap))")
    # Another machine's run that separated K < F as well publishes the same verdict against the same check.
    wider = cc.ranking("r", "order", {**items, "F": (6.0, 1.6, 9.0)})
    assert wider.verdict == "K < F, M; O < W, F, M"
    assert cc.final(wider, check).verdict == f.verdict
    # No pair held everywhere: not resolved.
    none = cc.final(s, {"other": {"r": "F < W"}})
    assert (none.verdict, none.resolved) == ("not resolved", False)


def test_a_pooled_statement_clears_the_margin_in_this_runs_half_widths(monkeypatch):
    """A - B pooled over this run and settings a, b: [-0.8, -0.2] lies 0.2 / 0.3 = 0.67 of its own half-widths from
    0, under a margin of 1.03; this run's own interval is 0.01 wide on each side, so it clears 0.2 / 0.01 = 20 of
    those, the unit the margin was measured in. Without this run's half-width the pooled interval's own is used."""
    monkeypatch.setattr(cc, "VENDOR_MARGIN", 1.03)
    check = {"native": {}, "a": {}, "b": {}}
    numbers = {"pooled": ["a", "b"], "run_half": 0.01}
    s = cc.difference("d", "A vs B", "A", "B", -0.5, -0.8, -0.2, extra=numbers)
    assert s.clearance == {"A < B": 0.6667}
    assert cc.pooled_clearance(s) == 20.001  # the clearance as recorded, 0.6667, times 0.3 / 0.01
    assert cc.final(s, check) == s
    wide = replace(s, numbers={**s.numbers, "run_half": 0.5})  # 0.2 / 0.5 = 0.4 of this run's half-widths
    assert cc.final(wide, check).why == "within the vendor margin (0.40 half-widths < 1.03)"
    unknown = replace(s, numbers={k: v for k, v in s.numbers.items() if k != "run_half"})
    assert cc.final(unknown, check).why == "within the vendor margin (0.67 half-widths < 1.03)"


def test_final_drops_what_lies_within_the_vendor_margin_and_says_so():
    every = {"native": {}, "other": {}}

    def agreed(s):
        return {k: {s.id: s.verdict} for k in every}
    # A - B in [0.1, 2.1]: 0.1 from 0 in half-widths of 1.0; [0.3, 2.3]: 0.3, beyond the margin of 0.25
    near = cc.difference("d", "A vs B", "A", "B", 1.1, 0.1, 2.1)
    assert (near.verdict, near.clearance) == ("A > B", {"B < A": 0.1})
    f = cc.final(near, agreed(near))
    assert (f.verdict, f.resolved) == ("not resolved", False)
    assert f.text == ("A vs B: not resolved (within the vendor margin) where named: B < A (0.10 "
                      "half-widths < 0.25); as made here: A > B (A − B = +1.1 [+0.1, +2.1])")
    far = cc.difference("d", "A vs B", "A", "B", 1.3, 0.3, 2.3)
    assert cc.final(far, agreed(far)) == far
    # C - A from the items' own intervals: [1.6 - 1.5, 2.4 - 0.5] = [0.1, 1.9], 0.1 / 0.9 = 0.1111 half-widths
    items = {"A": (1.0, 0.5, 1.5), "B": (5.0, 4.0, 6.0), "C": (2.0, 1.6, 2.4)}
    s = cc.ranking("r", "order", items)
    assert (s.verdict, s.clearance["A < C"]) == ("A < C, B; C < B", 0.1111)
    f = cc.final(s, agreed(s))
    assert (f.verdict, f.resolved) == ("A < B; C < B", True)
    assert f.text.startswith("order: A < B; C < B (an intersection: the pairs every CPU kernel setting checked "
                             "separates, each clearing the vendor margin in this run's interval (the kernel check kept "
                             "none); not resolved (within the vendor margin) where named: A < C (0.11 half-widths < "
                             "0.25); as made here: A < C, B; C < B")
    # a level read against its target; and an untrained statement (deterministic) keeps no margin
    level = cc.Statement("t", "teacher", "met", True, "teacher met", clearance={"met": 0.2})
    f = cc.final(level, agreed(level))
    assert (f.verdict, f.why) == ("not resolved", "within the vendor margin (0.20 half-widths < 0.25)")
    untrained = cc.difference("u", "A vs B", "A", "B", 1.1, 0.1, 2.1, trained=False)
    assert cc.final(untrained, agreed(untrained)) == untrained


def test_ranking_involving_keeps_the_pairs_with_those_items():
    items = {"A": (1.0, 0.5, 1.5), "B": (5.0, 4.0, 6.0), "T": (9.0, 8.0, 10.0)}
    assert cc.ranking("r", "o", items).verdict == "A < B, T; B < T"
    s = cc.ranking("r", "o", items, involving={"T"}, note="n = 10 sequences")
    assert s.verdict == "A < T; B < T"
    assert s.text == "o: A < T; B < T (by mean: A, B, T; pairs not named overlap; n = 10 sequences)"
    assert not cc.ranking("r", "o", items, involving={"X"}).resolved


def test_final_leaves_an_unresolved_statement_as_it_is():
    s = cc.difference("m.x", "A vs B", "A", "B", 0.0, -1.0, 1.0)
    assert cc.final(s, {"default": {"m.x": "A < B"}}) is s


def test_as_records_fields_sorted_by_id():
    s, other = _resolved(), cc.difference("m.0", "C vs D", "C", "D", 1.0, None, None)
    check = {"default": {"m.a_vs_b": "not resolved"}}
    records = cc.as_records([s, other], check)
    assert [r["id"] for r in records] == ["m.0", "m.a_vs_b"]
    r = records[1]
    assert r == {"id": "m.a_vs_b", "claim": "A vs B", "verdict_here": "A < B", "resolved_here": True,
                 "verdict": "not resolved", "resolved": False,
                 "text": "A vs B: not resolved (differs across CPU kernels) (here A < B; default: not resolved)",
                 "why": "differs across CPU kernels (default: not resolved)",
                 "numbers": {"mean": -0.02, "low": -0.03, "high": -0.01}, "trained": True,
                 "deterministic": False, "kernels_checked": ["default"], "clearance": {"A < B": 1.0}}
    assert "clearance" not in records[0]  # not resolved here: nothing read against its interval
    assert records[0]["verdict_here"] == records[0]["verdict"] == "not resolved"
    assert cc.as_records([s], {})[0]["kernels_checked"] == []
    fixed = cc.difference("d", "A vs B", "A", "B", -0.02, -0.03, -0.01, trained=False)
    r = cc.as_records([fixed], check)[0]  # the check has no verdict on it: not yet shown deterministic
    assert (r["deterministic"], r["trained"], r["kernels_checked"], r["resolved"]) == (False, False, [], False)
    r = cc.as_records([fixed], {"default": {"d": "A < B"}})[0]
    assert (r["deterministic"], r["kernels_checked"], r["resolved"]) == (True, ["default"], True)


def test_read_kernel_check_per_report_missing_for_other_params_valid_and_malformed(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("profile: smoke  # a comment\nseed: 0\ntrain: {epochs: 3}\nbreath: {stride: 2}\n")
    assert cc.read_kernel_check(tmp_path / "absent.json", params, "m") == {}
    keys = ["seed", "train.epochs"]
    made_for = cc.params_fingerprint({"seed": 0, "train": {"epochs": 3}}, keys)
    assert made_for == hashlib.sha256(b'{"seed": 0, "train.epochs": 3}').hexdigest()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("A = 1\n")
    code = {"files": ["src"], "sha256": cc.code_fingerprint(tmp_path, ["src"])}
    # path, a NUL, the file's own sha256: over every file of a folder, in order
    assert code["sha256"] == hashlib.sha256(b"src/a.py\0" + hashlib.sha256(b"A = 1\n").digest()).hexdigest()
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"params": {"m": {"keys": keys, "sha256": made_for, "code": code}},
                                "verdicts": {"default": {"m.x": "A < B", "b.y": "C < D"}},
                                "clearances": {"native": {"m.x": {"A < B": 0.7}, "b.y": {"C < D": 2.0}}},
                                "settings": {"default": {}}}))
    assert cc.read_kernel_check(good, params, "m") == {"default": {"m.x": "A < B"}}
    assert cc.read_kernel_check(good, params, "m").clearances == {"native": {"m.x": {"A < B": 0.7}}}  # its report's
    # Made on other code (a file edited, or a file the check never saw): its runs say nothing of this code's numbers.
    (tmp_path / "src" / "a.py").write_text("A = 2\n")
    assert cc.read_kernel_check(good, params, "m") == {}
    (tmp_path / "src" / "a.py").write_text("A = 1\n")
    (tmp_path / "src" / "__pycache__").mkdir()
    (tmp_path / "src" / "__pycache__" / "a.pyc").write_bytes(b"cache")  # Python's caches do not count
    assert cc.read_kernel_check(good, params, "m") == {"default": {"m.x": "A < B"}}
    (tmp_path / "src" / "b.py").write_text("B = 1\n")
    assert cc.read_kernel_check(good, params, "m") == {}
    (tmp_path / "src" / "b.py").unlink()
    without_code = tmp_path / "without_code.json"  # a check that does not say which code it was made on
    without_code.write_text(json.dumps({"params": {"m": {"keys": keys, "sha256": made_for}},
                                        "verdicts": {"default": {"m.x": "A < B"}}}))
    assert cc.read_kernel_check(without_code, params, "m") == {}
    assert cc.read_kernel_check(good, params, "b") == {}  # the check covers no params of report b
    params.write_text("# comments, layout and keys report m does not rest on do not count\nseed: 0\n"
                      "breath: {stride: 5}\ntrain: {epochs: 3, lr: 0.1}\n")
    assert cc.read_kernel_check(good, params, "m") == {"default": {"m.x": "A < B"}}
    # Made for other values of the keys its statements rest on: its runs say nothing about them.
    params.write_text("seed: 1\ntrain: {epochs: 3}\n")
    assert cc.read_kernel_check(good, params, "m") == {}
    for i, bad in enumerate(([], {"params": {}, "verdicts": []}, {"verdicts": {}}, {"other": {}})):
        path = tmp_path / f"bad{i}.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(InputError, match="expected"):
            cc.read_kernel_check(path, params, "m")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        cc.read_kernel_check(broken, params, "m")


def test_mcnemar_orders_only_below_alpha():
    # 6 vs 0 discordant: p = 2/64 = 0.03125 < 0.05; 8 vs 2: p = 0.109375
    s = cc.mcnemar("z.x", "detections", "A", "B", 6, 0, 20, trained=False)
    assert (s.verdict, s.resolved, s.trained) == ("A > B", True, False)
    assert s.numbers["p_value"] == pytest.approx(0.03125) and s.numbers["n"] == 20
    assert cc.pairs_of(s.verdict) == {("B", "A")}
    assert cc.mcnemar("z.x", "detections", "A", "B", 0, 6, 20).verdict == "A < B"
    s = cc.mcnemar("z.x", "detections", "A", "B", 8, 2, 20)
    assert (s.verdict, s.resolved, s.why) == (cc.NOT_RESOLVED, False, "p >= 0.05")
    assert "A only 8, B only 2 of 20; exact McNemar p = 0.1094" in s.text
    assert cc.mcnemar("z.x", "detections", "A", "B", 0, 0, 20).why == "no item only one of them got"


def test_a_machine_whose_own_intervals_separate_more_cannot_publish_more():
    """The margin applies to every interval known: the check's kept clearances (the committing machine's run,
    `native`, and its settings') as well as this run's. The committing machine (A < C 0.2 half-widths from 0, within
    the margin of 0.25; B < C 2.0) and another whose own run puts A < C 3.0 from 0 publish the same verdict: the pair
    the check's own interval leaves within the margin stays out."""
    check = cc.KernelCheck({"native": {"r": "A < C; B < C"}, "avx2": {"r": "A < C; B < C"}},
                           {"native": {"r": {"A < C": 0.2, "B < C": 2.0}}, "avx2": {"r": {"A < C": 0.6, "B < C": 1.8}}})
    committing = cc.Statement("r", "order", "A < C; B < C", True, "order: A < C; B < C", clearance={
        "A < C": 0.2, "B < C": 2.0})
    other = replace(committing, clearance={"A < C": 3.0, "B < C": 2.5})
    assert {cc.final(s, check).verdict for s in (committing, other)} == {"B < C"}
    text = cc.final(other, check).text
    assert "A < C (0.20 half-widths < 0.25)" in text and "those the kernel check kept (avx2, native)" in text
    check.clearances["native"]["r"]["A < C"] = 0.4  # every kept interval clears the margin: the pair stands
    assert {cc.final(s, check).verdict for s in (replace(committing, clearance={"A < C": 0.4, "B < C": 2.0}),
                                                  other)} == {"A < C; B < C"}
    check.clearances["avx2"]["r"]["A < C"] = 0.1  # one setting's interval within the margin drops it everywhere
    assert cc.final(other, check).verdict == "B < C"
    assert cc.final(other, cc.KernelCheck(dict(check))).verdict == "A < C; B < C"  # nothing kept: this run's alone
