"""sb3_softopt.experiments.infra.plotting: one colour per algorithm, bands, atomic figure files."""

import math

import numpy as np
from matplotlib.figure import Figure

from sb3_softopt.experiments.infra.plotting import COLORS, plot_band, save_figure


def test_band_is_drawn_only_with_finite_bounds():
    ax = Figure().subplots()
    plot_band(ax, [0, 1, 2], [1, 2, 3], [0, 1, 2], [2, 3, 4], label="SAC")
    plot_band(ax, [0, 1, 2], [1, 2, 3], [math.nan] * 3, [math.nan] * 3, label="DDPG", marker="o")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["SAC"].get_color() == COLORS["SAC"] and lines["DDPG"].get_marker() == "o"
    assert len(ax.collections) == 1  # SAC's band; DDPG's NaN interval draws none
    verts = ax.collections[0].get_paths()[0].vertices
    assert verts[:, 1].min() == 0 and verts[:, 1].max() == 4


def test_save_figure_writes_the_format_of_the_suffix_and_no_temporary_file(tmp_path):
    fig = Figure()
    fig.subplots().plot(np.arange(3))
    png = save_figure(fig, tmp_path / "sub" / "a.png")
    svg = save_figure(fig, tmp_path / "sub" / "a.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"<svg" in svg.read_bytes()[:400]
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["a.png", "a.svg"]
