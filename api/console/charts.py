"""Charts drawn on the server as SVG geometry for the templates: no charting script."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 640, 220, 40


@dataclass(frozen=True)
class LineChart:
    """A 0-100 line chart: the polyline, its dots with labels, and the grid lines."""

    width: int
    height: int
    points: str  # "x,y x,y ..." for <polyline>
    dots: list[tuple[float, float, str, int]]  # x, y, label, value
    grid: list[tuple[float, int]]  # y, value


def score_chart(labels: list[str], scores: list[int]) -> LineChart:
    """Return the geometry of scores (0-100) over evenly spaced labels, oldest left."""
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    step = inner_w / max(len(scores) - 1, 1)

    def y_of(value: int) -> float:
        return round(PAD + inner_h * (1 - value / 100), 1)

    dots = [(round(PAD + i * step, 1), y_of(v), labels[i], v) for i, v in enumerate(scores)]
    return LineChart(WIDTH, HEIGHT, " ".join(f"{x},{y}" for x, y, _, _ in dots), dots,
                     [(y_of(v), v) for v in (0, 25, 50, 75, 100)])
