"""Terminal output for the CLI: one line per event, and a progress bar on stderr."""

from __future__ import annotations

from typing import TextIO

from google.protobuf import json_format, text_format
from google.protobuf.message import Message

from avatarbridge.v1 import avatar_bridge_pb2 as pb

__all__ = ["EventPrinter", "ProgressBar", "event_kind", "format_event", "format_message"]


def event_kind(event: pb.ConverseResponse) -> str:
    """The name of the event's oneof member, such as ``avatar_speak_ended``."""
    return event.WhichOneof("event") or "unknown"


def format_message(message: Message, *, as_json: bool = False) -> str:
    """One line: compact JSON (proto field names), or protobuf text format."""
    if as_json:
        return json_format.MessageToJson(
            message, indent=None, preserving_proto_field_name=True, sort_keys=False
        )
    return text_format.MessageToString(message, as_one_line=True)


def format_event(event: pb.ConverseResponse, *, as_json: bool = False) -> str:
    """One line per event: ``kind [request_id] field: value …``, or JSON for ``--json``."""
    if as_json:
        return format_message(event, as_json=True)
    kind = event_kind(event)
    parts = [kind]
    if event.request_id:
        parts.append(f"[{event.request_id}]")
    if kind != "unknown":
        body = format_message(getattr(event, kind))
        if body:
            parts.append(body)
    return " ".join(parts)


class ProgressBar:
    """A one-line text progress bar, redrawn in place with carriage returns."""

    def __init__(self, stream: TextIO, *, total_seconds: float, width: int = 30) -> None:
        """Draw on ``stream`` for audio of ``total_seconds``."""
        self._stream = stream
        self._total_seconds = total_seconds
        self._width = width
        self._drawn = False
        self._fraction = 0.0

    def update(self, done: int, total: int) -> None:
        """Redraw for ``done`` of ``total`` units."""
        self._fraction = done / total if total else 1.0
        self._draw()

    def clear(self) -> None:
        """Erase the bar so that another line can be printed; the next update redraws it."""
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._drawn = False

    def finish(self) -> None:
        """Leave the final bar on its own line."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False

    def _draw(self) -> None:
        filled = round(self._width * self._fraction)
        bar = "#" * filled + "." * (self._width - filled)
        seconds = self._total_seconds * self._fraction
        self._stream.write(
            f"\r[{bar}] {100 * self._fraction:3.0f}% {seconds:.1f}/{self._total_seconds:.1f} s"
        )
        self._stream.flush()
        self._drawn = True


class EventPrinter:
    """Prints events to stdout, keeping the progress bar (if any) out of their way."""

    def __init__(self, stream: TextIO, *, as_json: bool) -> None:
        """Print to ``stream``, as JSON lines when ``as_json``."""
        self._stream = stream
        self._as_json = as_json
        self.progress: ProgressBar | None = None

    def event(self, event: pb.ConverseResponse) -> None:
        """Print one event."""
        self.line(format_event(event, as_json=self._as_json))

    def message(self, message: Message) -> None:
        """Print any message on one line."""
        self.line(format_message(message, as_json=self._as_json))

    def line(self, text: str) -> None:
        """Print one line."""
        if self.progress is not None:
            self.progress.clear()
        self._stream.write(text + "\n")
        self._stream.flush()
