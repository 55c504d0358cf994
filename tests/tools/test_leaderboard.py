"""The leaderboards from hand-made metrics: ranks, intervals computed by hand, data labels, submissions marked, models
without weights listed without numbers."""

import pytest

from thermbench.tools.reports.leaderboard import (
    BOARD_STATEMENTS,
    breath_rows,
    landmark_rows,
    markdown,
    nose_rows,
    open_pairs,
    open_text,
    rank_ranges,
    resolved_pairs,
)


def _nose(pck, n_gt=10, data="synthetic", **extra):
    return {"status": "ok", "data": data, "full_frame": {"pck": {"10px": pck}, "n_gt": n_gt}, **extra}


def test_nose_board_ranks_by_pck_with_its_wilson_interval():
    rows = nose_rows({"a": _nose(0.5), "b": {"status": "weights not available: no file", "data": "synthetic"}},
                     {"submissions": {"m": _nose(0.7, label="m (submission)")}})
    assert [(r["model"], r["submission"]) for r in rows] == [("m (submission)", True), ("a", False), ("b", False)]
    # Wilson, 5 of 10, z = 1.959964: centre 0.5, half-width z sqrt(0.025 + z^2 / 400) / (1 + z^2 / 10) = 0.263407.
    assert (rows[1]["low"], rows[1]["high"]) == pytest.approx((0.236593, 0.763407), abs=1e-6)
    assert rows[2]["value"] is None and rows[2]["note"].startswith("weights not available")


def _run(model, nme, data="real"):
    cell = {"nme": nme, "n": 4}
    return {"model": model, "data": {"tfake": data, "charlotte": data}, "tfake": cell, "charlotte": {"full": cell}}


def test_landmark_board_groups_seeds_into_a_t_interval():
    runs = [_run("ktl-dikd-seed0", 0.1), _run("ktl-dikd-seed1", 0.2), _run("ktl-dikd-seed2", 0.3),
            _run("zeroshot-dlib68", 0.05)]
    rows = landmark_rows(runs, {"submissions": {"x": {**_run("submission-x", 0.15), "label": "x (submission)"}}},
                         "charlotte")
    assert [r["model"] for r in rows] == ["zeroshot-dlib68", "x (submission)", "ktl-dikd"]
    # mean 0.2, sd 0.1 over 3 seeds: half-width t(0.975, 2) 0.1 / sqrt 3 = 4.302653 x 0.057735 = 0.248414.
    assert (rows[2]["value"], rows[2]["low"], rows[2]["high"]) == pytest.approx((0.2, -0.048414, 0.448414), abs=1e-6)
    assert rows[0]["low"] is None and rows[0]["note"] == "one run" and rows[2]["data"] == "real"
    assert rows[1]["submission"] and not rows[2]["submission"]


def _score(mean, low, high, sequences, windows, ranked=True):
    return {"mean": mean, "low": low, "high": high, "sequences": sequences, "windows": windows, "of_sequences": 10,
            "of_windows": 40, "seeds": [], "ranked": ranked}


def test_breath_board_per_scene_ranks_the_sources_the_statements_rank_and_names_coverage():
    scores = {"far": {"oracle": _score(1.0, 0.5, 1.5, 10, 40), "mine (submission)": _score(0.8, 0.2, 2.0, 6, 20),
                      "fixed": _score(3.0, 2.0, 4.0, 10, 40), "dlib_hog": _score(0.1, 0.0, 0.3, 4, 9, ranked=False)},
              "near": {"oracle": _score(2.0, 1.5, 2.5, 10, 40)}}
    boards = breath_rows(scores, "synthetic", {"tfan": "weights not available: no file"})
    assert list(boards) == ["far", "near"] and [r["model"] for r in boards["near"]] == ["oracle", "tfan"]
    # the submission has a rate in 6 of 10 sequences (20 of 40 windows): ranked, as the statements rank it (its pairs
    # on the windows both have), whichever window another CPU's run adds or drops; dlib_hog in 4 sequences: no value
    assert [(r["model"], r["submission"], r["value"], r["ranked"]) for r in boards["far"]] == [
        ("mine (submission)", True, 0.8, True), ("oracle", False, 1.0, True), ("fixed", False, 3.0, True),
        ("dlib_hog", False, None, False), ("tfan", False, None, False)]
    assert boards["far"][0]["note"] == "rate in 20/40 windows, 6/10 sequences"
    assert boards["far"][3]["note"] == "not ranked, rate in 9/40 windows, 4/10 sequences"
    text = markdown({"breath_far": {"metric": "breath-rate MAE, ridge", "higher_is_better": False,
                                    "rows": rank_ranges(boards["far"], {("oracle", "fixed")}, higher=False)}})
    assert "## Breath rate (breath_tracks)" in text and "**far scene**" in text
    assert ("| 1–2 | oracle | 1.0000 | [0.5000, 1.5000] | 10 | synthetic | no | rate in 40/40 windows, 10/10 "
            "sequences |") in text
    assert ("| 1–3 | mine (submission) | 0.8000 | [0.2000, 2.0000] | 6 | synthetic | yes | rate in 20/40 windows, "
            "6/10 sequences |") in text
    assert "| — | dlib_hog | — | — | 4 | synthetic | no | not ranked, rate in 9/40 windows, 4/10 sequences |" in text
    assert "| — | tfan | — | — | — | synthetic | no | weights not available |" in text


