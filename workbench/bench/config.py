"""What a benchmark measures (``BenchConfig``), how it reports progress, and how it stops.

>>> BenchConfig("text-classification", batch_sizes=(1, 8)).runners
('plain', 'runner')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.bench.report import BenchResult

RUNNERS = ("plain", "runner")
#: Progress callback of a benchmark: ``progress(fraction_done, what_is_running)``.
BenchProgress = Callable[[float, str], None]


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
    comma-separated (``models``): each is swept in turn, through the manager. ``labels`` names the
    reference column of the labelled data in ``path`` (``workbench.bench.quality``; ``column`` then
    names the input columns): every row is scored by the task's metric, and the recommendation
    names the fastest configuration within ``quality_tolerance`` points of the best quality."""

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
    runners: tuple[str, ...] = RUNNERS
    path: str | None = None
    column: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    labels: str | None = None
    quality_tolerance: float = 1.0

    def __post_init__(self) -> None:
        self.batch_sizes = tuple(batch_sizes(self.batch_sizes))  # "1,8,32" or a list: parsed once, here

    @property
    def models(self) -> list[str | None]:
        """The models to sweep, in order (``[None]``: the task's default).

        >>> BenchConfig("text-classification", model="offline:text-classification, ./mine").models
        ['offline:text-classification', './mine']
        """
        names = [m.strip() for m in (self.model or "").split(",") if m.strip()]
        return names or [None]


def batch_sizes(text: str | Sequence[int]) -> list[int]:
    """Parse ``"1,8,32"`` (or a list) into sorted unique positive batch sizes.

    >>> batch_sizes("32, 1,8,8")
    [1, 8, 32]
    """
    values = [int(v) for v in (text.replace(" ", "").split(",") if isinstance(text, str) else text) if str(v)]
    if not values or min(values) < 1:
        raise ValueError(f"batch sizes must be positive integers, e.g. 1,8,32,64; got {text!r}")
    return sorted(set(values))
