"""The breath figures a reader reads at the published size: mae_vs_error gives a trained source one point per scene
(the mean over its seeds, bars from the lowest to the highest seed), names sources in a legend outside the axes and
writes no label over a point."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from thermbench.breath import report  # noqa: E402


def test_mae_vs_error_one_point_per_source_and_scene_legend_outside(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(report, "save_figure", lambda fig, stem: drawn.append(fig))
    scene = {"near": {"nose_error_px": 2.0, "ridge": {"mae_bpm": 1.0}}}
    metrics = {"sources": {"oracle": {"near": {"nose_error_px": 0.0, "ridge": {"mae_bpm": 0.3}}},
                           "oracle+1px": {"near": {"nose_error_px": 1.0, "ridge": {"mae_bpm": 0.5}}},
                           "ktl-dikd-seed0": scene,
                           "ktl-dikd-seed1": {"near": {"nose_error_px": 4.0, "ridge": {"mae_bpm": 3.0}}},
                           "mediapipe": {"near": {"nose_error_px": 9.0, "ridge": {"mae_bpm": 6.0}}}},
               "runs": {"ktl-dikd-seed0": {"source": "ktl-dikd", "seed": 0, "converged": True},
                        "ktl-dikd-seed1": {"source": "ktl-dikd", "seed": 1, "converged": True}}}
    report.mae_vs_error_figure(metrics, "SYNTHETIC data", tmp_path / "f")
    (fig,) = drawn
    ax = fig.axes[0]
    points = sorted((tuple(np.ravel(line.get_xdata())), tuple(np.ravel(line.get_ydata()))) for line in ax.lines
                    if line.get_linestyle() == "None" and len(np.ravel(line.get_xdata())) == 1)
    assert points == [((3.0,), (2.0,)), ((9.0,), (6.0,))]  # ktl-dikd at its seeds' mean, mediapipe as it is
    assert [t.get_text() for t in ax.texts] == ["near floor (true nostrils)"]  # no seed or source label
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["ktl-dikd (2 seeds: mean, bars min-max)", "mediapipe"]
    fig.canvas.draw()
    assert ax.get_legend().get_window_extent().x0 > ax.get_window_extent().x1  # beside the axes, over no point
