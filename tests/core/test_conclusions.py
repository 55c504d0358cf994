"""Conclusions as data: difference verdicts, rank orders, the kernel check folded in by `final`, the records."""

import json

import pytest

from thermbench.core import conclusions as cc
from thermbench.core.io import InputError


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
    assert cc.final(s, {}) is s
    assert cc.final(s, {"aten_default": {"m.a_vs_b": "A < B"}, "default": {"m.a_vs_b": "A < B"}}) is s
    assert cc.final(s, {"default": {"other": "X < Y"}}) is s  # the id was not checked there
    f = cc.final(s, {"default": {"m.a_vs_b": "not resolved"}, "aten_default": {"m.a_vs_b": "A < B"}})
    assert (f.verdict, f.resolved) == ("not resolved", False)
    assert f.text == "A vs B: not resolved (differs across CPU kernels) (here A < B; default: not resolved)"
    assert f.why == "differs across CPU kernels (default: not resolved)"
    assert f.numbers == s.numbers and f.id == s.id
    # Two settings differ: both named, in sorted order.
    f = cc.final(s, {"z": {"m.a_vs_b": "A > B"}, "a": {"m.a_vs_b": "not resolved"}})
    assert f.why == "differs across CPU kernels (a: not resolved; z: A > B)"


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
                 "numbers": {"mean": -0.02, "low": -0.03, "high": -0.01}, "kernels_checked": ["default"]}
    assert records[0]["verdict_here"] == records[0]["verdict"] == "not resolved"
    assert cc.as_records([s], {})[0]["kernels_checked"] == []


def test_read_kernel_check_missing_of_another_profile_valid_and_malformed(tmp_path):
    assert cc.read_kernel_check(tmp_path / "absent.json", "smoke") == {}
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"profile": "smoke", "verdicts": {"default": {"m.x": "A < B"}},
                                "settings": {"default": {}}}))
    assert cc.read_kernel_check(good, "smoke") == {"default": {"m.x": "A < B"}}
    # Made for another profile: its runs say nothing about this one's statements.
    assert cc.read_kernel_check(good, "paper") == {}
    for i, bad in enumerate(([], {"profile": "smoke", "verdicts": []}, {"profile": "smoke", "other": {}})):
        path = tmp_path / f"bad{i}.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(InputError, match="expected"):
            cc.read_kernel_check(path, "smoke")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        cc.read_kernel_check(broken, "smoke")
