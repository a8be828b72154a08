"""Native output widgets: one small renderer per ``OutputKind`` of the task registry.

A renderer ``build``s its widgets in the current Blocks context (the first one gets the id
``{task}-output``) and turns a ``RunResult`` into their ``values``, in the same order.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import gradio as gr
import numpy as np

from workbench.output_kinds import broken_bytes_note, generated_text, readable_text, scored_labels, unwrap
from workbench.tasks import TaskSpec

if TYPE_CHECKING:
    from workbench.results import RunResult

MAX_MASKS = 24  # masks drawn for mask generation (all are in the JSON view)


def _score(x: Any) -> float:
    """A score with 4 significant digits (a probability of 3e-05 stays 3e-05, not 0.0)."""
    return float(f"{float(x):.4g}")


class Renderer:
    """Base class: subclasses set ``build`` and ``values``."""

    def __init__(self, spec: TaskSpec, *, id_prefix: str | None = None) -> None:
        self.spec = spec
        self.prefix = id_prefix or spec.name  # a second renderer of the task (Compare) takes its own ids
        self.components: list[gr.components.Component] = []

    @property
    def elem_id(self) -> str:
        return f"{self.prefix}-output"

    def build(self) -> list[gr.components.Component]:
        raise NotImplementedError

    def values(self, result: RunResult) -> list[Any]:
        raise NotImplementedError

    def notes(self, result: RunResult) -> list[str]:
        """What the user should know about this output that it does not show (an empty text…)."""
        return []

    def document(self) -> None:
        """Describe the built widgets in the API docs (the output kind's ``descriptions``)."""
        from components.api_docs import document

        texts = self.spec.output_kind.descriptions
        for i, component in enumerate(self.components):
            document(component, texts[i] if i < len(texts) else texts[-1] if texts else "The output.")


class LabelsRenderer(Renderer):
    """Classification-like outputs -> ``gr.Label`` ({label: score})."""

    def build(self):
        self.components = [gr.Label(label="Labels", elem_id=self.elem_id)]
        return self.components

    def values(self, result):
        labels = scored_labels(result.output)
        if labels and math.isnan(labels[0][1]):  # an unscored (generated) answer: the text itself
            return [labels[0][0]]
        scores: dict[str, float] = {}
        for name, score in labels:
            if not math.isnan(score):
                scores.setdefault(name, _score(score))
        return [_readable(scores)]


def _readable(scores: dict[str, float]) -> dict[str, float]:
    """``gr.Label`` rounds each score to a whole percent: where one would read 0%, every label
    carries its percentage with 2 significant digits (``"paris (0.012%)"``) instead. The page's
    CSS (``components.layout``) hides the Label's own rounded percentage of a name that ends in
    ``%)``, so each score shows once.

    >>> _readable({"a": 0.5, "b": 0.25})
    {'a': 0.5, 'b': 0.25}
    >>> _readable({"a": 0.00012, "b": 0.2})
    {'a (0.012%)': 0.00012, 'b (20%)': 0.2}
    """
    if all(round(s * 100) != 0 or s == 0 for s in scores.values()):
        return scores
    return {f"{name} ({s * 100:.2g}%)": s for name, s in scores.items()}


class VqaRenderer(LabelsRenderer):
    """Visual QA answers: scored answers as labels, a generated answer as plain text."""


class EntitiesRenderer(Renderer):
    """Token classification -> ``gr.HighlightedText`` over the input text."""

    def build(self):
        self.components = [gr.HighlightedText(label="Entities", show_legend=True, combine_adjacent=False,
                                              elem_id=self.elem_id)]
        return self.components

    def values(self, result):
        text = result.inputs.get("text", "")
        entities = [{"entity": e.get("entity_group") or e.get("entity"), "start": e["start"], "end": e["end"]}
                    for e in unwrap(result.output) or [] if e.get("start") is not None]
        return [{"text": text, "entities": _non_overlapping(entities)}]


def _non_overlapping(spans: list[dict]) -> list[dict]:
    """Keep spans in the given (priority) order, dropping any that overlaps one already kept; sorted."""
    kept: list[dict] = []
    for s in spans:
        if s["end"] > s["start"] and all(s["end"] <= k["start"] or s["start"] >= k["end"] for k in kept):
            kept.append(s)
    return sorted(kept, key=lambda s: s["start"])


class AnswerRenderer(Renderer):
    """Extractive QA -> the answer highlighted in its context (document QA: in the OCR'd words)."""

    def build(self):
        self.components = [gr.HighlightedText(label="Answer in context", show_legend=False, elem_id=self.elem_id)]
        return self.components

    def values(self, result):
        answers = result.output if isinstance(result.output, list) else [result.output]
        answers = [a for a in unwrap(answers) if isinstance(a, dict) and a.get("answer") is not None]
        if "context" in result.inputs:
            text = result.inputs["context"]
            spans = [{"start": a["start"], "end": a["end"]} for a in answers]
        elif result.inputs.get("word_boxes"):  # document QA: start/end index words
            words = [w for w, _ in result.inputs["word_boxes"]]
            offsets, pos = [], 0
            for w in words:
                offsets.append((pos, pos + len(w)))
                pos += len(w) + 1
            text = " ".join(words)
            spans = [{"start": offsets[a["start"]][0], "end": offsets[min(a["end"], len(words) - 1)][1]}
                     for a in answers if a.get("start") is not None and a["start"] < len(words)]
        else:
            text = " · ".join(a["answer"] for a in answers)
            return [[(text, "answer")] if text else None]
        for i, (a, s) in enumerate(zip(answers, spans)):
            score = _score(a.get("score") or 0)
            s["entity"] = f"answer {score:.2f}" if i == 0 else f"#{i + 1} {score:.2f}"
        return [{"text": text, "entities": _non_overlapping(spans)}]


class TextRenderer(Renderer):
    """Generated text, transcripts, captions, summaries -> a textbox."""

    def build(self):
        self.components = [gr.Textbox(label="Output", lines=6, max_lines=30, buttons=["copy"], elem_id=self.elem_id)]
        return self.components

    def values(self, result):
        return [readable_text(generated_text(result.output))[0]]  # no "�" for pieces of characters

    def notes(self, result):
        text, broken = readable_text(generated_text(result.output))
        note = broken_bytes_note(broken)
        return ([] if text.strip() else ["The model returned an empty text."]) + ([note] if note else [])


class EmbeddingsRenderer(Renderer):
    """Embeddings -> a dataframe of vectors, and a cosine-similarity matrix for several inputs
    (hidden, with a note, for a single one)."""

    @property
    def _item(self) -> str:
        return "image" if self.spec.modality == "image" else "sentence"

    @property
    def _part(self) -> str:
        """What a row of an unpooled embedding is."""
        return "patch" if self._item == "image" else "token"

    def build(self):
        rows = "one row per image, or per patch without pooling" if self._item == "image" else "one row per sentence"
        self.components = [
            gr.Dataframe(label=f"Embeddings ({rows})", interactive=False, max_height=300, elem_id=self.elem_id),
            gr.Dataframe(label=f"Cosine similarity of every pair of {self._item}s", interactive=False, visible=False,
                         elem_id=f"{self.prefix}-similarity"),
        ]
        return self.components

    def notes(self, result):
        if result.output.get("similarity") is not None:
            return []
        if len(result.output.get("embeddings") or []) > 1:  # several, not pooled
            return ["Without pooling there is no similarity matrix: pool the embeddings to compare them."]
        if self._item == "image":
            return ["Give several images to see their cosine similarity."]
        return ["Give several sentences, one per line, to see their cosine similarity."]

    def values(self, result):
        import pandas as pd

        out = result.output
        vectors = out["embeddings"]
        names = result.inputs.get("text") if isinstance(result.inputs.get("text"), list) else None
        names = names or [f"image {i + 1}" for i in range(len(vectors))]
        rows, index = [], []
        for name, v in zip(names, vectors):
            arr = np.asarray(v, dtype=np.float32)
            for j, row in enumerate(arr.reshape(-1, arr.shape[-1])):
                rows.append(np.round(row.astype(np.float64), 4))  # float64: no 0.0399999991 in the table
                index.append(_short(name) if arr.ndim == 1 else f"{_short(name)} [{self._part} {j}]")
        emb = pd.DataFrame(rows, columns=[f"d{i}" for i in range(len(rows[0]))] if rows else None)
        emb.insert(0, "input", index)
        rows = names if self._item == "image" else [f"{i}. {_short(n)}" for i, n in enumerate(names, 1)]  # image 1…
        sim = similarity_table(rows, out["similarity"]) if out.get("similarity") is not None else None
        return [emb, gr.Dataframe(value=sim, visible=sim is not None)]


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


#: Items up to which the similarity table is shaded: Gradio sends (and keeps, per session) a style per
#: cell, ~100 bytes each — 256 sentences would make 65 536 of them, ~25 MB a session.
SHADED_MAX = 48


def similarity_table(rows: list[str], similarity: Any) -> Any:
    """The cosine similarities of the items named by ``rows`` (numbered: ``1. A man is playing a
    guitar.``, ``image 2``) as a shaded table that fits its box: a column per item's number, each
    cell coloured by its value from -1 (red) through 0 (white) to 1 (blue), with 2 decimals (the raw
    output keeps them all). A pandas ``Styler``, which ``gr.Dataframe`` shows with its colours; beyond
    ``SHADED_MAX`` items, the numbers rounded to 2 decimals, unshaded (a plain ``DataFrame``).

    >>> table = similarity_table(["1. a cat", "2. a dog"], [[1.0, 0.5], [0.5, 1.0]])
    >>> table.data.columns.tolist(), table.data.iloc[1, 0]
    (['', '1', '2'], '2. a dog')
    >>> type(similarity_table([f"{i}." for i in range(1, 50)], np.eye(49))).__name__
    'DataFrame'
    """
    import pandas as pd

    numbers = [str(i + 1) for i in range(len(rows))]
    values = np.asarray(similarity, dtype=np.float64)
    frame = pd.DataFrame(values if len(rows) <= SHADED_MAX else values.round(2), columns=numbers)
    frame.insert(0, "", rows)
    if len(rows) > SHADED_MAX:
        return frame
    return frame.style.background_gradient(cmap="RdBu", vmin=-1.0, vmax=1.0, subset=numbers).format(
        "{:.2f}", subset=numbers)


class TableAnswerRenderer(Renderer):
    """Table QA -> the answer, and the table with the selected cells highlighted."""

    def build(self):
        self.components = [gr.Textbox(label="Answer", elem_id=self.elem_id),
                           gr.Dataframe(label="Cells used", interactive=False, elem_id=f"{self.prefix}-cells")]
        return self.components

    def values(self, result):
        out = unwrap(result.output)
        out = out[0] if isinstance(out, list) else out
        table = result.inputs.get("table")
        coords = {tuple(c) for c in out.get("coordinates", [])}
        styled = None
        if table is not None:
            def mark(frame):
                return [["background-color: #ffe08a" if (r, c) in coords else "" for c in range(frame.shape[1])]
                        for r in range(frame.shape[0])]

            styled = table.style.apply(lambda f: np.array(mark(f)), axis=None)
        return [out.get("answer", ""), styled]


class AudioRenderer(Renderer):
    """Generated audio -> ``gr.Audio``."""

    def build(self):
        self.components = [gr.Audio(label="Audio", type="numpy", interactive=False, elem_id=self.elem_id)]
        return self.components

    def values(self, result):
        out = unwrap(result.output)
        out = out[0] if isinstance(out, list) else out
        wave = np.asarray(out["audio"], dtype=np.float32).squeeze()
        if wave.ndim > 1:  # channels first -> mixed down
            wave = wave.mean(axis=0)
        peak = float(np.abs(wave).max()) if wave.size else 0.0
        pcm = (np.clip(wave / max(peak, 1.0), -1, 1) * 32767).astype(np.int16)
        return [(int(out["sampling_rate"]), pcm)]


class BoxesRenderer(Renderer):
    """Detection -> boxes drawn on the image (``gr.AnnotatedImage``)."""

    def build(self):
        self.components = [gr.AnnotatedImage(label="Detections", elem_id=self.elem_id)]
        return self.components

    def values(self, result):
        boxes = []
        for d in unwrap(result.output) or []:
            b = d["box"]
            boxes.append(((int(b["xmin"]), int(b["ymin"]), int(b["xmax"]), int(b["ymax"])),
                          f"{d['label']} {_score(d['score']):.2f}"))
        return [(result.inputs["image"], boxes)]


class MasksRenderer(Renderer):
    """Segmentation -> masks over the image (``gr.AnnotatedImage``)."""

    def build(self):
        self.components = [gr.AnnotatedImage(label="Segments", elem_id=self.elem_id)]
        return self.components

    def values(self, result):
        masks = []
        for d in unwrap(result.output) or []:
            score = d.get("score")
            name = str(d.get("label")) + (f" {_score(score):.2f}" if score is not None else "")
            masks.append((np.asarray(d["mask"], dtype=np.float32) / 255.0, name))
        return [(result.inputs["image"], masks)]


class MaskGenerationRenderer(Renderer):
    """SAM's masks -> the best ``MAX_MASKS`` masks over the image."""

    def build(self):
        self.components = [gr.AnnotatedImage(label="Masks", elem_id=self.elem_id)]
        return self.components

    def values(self, result):
        out = result.output
        scores = [float(s) for s in np.asarray(_to_numpy(out.get("scores", [])), dtype=np.float32).reshape(-1)]
        masks = [np.asarray(_to_numpy(m), dtype=np.float32) for m in out.get("masks", [])]
        order = sorted(range(len(masks)), key=lambda i: -scores[i] if i < len(scores) else 0)[:MAX_MASKS]
        return [(result.inputs["image"],
                 [(masks[i], f"mask {i + 1} {scores[i]:.2f}" if i < len(scores) else f"mask {i + 1}") for i in order])]


def _to_numpy(x: Any) -> Any:
    if hasattr(x, "detach"):
        return x.detach().cpu().float().numpy()
    return x


class DepthRenderer(Renderer):
    """Depth estimation -> the depth map image."""

    def build(self):
        self.components = [gr.Image(label="Depth", type="pil", interactive=False, elem_id=self.elem_id)]
        return self.components

    def values(self, result):
        out = unwrap(result.output)
        out = out[0] if isinstance(out, list) else out
        return [out["depth"]]


class VideoLabelsRenderer(LabelsRenderer):
    """Video classification -> ``gr.Label``, and the frames the model saw in a gallery."""

    def build(self):
        super().build()
        self.components.append(gr.Gallery(label="Frames the model saw", columns=4, height=160, object_fit="contain",
                                          elem_id=f"{self.prefix}-frames"))
        return self.components

    def values(self, result):
        video = result.inputs.get("video")
        frames = [(f, f"frame {i} · {t:.2f} s") for f, i, t in zip(video.frames, video.indices, video.times_s)] \
            if hasattr(video, "frames") else []
        return [*super().values(result), frames]


class MatchesRenderer(Renderer):
    """Keypoint matching -> the two images side by side with the matches drawn, and the table of matches."""

    def build(self):
        self.components = [
            gr.Image(label="Matches (green: high score, red: low)", type="pil", interactive=False, elem_id=self.elem_id),
            gr.Dataframe(headers=["#", "x₁", "y₁", "x₂", "y₂", "score"], label="Matched keypoints, best first",
                         interactive=False, max_height=300, elem_id=f"{self.prefix}-matches"),
        ]
        return self.components

    def values(self, result):
        from workbench.keypoints import PAIR, draw_matches, match_rows

        matches = unwrap(result.output) or []
        first, second = (result.inputs.get(n) for n in PAIR)
        drawn = draw_matches(first, second, matches) if hasattr(first, "size") and hasattr(second, "size") else None
        import pandas as pd

        return [drawn, pd.DataFrame(match_rows(matches), columns=["#", "x₁", "y₁", "x₂", "y₂", "score"])]

    def notes(self, result):
        return [] if unwrap(result.output) else ["No keypoints matched; try a lower score threshold."]


class DecisionRenderer(Renderer):
    """Decision -> a table of the answers and one of every option's probability."""

    def build(self):
        self.components = [
            gr.Dataframe(headers=["question", "type", "answer", "confidence"], label="Answers", interactive=False,
                         elem_id=self.elem_id),
            gr.Dataframe(headers=["question", "option", "probability"], label="Probability of each option",
                         interactive=False, max_height=320, elem_id=f"{self.prefix}-options"),
        ]
        return self.components

    def values(self, result):
        import pandas as pd

        from workbench.decision import answer_rows, option_rows

        return [pd.DataFrame(answer_rows(result.output), columns=["question", "type", "answer", "confidence"]),
                pd.DataFrame(option_rows(result.output), columns=["question", "option", "probability"])]


RENDERERS: dict[str, type[Renderer]] = {
    "labels": LabelsRenderer,
    "vqa": VqaRenderer,
    "entities": EntitiesRenderer,
    "answer": AnswerRenderer,
    "text": TextRenderer,
    "embeddings": EmbeddingsRenderer,
    "table-answer": TableAnswerRenderer,
    "audio": AudioRenderer,
    "boxes": BoxesRenderer,
    "masks": MasksRenderer,
    "mask-generation": MaskGenerationRenderer,
    "depth": DepthRenderer,
    "video-labels": VideoLabelsRenderer,
    "matches": MatchesRenderer,
    "decision": DecisionRenderer,
}


class JsonRenderer(Renderer):
    """An output kind without a widget of its own (a task added with its own kind): the output as JSON."""

    def build(self):
        self.components = [gr.JSON(label="Output", elem_id=self.elem_id)]
        return self.components

    def values(self, result):
        return [result.json()]


def renderer_for(spec: TaskSpec, *, id_prefix: str | None = None) -> Renderer:
    """The renderer of ``spec.output`` (``JsonRenderer`` for a kind with no widget of its own);
    ``id_prefix`` replaces the task name in its widgets' ids."""
    return RENDERERS.get(spec.output, JsonRenderer)(spec, id_prefix=id_prefix)
