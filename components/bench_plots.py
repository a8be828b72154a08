"""The Benchmark tab's charts: one metric against batch size, drawn with Altair (Vega-Lite, shown
by ``gr.Plot`` in the browser, as SVG so each legend's words are on the page).

Gradio's native plots have no log axis and mark points only under the pointer, so these are Altair
charts: batch sizes are powers of two or close to it, so the x axis is log2 with a tick at each
measured size only (no 1.5 or 2.5), every measurement is a point on its line, and there is a line
per runner × variant (model · dtype · device). A runner has the same colour in every chart of every
run (``workbench.bench.plot.RUNNER_COLOURS``: plain blue, the runner orange, continuous batching
green); each variant has its own line style; two legends say which colour and which style is which.

>>> import pandas as pd
>>> frame = pd.DataFrame({"batch_size": [1, 8], "items_per_s": [10.0, 50.0], "runner": ["runner"] * 2,
...                       "variant": ["float32 · cpu"] * 2, "series": ["runner · float32 · cpu"] * 2})
>>> spec = bench_chart(frame, "items_per_s", "Throughput (items/s)").to_dict()
>>> spec["encoding"]["x"]["scale"]["type"], spec["encoding"]["x"]["axis"]["values"], spec["mark"]["point"]
('log', [1, 8], True)
>>> spec["encoding"]["color"]["scale"], spec["encoding"]["strokeDash"]["legend"]["title"]
({'domain': ['runner'], 'range': ['#f58518']}, 'dtype · device')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.bench.plot import RUNNER_COLOURS

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

#: The variants' dash patterns, in order of their first appearance.
DASHES = ([1, 0], [6, 4], [2, 2], [8, 3, 2, 3], [12, 3], [1, 4])


def bench_chart(frame: pd.DataFrame, y: str, title: str, *, height: int = 220,
                x_title: str = "batch size") -> alt.Chart:
    """``y`` against batch size for every runner × variant of ``frame`` (``workbench.bench.plot_frame``'s
    long form: ``batch_size``, ``runner``, ``variant``, ``series`` and the metric columns)."""
    import altair as alt

    sizes = sorted(int(s) for s in frame["batch_size"].unique()) if len(frame) else [1]
    domain = [sizes[0] / 1.5, sizes[-1] * 1.5]  # room around the first and last points
    x = alt.X("batch_size:Q", title=x_title, scale=alt.Scale(type="log", base=2, domain=domain, nice=False),
              axis=alt.Axis(values=sizes, format="d", grid=True))
    runners = [r for r in RUNNER_COLOURS if r in set(frame["runner"])] + sorted(
        set(frame["runner"]) - set(RUNNER_COLOURS))
    color = alt.Color("runner:N", title="runner", legend=alt.Legend(orient="bottom", symbolType="stroke"),
                      scale=alt.Scale(domain=runners, range=[RUNNER_COLOURS.get(r, "#888888") for r in runners]))
    variants = list(dict.fromkeys(frame["variant"]))
    several = "model" in frame and frame["model"].nunique() > 1  # plot_frame puts the model in the variant
    dash = alt.StrokeDash("variant:N", scale=alt.Scale(domain=variants, range=[DASHES[i % len(DASHES)]
                                                                               for i in range(len(variants))]),
                          legend=alt.Legend(title="model · dtype · device" if several else "dtype · device",
                                            orient="bottom", columns=1, labelLimit=320, symbolType="stroke",
                                            symbolStrokeColor="#555555"))  # one a line: long names stay inside
    return (alt.Chart(frame[["batch_size", "runner", "variant", "series", y]], title=title)
            .mark_line(point=True, clip=True)
            .encode(x=x, y=alt.Y(f"{y}:Q", title=title), color=color, strokeDash=dash, detail="series:N",
                    tooltip=["series:N", "batch_size:Q", alt.Tooltip(f"{y}:Q", title=title)])
            .properties(height=height, usermeta={"embedOptions": {"renderer": "svg"}}))
    # no width: gr.Plot fits the chart to its container


def quality_chart(frame: pd.DataFrame, title: str, *, height: int = 280) -> alt.Chart:
    """Quality against throughput (``workbench.bench.quality_frame``): a point per model × device ×
    precision at its best batch size, the Pareto front joined by a dotted line, the recommended
    point circled.

    >>> import pandas as pd
    >>> f = pd.DataFrame({"items_per_s": [10.0, 30.0], "quality": [90.0, 89.5], "quality_name": ["accuracy"] * 2,
    ...                   "label": ["float32 · cpu", "int8 · cpu"], "pareto": [True, True], "chosen": [False, True],
    ...                   "batch_size": [8, 8], "runner": ["runner"] * 2})
    >>> [layer["mark"]["type"] for layer in quality_chart(f, "q").to_dict()["layer"]]
    ['line', 'point', 'point']
    """
    import altair as alt

    name = str(frame["quality_name"].iloc[0]) if len(frame) else "quality"
    x = alt.X("items_per_s:Q", title="throughput at the best batch size (items/s)", scale=alt.Scale(type="log", base=2))
    y = alt.Y("quality:Q", title=name, scale=alt.Scale(zero=False))
    data = frame[["items_per_s", "quality", "label", "pareto", "chosen", "batch_size", "runner"]]
    base = alt.Chart(data, title=title)
    front = base.transform_filter("datum.pareto").mark_line(strokeDash=[2, 3], color="#666").encode(
        x=x, y=y, order="items_per_s:Q")
    points = base.mark_point(filled=True, size=90).encode(
        x=x, y=y, color=alt.Color("label:N", title=None, legend=alt.Legend(orient="bottom", columns=2)),
        tooltip=["label:N", "runner:N", "batch_size:Q", alt.Tooltip("items_per_s:Q", title="items/s"),
                 alt.Tooltip("quality:Q", title=name)])
    chosen = base.transform_filter("datum.chosen").mark_point(size=400, color="crimson", strokeWidth=2).encode(
        x=x, y=y)
    return alt.layer(front, points, chosen).properties(height=height)
