"""Optional OpenTelemetry spans: Converse and each upstream REST attempt, with span events.

Only the OpenTelemetry API is used, and only when it is installed (`pip install
avatar-bridge[tracing]`); without an SDK configured by the embedder (or `opentelemetry-instrument`),
the API's spans are no-ops that cost a function call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

try:
    from opentelemetry import trace
except ImportError:  # pragma: no cover - the tracing extra is not installed
    trace = None  # type: ignore[assignment]

_tracer = trace.get_tracer("avatar_bridge") if trace is not None else None

Attributes = dict[str, str | int | float | bool]


@contextlib.contextmanager
def span(name: str, attributes: Attributes | None = None) -> Iterator[Any]:
    """A span around the block (the current span inside it), or nothing without OpenTelemetry."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def event(name: str, attributes: Attributes | None = None) -> None:
    """A span event on the current span (interrupts, reconnects, stops)."""
    if trace is not None:
        trace.get_current_span().add_event(name, attributes=attributes or {})


def annotate(attributes: Attributes) -> None:
    """Set attributes on the current span (the session id once known)."""
    if trace is not None:
        trace.get_current_span().set_attributes(attributes)