def _statement(id, verdict, resolved=True):
    return {"id": id, "verdict": verdict, "resolved": resolved}


def test_ranks_are_strict_only_where_the_conclusions_resolve_every_pair():
    # a < c, c < d resolved (so a < d chained), b unresolved against everyone; e is another board's; f unranked
    statements = [_statement("breath.paired.far.trained", "a < c; c < d"),
                  _statement("breath.paired.far.untrained", "b < d", resolved=False),
                  _statement("breath.paired.near.trained", "e < a")]
    pairs = resolved_pairs(statements, "breath.paired.far.")
    assert pairs == {("a", "c"), ("c", "d"), ("a", "d")}
    rows = [{"model": m, "ranked": m != "f"} for m in "abcdf"]
    # a: none resolved better, c and d resolved worse: places 1 to 4 - 2 = 2 (b, unresolved, may sit on either side)
    assert [r["rank"] for r in rank_ranges(rows, pairs, higher=False)] == [[1, 2], [1, 4], [2, 3], [3, 4], None]
    # higher is better: the same pairs read the other way
    assert [r["rank"] for r in rank_ranges(rows, pairs, higher=True)][:4] == [[3, 4], [1, 4], [2, 3], [1, 2]]
    assert resolved_pairs(statements, None) == set()  # a board no statement compares: nothing resolved


def test_landmark_boards_read_their_own_pair_statements_and_list_the_open_pairs():
    """Each pair of a landmarks68 board is a boards.<board>.* statement: the resolved ones order the rows, the open ones
    are listed with their difference and minimum detectable effect."""
    statements = [_statement("boards.landmarks68_tfake.ktl-dikd_vs_teacher", "ktl-dikd < teacher"),
                  {**_statement("boards.landmarks68_tfake.ktl-dikd_vs_supervised-s", "not resolved", resolved=False),
                   "claim": "ktl-dikd vs supervised-s (T-FAKE test NME-IO)",
                   "numbers": {"mean": -0.0035, "mde": 0.0049}, "why": "Holm-adjusted p 0.146 >= 0.05"},
                  _statement("mlcmkd.tfake.dikd_vs_supervised", "DIKD < supervised RTMPose-s")]
    assert BOARD_STATEMENTS["landmarks68_tfake"] == "boards.landmarks68_tfake."
    assert resolved_pairs(statements, BOARD_STATEMENTS["landmarks68_tfake"]) == {("ktl-dikd", "teacher")}
    board = {"open_pairs": open_pairs(statements, BOARD_STATEMENTS["landmarks68_tfake"])}
    assert board["open_pairs"] == [{"pair": "ktl-dikd vs supervised-s", "difference": -0.0035, "mde": 0.0049,
                                    "variance": None, "why": "Holm-adjusted p 0.146 >= 0.05"}]
    assert "ktl-dikd vs supervised-s: -0.0035, could have seen 0.0049" in open_text(board)
    assert open_pairs(statements, BOARD_STATEMENTS["breath_far"]) == []    # breath rankings: no pair statements


def test_a_resolved_table_comparison_orders_the_board_pair_it_names():
    """Table I's DIKD vs supervised, resolved in its own family, orders the T-FAKE board's two rows it names (its
    groups, by the sign of A - B), whatever the board's own family of every pair said."""
    table = {**_statement("mlcmkd.tfake.dikd_vs_supervised", "DIKD < supervised RTMPose-s"),
             "numbers": {"board": "boards.landmarks68_tfake.ktl-dikd_vs_supervised-s",
                         "groups": ["ktl-dikd", "supervised-s"], "mean": -0.0047}}
    board = {**_statement("boards.landmarks68_tfake.ktl-dikd_vs_supervised-s", "not resolved", resolved=False),
             "numbers": {}}
    assert resolved_pairs([table, board], "boards.landmarks68_tfake.") == {("ktl-dikd", "supervised-s")}
    assert resolved_pairs([{**table, "resolved": False}, board], "boards.landmarks68_tfake.") == set()
    assert resolved_pairs([table], "boards.landmarks68_charlotte.") == set()
