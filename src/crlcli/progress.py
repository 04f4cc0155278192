"""Rich progress bars on stderr with a rate and ETA for the main unit plus rates of extra counters.

Usage:
    with Meter("judging", total=n, unit="cand", extra=("tests",)) as m:
        m.advance(1, tests=30)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .log import console

if TYPE_CHECKING:
    from rich.progress import Progress, ProgressColumn

# rich.progress is imported only when a bar is shown: most runs write to a pipe or file, and its import is a
# noticeable part of a stage's start-up (`crl judge` on one candidate).
_rates_column: type | None = None


def _rates() -> ProgressColumn:
    global _rates_column
    if _rates_column is None:
        from rich.progress import ProgressColumn
        from rich.text import Text

        class _RatesColumn(ProgressColumn):
            """`12.3 cand/s · 370 tests/s` from the task's own counters (Rich only tracks one)."""

            def render(self, task) -> Text:
                elapsed = task.elapsed or 0.0
                if elapsed <= 0:
                    return Text("")
                parts = [f"{task.completed / elapsed:,.1f} {task.fields.get('unit', 'it')}/s"]
                for name, value in task.fields.get("counters", {}).items():
                    parts.append(f"{value / elapsed:,.1f} {name}/s")
                return Text(" · ".join(parts), style="progress.data.speed")

        _rates_column = _RatesColumn
    return _rates_column()


class Meter:
    def __init__(
        self,
        description: str,
        total: int | None = None,
        unit: str = "it",
        extra: tuple[str, ...] = (),
        enabled: bool = True,
    ):
        self.description = description
        self.total = total
        self.unit = unit
        self.counters = {name: 0 for name in extra}
        self.enabled = enabled
        self.started = time.monotonic()
        self._progress: Progress | None = None
        self._task: Any = None  # rich's TaskID once the bar is up (rich is imported only then)

    def __enter__(self) -> Meter:
        if self.enabled:
            from rich.progress import Progress

            self._progress = Progress(*self._columns(), console=console, transient=False)
            self._progress.start()
            self._task = self._progress.add_task(
                self.description, total=self.total, unit=self.unit, counters=self.counters
            )
        return self

    def _columns(self) -> list[ProgressColumn]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns: list[ProgressColumn] = [TextColumn("[bold]{task.description}"), BarColumn()]
        if self.total is not None:
            columns += [MofNCompleteColumn(), TaskProgressColumn()]
        else:
            columns += [TextColumn("{task.completed:,.0f} " + self.unit)]
        columns += [_rates(), TimeElapsedColumn()]
        if self.total is not None:
            columns.append(TimeRemainingColumn())
        return columns

    def advance(self, n: int = 1, **counts: int) -> None:
        for name, value in counts.items():
            self.counters[name] = self.counters.get(name, 0) + value
        if self._progress is not None:
            self._progress.update(self._task, advance=n, counters=self.counters)

    def set_total(self, total: int) -> None:
        """The total once known (`crl eval` learns it after loading the tasks and what a resume keeps): the bar
        then shows done/total of this run, not of the whole benchmark."""
        self.total = total
        if self._progress is not None:
            self._progress.columns = tuple(self._columns())
            self._progress.update(self._task, total=total)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
