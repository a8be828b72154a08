"""How each kind of task is called: small strategy objects a ``TaskSpec`` points to (``spec.call``).

A ``Call`` holds every fact about calling one kind of pipeline that would otherwise be a branch on
the task's name somewhere else: the call itself (``__call__``), whether the text input holds one
item per line, the equivalent Python code (``snippet``), the batch runner's backend for it
(``backend``), and the compact form the benchmark compares outputs in (``digest``). Most tasks use
``POSITIONAL`` (one input, ``pipe(x, **kw)``) or ``NAMED`` (several, ``pipe(question=..., ...)``);
a few need their own.

No torch or gradio at import: heavy modules are imported inside the methods.

>>> POSITIONAL.snippet(["text"], {"text": "'hi'"}, {"top_k": 2})
["result = pipe('hi', top_k=2)"]
>>> NAMED.snippet(["question", "context"], {"question": "q", "context": "c"}, {})
['result = pipe(question=q, context=c)']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

Decoded = dict[str, Any]
"""The decoded inputs of one run, by input name (``workbench.service.decode_inputs``)."""


@dataclass(frozen=True)
class Prepared:
    """What a call makes of a run's decoded inputs once the pipeline is loaded: the inputs it calls
    with (audio at the model's rate, a clip's sampled frames, a page's OCR words), the keywords it
    calls with (``chunk_length_s`` for long audio) and notes for the user — new values, never the
    caller's dicts changed."""

    inputs: Decoded
    kwargs: dict[str, Any]
    notes: tuple[str, ...] = ()


def kwargs_code(kwargs: Mapping[str, Any]) -> str:
    """``{"top_k": 2}`` -> ``", top_k=2"``: keywords appended to a call in a snippet."""
    return "".join(f", {k}={v!r}" for k, v in kwargs.items())


class Call:
    """The default call: the first input positionally (``pipe(x, **kw)``)."""

    def prepare(self, pipe: Any, x: Decoded, kw: Mapping[str, Any]) -> Prepared:
        """The inputs and keywords to call ``pipe`` with (see ``Prepared``); by default, as given."""
        return Prepared(dict(x), dict(kw))

    def __call__(self, pipe: Any, x: Decoded, kw: dict[str, Any], post: dict[str, Any]) -> Any:
        return pipe(next(iter(x.values())), **kw)

    def snippet(self, inputs: Sequence[str], exprs: Mapping[str, str], kwargs: Mapping[str, Any]) -> list[str]:
        """The lines that call ``pipe`` on the input expressions ``exprs`` and bind ``result``."""
        return [f"result = pipe({exprs[inputs[0]]}{kwargs_code(kwargs)})"]

    def backend(self, pipe: Any, params: dict[str, Any]) -> Any:
        """The batch runner's backend for ``pipe`` (``workbench.batching``)."""
        from workbench.batching import PipelineBackend

        return PipelineBackend(pipe, params)

    def digest(self, output: Any, length: int | None = None) -> Any:
        """A compact, comparable form of one result (``length``: the input's real tokens)."""
        return output


class Named(Call):
    """Several inputs, passed by name: ``pipe(question=..., context=..., **kw)``."""

    def __call__(self, pipe: Any, x: Decoded, kw: dict[str, Any], post: dict[str, Any]) -> Any:
        return pipe(**x, **kw)

    def snippet(self, inputs: Sequence[str], exprs: Mapping[str, str], kwargs: Mapping[str, Any]) -> list[str]:
        args = ", ".join(f"{n}={exprs[n]}" for n in inputs)
        return [f"result = pipe({args}{kwargs_code(kwargs)})"]


class Audio(Call):
    """Audio resampled to the model's sampling rate (known only once the pipeline is loaded); a clip
    longer than a speech-recognition model's window is transcribed in chunks, and the note says so."""

    def prepare(self, pipe: Any, x: Decoded, kw: Mapping[str, Any]) -> Prepared:
        from workbench.inputs import load_audio

        rate = sampling_rate(pipe)
        wave = load_audio(x["audio"], rate)
        window, kwargs, notes = chunk_window_s(pipe), dict(kw), ()
        if window and len(wave) > window * rate and not kw.get("chunk_length_s"):
            kwargs["chunk_length_s"] = window  # a long clip: transcribe it in the model's windows, not refuse it
            notes = (f"Longer than the model's {window:g} s window: transcribed in chunks "
                     f"(chunk_length_s={window:g}).",)
        return Prepared({**x, "audio": wave}, kwargs, notes)

    def __call__(self, pipe: Any, x: Decoded, kw: dict[str, Any], post: dict[str, Any]) -> Any:
        return pipe(x["audio"], **kw)


def chunk_window_s(pipe: Any) -> float | None:
    """Seconds a speech-recognition model hears at once when its pipeline can chunk longer audio
    (Whisper: its feature extractor's 30 s; CTC models: 30 s windows); None for other pipelines."""
    kind = getattr(pipe, "type", None)
    if kind == "seq2seq_whisper":
        fe = getattr(pipe, "feature_extractor", None)
        return float(getattr(fe, "chunk_length", None) or 30)
    return 30.0 if kind in ("ctc", "ctc_with_lm") else None


class TextEmbeddings(Call):
    """One embedding per line of text, pooled and compared by cosine similarity; batched by the
    runner's ``EmbeddingBackend`` (whole-window tokenisation, rows trimmed to real tokens)."""

    #: Sentences embedded per forward pass (the tab takes at most a few hundred).
    BATCH = 32

    def __call__(self, pipe: Any, x: Decoded, kw: dict[str, Any], post: dict[str, Any]) -> Any:
        return embed_all(self.backend(pipe, {**kw, **post}), list(x["text"]), self.BATCH)

    def snippet(self, inputs: Sequence[str], exprs: Mapping[str, str], kwargs: Mapping[str, Any]) -> list[str]:
        call = {k: v for k, v in kwargs.items() if k not in ("pooling", "normalize")}
        pooling, normalize = kwargs.get("pooling", "mean"), kwargs.get("normalize", True)
        lines = [f"sentences = {exprs['text']}", "import numpy as np", "",
                 f"features = [np.asarray(pipe(s{kwargs_code(call)}))[0] for s in sentences]  # [tokens, hidden] each"]
        if pooling == "none":
            return lines + ["result = features"]
        lines.append("embeddings = np.stack([f.mean(axis=0) for f in features])" if pooling == "mean"
                     else "embeddings = np.stack([f[0] for f in features])  # first ([CLS]) token")
        if normalize:
            lines.append("embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)")
        lines.append("similarity = (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)) @ "
                     "(embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)).T")
        return lines + ["result = embeddings"]

    def backend(self, pipe: Any, params: dict[str, Any]) -> Any:
        from workbench.batching import EmbeddingBackend

        if getattr(pipe, "tokenizer", None) is None:
            return super().backend(pipe, params)
        return EmbeddingBackend(pipe, params)

    def digest(self, output: Any, length: int | None = None) -> Any:
        """Feature arrays trimmed to real tokens (plain batching pads them to its batch's longest)."""
        arr = _float_array(output)
        arr = arr.reshape(-1, arr.shape[-1])
        return arr[:length] if length else arr


def embed_all(backend: Any, items: list[Any], batch: int, *, batch_axis: bool = False) -> dict[str, Any]:
    """Every item's embedding through the batch runner's ``backend`` (``batch`` passes per forward,
    progress counted in items: "input 64/4000", cancellable between batches), and the cosine
    similarity of every pair when there are several pooled ones (``None`` otherwise):
    ``{"embeddings": [vector or [tokens, hidden] per item], "similarity": [[...]] | None}``.
    ``batch_axis``: the backend's finished item keeps the pipeline's batch axis of 1 (image
    features: ``[1, hidden]``), dropped here."""
    import numpy as np

    from workbench.embeddings import cosine_matrix
    from workbench.progress import current

    passes = [p for item in backend.prepare(items) for p in item]
    control, rows = current(), []
    for i in range(0, len(passes), batch):
        if control is not None:
            control.begin_pass()
        chunk = passes[i:i + batch]
        rows += backend.run(chunk).rows
        if control is not None:
            control.end_pass(len(chunk))
    vectors = [np.asarray(backend.finish([row]), dtype=np.float32) for row in rows]
    vectors = [v[0] for v in vectors] if batch_axis else vectors
    pooled = all(v.ndim == 1 for v in vectors)
    sim = cosine_matrix(np.stack(vectors)).tolist() if pooled and len(vectors) > 1 else None
    return {"embeddings": [v.tolist() for v in vectors], "similarity": sim}


class ImageEmbeddings(Call):
    """Several images' embeddings (pooled, or a row per patch) through the batch runner's backend,
    as the benchmark runs them, and their cosine similarities when pooled."""

    #: Images embedded per forward pass.
    BATCH = 8

    def __call__(self, pipe: Any, x: Decoded, kw: dict[str, Any], post: dict[str, Any]) -> Any:
        return embed_all(self.backend(pipe, {**kw, **post}), list(x["image"]), self.BATCH, batch_axis=True)

    def snippet(self, inputs: Sequence[str], exprs: Mapping[str, str], kwargs: Mapping[str, Any]) -> list[str]:
        lines = [f"images = {exprs[inputs[0]]}", "import numpy as np", "",
                 f"features = [np.asarray(f)[0] for f in pipe(images{kwargs_code(kwargs)})]"]
        if not kwargs.get("pool", True):
            return lines + ["result = features  # [patches, hidden] per image"]
        return lines + ["embeddings = np.stack(features)  # [images, hidden]",
                        "unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)",
                        "similarity = unit @ unit.T", "result = embeddings"]

    def digest(self, output: Any, length: int | None = None) -> Any:
        return _float_array(output)


class DocumentQA(Named):
    """A page image and a question; words found by OCR when the processor does not OCR itself."""

    def prepare(self, pipe: Any, x: Decoded, kw: Mapping[str, Any]) -> Prepared:
        from workbench.errors import InputError
        from workbench.inputs import ocr_words

        processor = getattr(pipe, "image_processor", None)
        if getattr(processor, "apply_ocr", False):  # the processor OCRs the page itself
            return Prepared(dict(x), dict(kw))
        words = ocr_words(x["image"])  # the processor does not OCR: we do, and keep the words to show them
        if not words:
            raise InputError("No words were found on this page (OCR); try a sharper or larger page image.")
        return Prepared({**x, "word_boxes": words}, dict(kw))

    def __call__(self, pipe: Any, x: Decoded, kw: dict[str, Any], post: dict[str, Any]) -> Any:
        if x.get("word_boxes"):
            return pipe(image=x["image"], question=x["question"], word_boxes=x["word_boxes"], **kw)
        return pipe(image=x["image"], question=x["question"], **kw)


class ImageChat(Call):
    """An image and a prompt, as a chat message when the processor has a chat template."""

    def __call__(self, pipe: Any, x: Decoded, kw: dict[str, Any], post: dict[str, Any]) -> Any:
        from workbench.inputs import image_chat

        processor = getattr(pipe, "processor", None)
        if getattr(processor, "chat_template", None) or getattr(getattr(pipe, "tokenizer", None), "chat_template", None):
            return pipe(text=image_chat(x["image"], x["text"]), return_full_text=False, **kw)
        return pipe(images=x["image"], text=x["text"], return_full_text=False, **kw)

    def snippet(self, inputs: Sequence[str], exprs: Mapping[str, str], kwargs: Mapping[str, Any]) -> list[str]:
        return ['messages = [{"role": "user", "content": [{"type": "image", "image": ' + exprs["image"] + '}, '
                '{"type": "text", "text": ' + exprs["text"] + "}]}]",
                f"result = pipe(text=messages, return_full_text=False{kwargs_code(kwargs)})"]


class Video(Call):
    """A clip decoded with PyAV into as many frames, sampled evenly, as the model takes (the note
    says which)."""

    def prepare(self, pipe: Any, x: Decoded, kw: Mapping[str, Any]) -> Prepared:
        from workbench.video import load_video

        frames = pipe.frames_per_clip() if hasattr(pipe, "frames_per_clip") else 16
        video = load_video(x["video"], frames)
        return Prepared({**x, "video": video}, dict(kw), (f"Frames: {video.sampling}",))

    def __call__(self, pipe: Any, x: Decoded, kw: dict[str, Any], post: dict[str, Any]) -> Any:
        return pipe(x["video"], **kw)


def sampling_rate(pipe: Any) -> int:
    """The sampling rate a pipeline's feature extractor expects (16 kHz when it names none)."""
    fe = (getattr(pipe, "feature_extractor", None)
          or getattr(getattr(pipe, "processor", None), "feature_extractor", None))
    return int(getattr(fe, "sampling_rate", None) or 16000)


def _float_array(output: Any) -> Any:
    import numpy as np

    if hasattr(output, "detach"):  # a torch tensor, without importing torch here
        output = output.detach().float().cpu().numpy()
    return np.asarray(output, dtype=np.float32)


POSITIONAL = Call()
NAMED = Named()
AUDIO = Audio()
TEXT_EMBEDDINGS = TextEmbeddings()
IMAGE_EMBEDDINGS = ImageEmbeddings()
DOCUMENT_QA = DocumentQA()
IMAGE_CHAT = ImageChat()
VIDEO = Video()
