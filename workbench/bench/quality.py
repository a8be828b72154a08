"""Quality next to speed: the benchmark's labelled data (``Labelled``: inputs and one reference
each, read and checked before any model loads), each row's score by the task's metric
(``workbench.metrics``), and — with or without references — the decision: the best configuration
per model × precision, the Pareto front of quality against throughput, and the fastest
configuration within a tolerance of the best quality.

Feature extraction reads two kinds of tables: similarity pairs (two text columns and a score per
row: Spearman) and retrieval (an ``id`` column, one text column holding the documents and the
queries, and for each query row the ids of its relevant documents separated by ``|``; the rows
without a reference are the documents: recall@k). A table with an ``id`` column is retrieval.

Without references, a row's quality is its agreement with the reference configuration (the first
model in float32): mean cosine of the embeddings, share of the same labels, or share of the same
generated words, in percent.

>>> points = [{"model": "a", "dtype": "float32", "quality": 90.0, "items_per_s": 10.0},
...           {"model": "a", "dtype": "int8", "quality": 89.5, "items_per_s": 30.0},
...           {"model": "b", "dtype": "float32", "quality": 80.0, "items_per_s": 20.0}]
>>> [p["dtype"] for p in pareto(points, higher_is_better=True)]
['float32', 'int8']
>>> choose(points, tolerance=1.0, higher_is_better=True)["dtype"]
'int8'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from workbench.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from workbench.hosting import HostingPolicy
    from workbench.metrics import Score
    from workbench.spec import TaskSpec

#: How the agreement of a row with the reference configuration reads as a quality, in percent.
AGREEMENT_COLUMNS = (("cosine_mean", "mean cosine to the reference (%)"),
                     ("token_match", "same words as the reference (%)"),
                     ("same_labels", "same outputs as the reference (%)"))


@dataclass(frozen=True)
class Labelled:
    """A benchmark's labelled data: the pipeline ``items``, one ``reference`` per scored input
    (similarity: per pair — ``items`` then holds every first sentence, then every second;
    retrieval: per query — ``items`` holds the documents, whose ``ids`` the references name, then
    the queries), the ``texts`` entity metrics align words with, and the call parameters the
    references imply (zero-shot's candidate labels are the references' own)."""

    task: str
    metric: str
    reference_column: str
    items: list[Any]
    references: list[str]
    texts: list[str | None]
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    ids: list[str] = field(default_factory=list)


def labelled_dir() -> Path:
    """The shipped labelled samples (``presets/labelled``)."""
    from workbench.presets import PRESETS_DIR

    return PRESETS_DIR / "labelled"


def samples_for(task: str) -> list[tuple[str, str]]:
    """The shipped labelled samples of ``task`` with their reference columns (each file's last):
    ``<task>.csv`` first, then ``<task>-<kind>.csv``.

    >>> [(Path(p).name, c) for p, c in samples_for("feature-extraction")]
    [('feature-extraction.csv', 'score'), ('feature-extraction-retrieval.csv', 'relevant')]
    """
    from workbench.tasks import get_task

    name = get_task(task).name
    paths = [labelled_dir() / f"{name}.csv", *sorted(labelled_dir().glob(f"{name}-*.csv"))]
    found = []
    for path in paths:
        if path.is_file():
            with path.open(encoding="utf-8") as f:
                found.append((str(path), f.readline().strip().split(",")[-1]))
    return found


def sample_for(task: str, reference_column: str | None = None) -> tuple[str, str] | None:
    """The shipped labelled sample of ``task`` and its reference column, or ``None`` when it has
    none: the one whose reference column is ``reference_column`` when given (feature extraction:
    ``score`` for similarity pairs, ``relevant`` for retrieval), else the first (``samples_for``).

    >>> sample_for("text-classification")[1], sample_for("image-classification")
    ('label', None)
    >>> Path(sample_for("feature-extraction", "relevant")[0]).name
    'feature-extraction-retrieval.csv'
    """
    samples = samples_for(task)
    if not samples or not reference_column:
        return samples[0] if samples else None
    for path, column in samples:
        if column == reference_column:
            return path, column
    names = " or ".join(f"`{c}` ({Path(p).name})" for p, c in samples)
    raise InputError(f"The shipped labelled samples of {task} have the reference column {names}, not "
                     f"`{reference_column}`: name one of them, or leave the reference column empty for the first.")


def _read_table(path: str | Path) -> "pd.DataFrame":
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InputError(f"The labelled data `{p.name}` does not exist; give a CSV, TSV, JSONL, JSON or Parquet file.")
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
        if suffix == ".parquet":
            return pd.read_parquet(p)
        if suffix in (".jsonl", ".json"):
            with p.open(encoding="utf-8") as f:
                lines = not f.read(1).strip().startswith("[")
            return pd.read_json(p, lines=lines, dtype=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"`{p.name}` could not be read as a table: {str(exc).splitlines()[0]}") from None
    raise InputError(f"Labelled data must be a table (CSV, TSV, JSONL, JSON or Parquet); `{p.name}` is not.")


def labelled_workload(task: str, path: str | Path, reference_column: str, *, columns: Sequence[str] = (),
                      n: int | None = None, policy: "HostingPolicy | None" = None) -> Labelled:
    """The inputs and references of ``path`` for ``task``: ``reference_column`` names the column of
    references, ``columns`` the input columns (``job``-style: ``text`` or ``question=q,context=passage``;
    retrieval: ``id=doc_id,text=body``; default: guessed from the names). ``n`` keeps the first
    ``n`` rows (retrieval: the first ``n`` queries, against every document). Refuses, before
    anything loads, a task without a metric, a missing column, an empty file, empty references and
    references of the wrong type, and for retrieval (a feature-extraction table with an ``id``
    column) a table without queries or documents, a document without an id or sharing one, and a
    query naming no document's id."""
    from workbench.hosting import HostingPolicy
    from workbench.jobs.job_file import JobSpec
    from workbench.metrics import check_references
    from workbench.tasks import TASKS, get_task
    from workbench.uploads import user_path
    from workbench.workloads import decode_items

    spec = get_task(task)
    if spec.metric is None:
        with_metric = ", ".join(sorted(name for name, s in TASKS.items() if s.metric))
        raise InputError(f"{spec.name} has no metric for references yet; tasks that have one: {with_metric}.")
    policy = policy or HostingPolicy.local()
    shipped = Path(path).resolve().parent == labelled_dir().resolve()  # our own samples, on any host
    where = Path(path) if shipped else user_path(str(path), policy, "The benchmark's labelled data")
    frame = _read_table(where)
    name = Path(where).name
    if frame.empty:
        raise InputError(f"`{name}` has no rows.")
    available = [str(c) for c in frame.columns]
    if reference_column not in available:
        raise InputError(f"`{name}` has no reference column `{reference_column}`; its columns: {', '.join(available)}.")
    inputs = [c for c in available if c != reference_column]
    given = [c.strip() for part in columns for c in str(part).split(",") if c.strip()]
    if spec.metric == "similarity" and ("id" in available or any(c.startswith("id=") for c in given)):
        return _retrieval_workload(spec.name, frame, name, reference_column, given, n)
    if spec.metric == "similarity":
        pair = given or [c for c in inputs if frame[c].map(lambda v: isinstance(v, str)).all()][:2]
        if len(pair) != 2 or any(c not in available for c in pair):
            raise InputError(f"Similarity references score pairs: `{name}` needs two text columns besides "
                             f"`{reference_column}` (e.g. sentence1, sentence2); it has {', '.join(inputs) or 'none'}. "
                             f"{_RETRIEVAL_FORMAT.format(reference_column=reference_column)}")
        mapping = {"first": pair[0], "second": pair[1]}
    else:
        try:
            mapping = JobSpec(spec.name, columns=tuple(columns)).column_map(inputs)
        except ValueError as exc:
            raise InputError(f"`{name}`: {exc}") from None
    if n:
        frame = frame.head(n)
    references = frame[reference_column].tolist()
    try:
        check_references(spec.metric, references, reference_column)
    except InputError as exc:
        if spec.metric != "similarity":
            raise
        raise InputError(f"{exc} {_RETRIEVAL_FORMAT.format(reference_column=reference_column)}") from None
    references = [str(r) for r in references]
    for input_name, column in mapping.items():
        empty = [i for i, v in enumerate(frame[column].tolist(), 1) if v is None or not str(v).strip()]
        if empty:
            raise InputError(f"Row {empty[0]} of `{name}` has no {input_name} in `{column}`.")
    if spec.metric == "similarity":
        items = [str(v) for v in frame[mapping["first"]]] + [str(v) for v in frame[mapping["second"]]]
        texts: list[str | None] = [None] * len(references)
    elif len(spec.inputs) == 1:
        raw = frame[mapping[spec.inputs[0]]].tolist()
        items = decode_items(spec, [str(v) if spec.modality == "text" else v for v in raw], policy)
        texts = [str(v) for v in raw] if spec.modality == "text" else [None] * len(raw)
    else:
        items = [{k: str(frame[c].iloc[i]) for k, c in mapping.items()} for i in range(len(frame))]
        texts = [str(frame[mapping[spec.inputs[0]]].iloc[i]) for i in range(len(frame))]
    params: dict[str, Any] = {}
    if any(p.name == "candidate_labels" for p in spec.params):
        params["candidate_labels"] = sorted(set(references))
    what = f"{len(references)} pairs" if spec.metric == "similarity" else f"{len(references)} inputs"
    return Labelled(spec.name, spec.metric, reference_column, items, references, texts, params,
                    f"{what} from {name} with references in `{reference_column}`")


#: How a retrieval table looks, for the refusals of a feature-extraction table that is neither kind.
_RETRIEVAL_FORMAT = ("For retrieval (recall@k), give an `id` column, one text column holding the documents and the "
                     "queries, and in `{reference_column}` each query's relevant document ids separated by `|` "
                     "(empty for the documents).")


def _blank(value: Any) -> bool:
    """Whether a table cell is empty (``None``, NaN, or only spaces)."""
    return value is None or (isinstance(value, float) and value != value) or not str(value).strip()


def _id(value: Any) -> str:
    """A document id as the references spell it: ``3`` for a whole number a table stored as 3.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if _blank(value) else str(value).strip()


def _retrieval_workload(task: str, frame: "pd.DataFrame", name: str, reference_column: str, given: list[str],
                        n: int | None) -> Labelled:
    """A retrieval table as labelled data: the rows without a reference are the documents (each
    with its own id), the others the queries (the first ``n``), their references the ``|``-separated
    ids of their relevant documents. ``given``: job-style columns, e.g. ``id=doc_id``,
    ``text=body``. Refuses, before anything loads, what cannot be scored."""
    from workbench.jobs.job_file import JobSpec
    from workbench.metrics import relevant_ids

    id_column = next((c.split("=", 1)[1].strip() for c in given if c.startswith("id=")), "id")
    available = [str(c) for c in frame.columns]
    if id_column not in available:
        raise InputError(f"`{name}` has no id column `{id_column}`; its columns: {', '.join(available)}.")
    try:
        text = JobSpec(task, columns=tuple(c for c in given if not c.startswith("id="))).column_map(
            [c for c in available if c not in (reference_column, id_column)])["text"]
    except ValueError as exc:
        raise InputError(f"`{name}`: {exc}") from None
    rows = list(zip(range(1, len(frame) + 1), frame[id_column].tolist(), frame[text].tolist(),
                    frame[reference_column].tolist()))
    for i, _, body, _ in rows:
        if _blank(body):
            raise InputError(f"Row {i} of `{name}` has no text in `{text}`.")
    documents = [(i, _id(d), str(body)) for i, d, body, ref in rows if _blank(ref)]
    queries = [(i, str(body), str(ref).strip()) for i, _, body, ref in rows if not _blank(ref)]
    if not queries:
        raise InputError(f"`{name}` has no queries: every row's `{reference_column}` is empty. A query row names "
                         "the ids of its relevant documents there, separated by `|` (e.g. d3|d7).")
    if not documents:
        raise InputError(f"`{name}` has no documents: every row has a reference in `{reference_column}`. The rows "
                         "with an empty reference are the documents the queries search.")
    seen: dict[str, int] = {}
    for i, doc, _ in documents:
        if _blank(doc):
            raise InputError(f"Row {i} of `{name}` is a document (its `{reference_column}` is empty) without an id in "
                             f"`{id_column}`; every document needs one, for the queries to name.")
        if doc in seen:
            raise InputError(f"The id `{doc}` is given to rows {seen[doc]} and {i} of `{name}`; each document needs "
                             "its own.")
        seen[doc] = i
    examples = ", ".join(list(seen)[:3])
    for i, _, ref in queries:
        if not any(r in seen for r in relevant_ids(ref)):
            raise InputError(f"Row {i} of `{name}` is a query whose `{reference_column}` (`{ref}`) names no document "
                             f"of the table; name the `{id_column}` of its relevant documents (e.g. {examples}), "
                             "separated by `|`.")
    queries = queries[:n] if n else queries
    return Labelled(task, "retrieval", reference_column, [d[2] for d in documents] + [q[1] for q in queries],
                    [q[2] for q in queries], [None] * len(queries), {},
                    f"{len(queries)} quer{'y' if len(queries) == 1 else 'ies'} against {len(documents)} documents "
                    f"from {name} with references in `{reference_column}`", [d[1] for d in documents])


def score_run(spec: "TaskSpec", pipe: Any, outputs: list[Any], data: Labelled,
              embeddings: list[Any] | None = None) -> "Score":
    """One run's ``outputs`` (in the order of ``data.items``) scored against ``data``'s references;
    similarity pairs and retrieval take ``embeddings`` (each item's token vectors, real tokens only),
    compared by their mean-pooled cosine (``bench.comparison.cosines``): each pair's, or each query's
    against every document."""
    from workbench.metrics import model_id2label, model_matcher, score

    if data.metric in ("similarity", "retrieval"):
        from workbench.bench.comparison import cosines

        vectors = [np.asarray(e, dtype=np.float64) for e in (embeddings if embeddings is not None else outputs)]
        if data.metric == "retrieval":
            documents, queries = vectors[:len(data.ids)], vectors[len(data.ids):]
            ranking = [cosines([q] * len(documents), documents).tolist() for q in queries]
            return score("retrieval", ranking, data.references, ids=data.ids)
        half = len(data.references)
        return score("similarity", cosines(vectors[:half], vectors[half:]).tolist(), data.references)
    predictions = [spec.output_kind.prediction(o) for o in outputs]
    id2label = model_id2label(pipe)
    match = model_matcher(spec, id2label)
    references = [match(r) or r for r in data.references] if match else list(data.references)
    context: dict[str, Any] = {"texts": data.texts}
    if match and id2label:  # a classifier's fixed labels: references it lacks are counted and said
        context.update(labels=list(id2label.values()), id2label=id2label)
    return score(spec.metric, predictions, references, **context)


# ---------------------------------------------------------------------------------------------
# the decision


def quality_of(row: dict[str, Any]) -> tuple[float | None, str | None]:
    """A row's quality and what it is: the metric's headline value, else its agreement with the
    reference configuration in percent."""
    value = row.get("quality")
    if value is not None and value == value:
        return float(value), row.get("quality_metric")
    for column, what in AGREEMENT_COLUMNS:
        v = row.get(column)
        if v is not None and v == v:
            return 100.0 * float(v), what
    return None, None


def best_points(table: "pd.DataFrame") -> list[dict[str, Any]]:
    """One point per model × device × precision: its fastest finished row, with its ``quality``
    (``quality_of``) and what it measures (``quality_name``)."""
    if table.empty or "items_per_s" not in table:
        return []
    ok = table[(table["status"] == "ok") & table["items_per_s"].notna()]
    if "model" not in ok.columns:
        ok = ok.assign(model="")
    points = []
    for _, group in ok.groupby(["model", "device", "dtype"], sort=False):
        best = group.loc[group["items_per_s"].idxmax()].to_dict()
        value, what = quality_of(best)
        points.append({**best, "quality": value, "quality_name": what})
    return points


def pareto(points: list[dict[str, Any]], *, higher_is_better: bool = True) -> list[dict[str, Any]]:
    """The points no other point beats in both throughput and quality, fastest last."""
    rated = [p for p in points if p.get("quality") is not None]

    def better(a: float, b: float) -> bool:
        return a > b if higher_is_better else a < b

    def dominated(p: dict[str, Any]) -> bool:
        return any(q is not p and q["items_per_s"] >= p["items_per_s"] and not better(p["quality"], q["quality"])
                   and (q["items_per_s"] > p["items_per_s"] or better(q["quality"], p["quality"])) for q in rated)

    return sorted((p for p in rated if not dominated(p)), key=lambda p: p["items_per_s"])


def choose(points: list[dict[str, Any]], *, tolerance: float, higher_is_better: bool = True) -> dict[str, Any] | None:
    """The fastest point whose quality is within ``tolerance`` (in the metric's units: points of a
    percentage) of the best quality."""
    rated = [p for p in points if p.get("quality") is not None]
    if not rated:
        return None
    best = max(p["quality"] for p in rated) if higher_is_better else min(p["quality"] for p in rated)
    good = [p for p in rated if (p["quality"] >= best - tolerance if higher_is_better
                                 else p["quality"] <= best + tolerance)]
    return max(good, key=lambda p: p["items_per_s"])


def higher_is_better(metric: str | None) -> bool:
    from workbench.metrics import HEADLINE

    for name, (headline, higher) in HEADLINE.items():
        if metric in (name, headline):
            return higher
    return True


def weighs_quality(table: "pd.DataFrame") -> bool:
    """Whether the recommendation weighs quality against speed: rows scored against references, or
    several models (each judged by its agreement with the first model's reference run)."""
    ok = table[table["status"] == "ok"]
    return bool(ok["quality"].notna().any()) or ok["model"].nunique() > 1


def decision(table: "pd.DataFrame", *, tolerance: float = 1.0) -> tuple[str, dict[str, Any] | None]:
    """The recommendation in words and the configuration it names (``None`` when no row has a
    quality): the fastest model × precision within ``tolerance`` of the best quality, with the
    best for comparison."""
    points = best_points(table)
    rated = [p for p in points if p.get("quality") is not None]
    if not rated:
        return "", None
    metric = rated[0]["quality_name"]
    higher = higher_is_better(metric)
    chosen = choose(rated, tolerance=tolerance, higher_is_better=higher)
    assert chosen is not None
    best = (max if higher else min)(rated, key=lambda p: (p["quality"], p["items_per_s"]))

    def name(p: dict[str, Any]) -> str:
        model = f"{p['model']} " if p.get("model") else ""
        return f"{model}in {p['dtype']} on {p['device']}"

    how = "our runner" if chosen["runner"] == "runner" else f"{chosen['runner']} batching"
    text = (f"Fastest within {tolerance:g} point{'s' if tolerance != 1 else ''} of the best {metric}: "
            f"{name(chosen)}, {how}, batch {int(chosen['batch_size'])} — {chosen['items_per_s']:.1f} items/s at "
            f"{metric} {chosen['quality']:.1f}")
    if best is chosen:
        text += " (also the best quality)."
    else:
        ratio = chosen["items_per_s"] / best["items_per_s"] if best["items_per_s"] else float("nan")
        text += (f"; the best, {name(best)}, scores {best['quality']:.1f} at {best['items_per_s']:.1f} items/s "
                 f"({ratio:.1f}× slower than the pick)." if ratio >= 1 else
                 f"; the best, {name(best)}, scores {best['quality']:.1f} at {best['items_per_s']:.1f} items/s.")
    if len(rated) < len(points):
        text += " Configurations without a score are left out."
    keys = ("model", "device", "dtype", "runner", "batch_size", "quality", "items_per_s")
    return text, {k: _plain(chosen.get(k)) for k in keys} | {"metric": metric}


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds (for JSON)."""
    return value.item() if hasattr(value, "item") else value
