"""What LLM users measure of a generation, defined once: time to first token (TTFT), inter-token
latency (ITL), end-to-end latency and the decoding rate of one request (``RequestTiming``), and
what a run of many requests adds: output tokens/s, requests/s and the percentiles (``summarize``).

The Chat mode's TTFT and tokens/s (``workbench.generation.StreamUpdate``) and the Benchmark's
generation rows (``workbench.bench.generation``) both come from here, so for the same run they agree.

- A request *arrives* at ``start``: when the call that serves it began (the Chat's Send; a
  benchmark run's start for every request of it — an offline batch, all requests queued at once,
  so TTFT includes the wait for a free slot).
- **TTFT** = first token's time − arrival. **E2E** = last token's time − arrival.
- **ITL** = (last − first) / (tokens − 1): the mean gap between this request's tokens (0 for one
  token), so ``TTFT + ITL × (tokens − 1) == E2E``. Its decoding rate is 1 / ITL tokens/s.
- **Output tokens/s** of a run = generated tokens of all requests / the run's wall time;
  **requests/s** = requests / wall time. The p50/p95 of TTFT, ITL and E2E are over its requests.

>>> t = RequestTiming(start=10.0, first=10.5, last=12.5, tokens=5)
>>> t.ttft_s, t.itl_s, t.e2e_s, t.tokens_per_s
(0.5, 0.5, 2.5, 2.0)
>>> row = summarize([t, RequestTiming(10.0, 11.0, 11.0, 1)], seconds=4.0)
>>> row["output_tokens_per_s"], row["requests_per_s"], row["ttft_p50_ms"], row["itl_p50_ms"]
(1.5, 0.5, 750.0, 250.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

#: The columns ``summarize`` fills, in the order the Benchmark's table shows them.
GENERATION_COLUMNS = ("output_tokens_per_s", "requests_per_s", "ttft_p50_ms", "ttft_p95_ms", "itl_p50_ms",
                      "itl_p95_ms", "e2e_p50_ms", "e2e_p95_ms")


@dataclass(frozen=True)
class RequestTiming:
    """One request's clock readings (``time.perf_counter`` seconds): when it arrived, when its
    first and its last generated token came, and how many tokens it generated."""

    start: float
    first: float | None
    last: float | None
    tokens: int

    @property
    def ttft_s(self) -> float | None:
        return None if self.first is None else self.first - self.start

    @property
    def e2e_s(self) -> float | None:
        return None if self.last is None else self.last - self.start

    @property
    def itl_s(self) -> float | None:
        if self.first is None or self.last is None or self.tokens < 1:
            return None
        return (self.last - self.first) / (self.tokens - 1) if self.tokens > 1 else 0.0

    @property
    def tokens_per_s(self) -> float | None:
        """The decoding rate after the first token (1 / ITL); None before a second token."""
        itl = self.itl_s
        return 1.0 / itl if itl else None


def _percentile(values: list[float], q: float) -> float | None:
    import numpy as np

    return float(np.percentile(values, q)) if values else None


def summarize(timings: Iterable[RequestTiming], seconds: float) -> dict[str, float | None]:
    """A run's ``GENERATION_COLUMNS`` from its requests' timings and its wall time (latencies in ms)."""
    timings = list(timings)
    tokens = sum(t.tokens for t in timings)
    out: dict[str, float | None] = {
        "output_tokens_per_s": round(tokens / seconds, 2) if seconds > 0 else None,
        "requests_per_s": round(len(timings) / seconds, 3) if seconds > 0 else None,
    }
    for name, values in (("ttft", [t.ttft_s for t in timings]), ("itl", [t.itl_s for t in timings]),
                         ("e2e", [t.e2e_s for t in timings])):
        known = [v * 1000 for v in values if v is not None]
        for q in (50, 95):
            value = _percentile(known, q)
            out[f"{name}_p{q}_ms"] = None if value is None else round(value, 3)
    return out
