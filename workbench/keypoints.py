"""Keypoint matching (SuperGlue, LightGlue, EfficientLoFTR): two images in, matched keypoints out.

transformers' ``keypoint-matching`` pipeline takes the pair as one input, ``pipe([image_0, image_1])``,
and returns the matches best first: ``[{"keypoint_image_0": {"x", "y"}, "keypoint_image_1": {"x", "y"},
"score"}]``. Here: how a run calls it (``KeypointMatching``), the batch runner's backend for it
(pairs of the same pixel shape share a forward pass), the output kind (``Matches``) and the drawing
of the matches on the two images side by side (PIL only).

>>> m = [{"keypoint_image_0": {"x": 1, "y": 2}, "keypoint_image_1": {"x": 3, "y": 4}, "score": 0.9}]
>>> match_rows(m)
[[1, 1, 2, 3, 4, 0.9]]
>>> MATCHES.agreement(m, m)
{'matches': [1, 1], 'same_matches': 1.0, 'max_score_diff': 0.0}
"""

from __future__ import annotations

import colorsys
from typing import Any, Mapping, Sequence

from workbench.calls import Call, Decoded, kwargs_code
from workbench.output_kinds import OutputKind

#: The inputs of the task: the two images of the pair.
PAIR = ("image", "image_2")
#: Matches drawn on the picture (all of them are in the table and the JSON).
MAX_DRAWN = 200


def _point(p: Mapping[str, Any]) -> tuple[float, float]:
    return float(p["x"]), float(p["y"])


def match_rows(matches: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The matches as table rows: rank, x and y in the first image, x and y in the second, score
    (4 significant digits)."""
    rows = []
    for i, m in enumerate(matches or []):
        (x0, y0), (x1, y1) = _point(m["keypoint_image_0"]), _point(m["keypoint_image_1"])
        rows.append([i + 1, _num(x0), _num(y0), _num(x1), _num(y1), float(f"{float(m['score']):.4g}")])
    return rows


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 1)


def draw_matches(image_0: Any, image_1: Any, matches: Sequence[Mapping[str, Any]], *,
                 max_drawn: int = MAX_DRAWN, height: int = 360) -> Any:
    """The two images side by side at one height, each match a line from its keypoint in the first
    image to its keypoint in the second with a dot at both ends, coloured by score (red: low, green:
    high). Only the ``max_drawn`` best are drawn.

    >>> from PIL import Image
    >>> a, b = Image.new("RGB", (40, 20)), Image.new("RGB", (20, 20))
    >>> draw_matches(a, b, [{"keypoint_image_0": {"x": 5, "y": 5}, "keypoint_image_1": {"x": 5, "y": 5}, "score": 1.0}],
    ...              height=40).size
    (120, 40)
    """
    from PIL import Image, ImageDraw

    images = [im.convert("RGB") for im in (image_0, image_1)]
    scales = [height / im.height for im in images]
    sized = [im.resize((max(1, round(im.width * s)), height)) for im, s in zip(images, scales)]
    canvas = Image.new("RGB", (sized[0].width + sized[1].width, height), "white")
    canvas.paste(sized[0], (0, 0))
    canvas.paste(sized[1], (sized[0].width, 0))
    draw = ImageDraw.Draw(canvas)
    best = sorted(matches or [], key=lambda m: -float(m["score"]))[:max_drawn]
    top = max((float(m["score"]) for m in best), default=1.0) or 1.0
    radius = max(2, height // 120)
    for m in reversed(best):  # the best drawn last, on top
        (x0, y0), (x1, y1) = _point(m["keypoint_image_0"]), _point(m["keypoint_image_1"])
        a = (x0 * scales[0], y0 * scales[0])
        b = (sized[0].width + x1 * scales[1], y1 * scales[1])
        hue = max(0.0, min(1.0, float(m["score"]) / top)) / 3  # 0 red .. 1/3 green
        colour = tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.9, 0.95))
        draw.line([a, b], fill=colour, width=max(2, radius // 2))
        for x, y in (a, b):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=colour, width=1)
    return canvas


class KeypointMatching(Call):
    """The pair as transformers takes it: ``pipe([image, image_2], threshold=...)``."""

    def __call__(self, pipe: Any, x: Decoded, kw: dict[str, Any], post: dict[str, Any]) -> Any:
        return pipe([x[n] for n in PAIR], **kw)

    def snippet(self, inputs: Sequence[str], exprs: Mapping[str, str], kwargs: Mapping[str, Any]) -> list[str]:
        return [f"result = pipe([{exprs[PAIR[0]]}, {exprs[PAIR[1]]}]{kwargs_code(kwargs)})"]

    def backend(self, pipe: Any, params: dict[str, Any]) -> Any:
        from workbench.task_backends import KeypointBackend

        return KeypointBackend(pipe, params, PAIR)


class Matches(OutputKind):
    """Matched keypoints: two outputs agree on the pairs they both found (keypoints rounded to a
    pixel) and on their scores."""

    def agreement(self, a: Any, b: Any, *, prompt: str | None = None) -> dict[str, Any]:
        pa, pb = _pairs(a), _pairs(b)
        shared = set(pa) & set(pb)
        union = set(pa) | set(pb)
        diff = max((abs(pa[k] - pb[k]) for k in shared), default=None)
        return {"matches": [len(a or []), len(b or [])], "same_matches": round(len(shared) / len(union), 4) if union else 1.0,
                "max_score_diff": None if diff is None else round(diff, 6)}

    def top(self, output: Any) -> Any:
        return len(output or [])  # how many matches: a benchmark compares it across configurations

    def prediction(self, output: Any) -> Any:
        return match_rows(output)


def _pairs(matches: Any) -> dict[tuple, float]:
    out = {}
    for m in matches or []:
        (x0, y0), (x1, y1) = _point(m["keypoint_image_0"]), _point(m["keypoint_image_1"])
        out[(round(x0), round(y0), round(x1), round(y1))] = float(m["score"])
    return out


MATCHES = Matches("matches", (
    "The two images side by side with the matched keypoints joined (green: high score, red: low).",
    "The matches, best first: rank, x and y in the first image, x and y in the second, score.",
))
KEYPOINT_MATCHING = KeypointMatching()
