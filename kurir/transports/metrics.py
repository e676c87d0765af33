"""Prometheus counters in the text exposition format, without a client library."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse


class Metrics:
    def __init__(self) -> None:
        self._calls: Counter[tuple[str, str]] = Counter()
        self.gauges: dict[str, Callable[[], float]] = {}

    def count(self, method: str, outcome: str) -> None:
        self._calls[(method, outcome)] += 1

    def render(self) -> str:
        lines = [
            "# HELP kurir_calls_total Client API calls by method and outcome.",
            "# TYPE kurir_calls_total counter",
        ]
        for (method, outcome), n in sorted(self._calls.items()):
            lines.append(f'kurir_calls_total{{method="{method}",outcome="{outcome}"}} {n}')
        for name, read in sorted(self.gauges.items()):
            lines += [f"# TYPE {name} gauge", f"{name} {read()}"]
        return "\n".join(lines) + "\n"

    async def endpoint(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse(self.render(), media_type="text/plain; version=0.0.4")
