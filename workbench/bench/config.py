"""What a benchmark measures (``BenchConfig``), how it reports progress, and how it stops.

>>> BenchConfig("text-classification", batch_sizes=(1, 8)).runners
('plain', 'runner')
>>> BenchConfig("text-generation").runners
('plain', 'runner', 'continuous')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.bench.report import BenchResult

RUNNERS = ("plain", "runner", "continuous")
#: The runners of a task without generation rows (continuous batching is for decoder-only generation).
ITEM_RUNNERS = ("plain", "runner")
GENERATION_RUNNERS = RUNNERS
#: Progress callback of a benchmark: ``progress(fraction_done, what_is_running)``, once per step
#: (a load, a warm-up, one measurement).
BenchProgress = Callable[[float, str], None]
#: Progress inside a measurement: ``on_inputs(fraction_done, inputs_done, inputs)`` as its inputs
#: (generation: requests) finish, e.g. ``(0.31, 96, 512)``; the fraction is the whole sweep's.
InputsProgress = Callable[[float, int, int], None]
#: ``count(inputs_done)``: how one measurement reports its inputs as they finish.
InputCount = Callable[[int], None]


class BenchCancelled(WorkbenchError):
    """The benchmark was stopped through its ``stop_event``; ``partial`` holds the rows measured so far."""

    def __init__(self, partial: BenchResult | None = None) -> None:
        super().__init__("The benchmark was cancelled.")
        self.partial = partial


@dataclass
class BenchConfig:
    """What to measure. ``max_tokens`` is the runner's token budget per batch (None: no cap);
    ``kernels`` its linear-layer kernels (``auto``, ``torch``, ``onednn``: ``workbench.kernels``);
    ``batch_sizes`` may be given as text (``"1,8,32"``). ``model`` may name several models,
    comma-separated (``models``): each is swept in turn, through the manager. ``references`` names
    the reference column of the labelled data in ``path`` (``workbench.bench.quality``; ``column`` then
    names the input columns): every row is scored by the task's metric, and the recommendation
    names the fastest configuration within ``quality_tolerance`` points of the best quality.
    ``runners`` default to the task's (``default_runners``). For generation rows
    (``workbench.bench.generation``) ``max_new_tokens`` is the mean of the requests' output lengths
    (None: 64), drawn ``output_lengths`` = ``long-tail`` (seeded lognormal) or ``fixed``, and a batch
    size is the most requests in flight."""

    task: str
    model: str | None = None
    revision: str | None = None
    batch_sizes: tuple[int, ...] = (1, 8, 32, 64)
    devices: tuple[str, ...] = ("cpu",)
    dtypes: tuple[str, ...] = ("float32",)
    workload: str = "natural"
    n: int = 512
    repeats: int = 3
    seed: int = 0
    max_tokens: int | None = 8192
    kernels: str = "auto"
    runners: tuple[str, ...] = ()
    path: str | None = None
    column: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    references: str | None = None  # the column of references (CLI --references)
    quality_tolerance: float = 1.0
    max_new_tokens: int | None = None
    output_lengths: str = "long-tail"

    def __post_init__(self) -> None:
        self.batch_sizes = tuple(batch_sizes(self.batch_sizes))  # "1,8,32" or a list: parsed once, here
        self.runners = tuple(self.runners) or default_runners(self.task)

    @property
    def models(self) -> list[str | None]:
        """The models to sweep, in order (``[None]``: the task's default).

        >>> BenchConfig("text-classification", model="offline:text-classification, ./mine").models
        ['offline:text-classification', './mine']
        """
        names = [m.strip() for m in (self.model or "").split(",") if m.strip()]
        return names or [None]


def generation_bench(spec: Any) -> bool:
    """Whether a task's benchmark gets generation rows: decoder-only text generation."""
    return bool(spec.generative) and spec.pipeline_task == "text-generation"


def default_runners(task: str) -> tuple[str, ...]:
    """Every runner for a task with generation rows, plain and runner for the others."""
    from workbench.tasks import get_task

    try:
        return GENERATION_RUNNERS if generation_bench(get_task(task)) else ITEM_RUNNERS
    except Exception:  # an unknown task: the sweep says so, with the valid ones
        return ITEM_RUNNERS


def batch_sizes(text: str | Sequence[int]) -> list[int]:
    """Parse ``"1,8,32"`` (or a list) into sorted unique positive batch sizes.

    >>> batch_sizes("32, 1,8,8")
    [1, 8, 32]
    """
    values = [int(v) for v in (text.replace(" ", "").split(",") if isinstance(text, str) else text) if str(v)]
    if not values or min(values) < 1:
        raise ValueError(f"batch sizes must be positive integers, e.g. 1,8,32,64; got {text!r}")
    return sorted(set(values))


def input_counter(on_inputs: InputsProgress | None, step: int, steps: int, n: int) -> InputCount | None:
    """``count(k)`` for the measurement that is step ``step`` of ``steps``, over ``n`` inputs: the
    sweep's fraction moves with its inputs (None without ``on_inputs``).

    >>> seen = []
    >>> input_counter(lambda f, k, n: seen.append((f, k, n)), 1, 4, 8)(4)
    >>> seen
    [(0.375, 4, 8)]
    """
    if on_inputs is None:
        return None
    n = max(1, n)

    def count(k: int) -> None:
        k = min(k, n)
        on_inputs((step + k / n) / steps, k, n)

    return count
