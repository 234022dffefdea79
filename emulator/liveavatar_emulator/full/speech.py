"""Deterministic stand-ins for the LLM and speech-to-text of a LiveAvatar FULL session."""

from __future__ import annotations


def generate_reply(text: str) -> str:
    """The emulated LLM: a reply that is a pure function of the input.

    ``"Hello there"`` → ``"You said: Hello there"``; empty input → ``"You said nothing."``.
    """
    text = " ".join(text.split())
    return f"You said: {text}" if text else "You said nothing."


def reply_chunks(reply: str) -> list[str]:
    """Split a reply into streamed ``avatar.transcription.chunk`` texts.

    One chunk per word; every chunk after the first carries its leading space, so appending the
    chunks in order reproduces ``reply`` exactly (the web SDK demo appends avatar chunks).
    """
    words = reply.split(" ")
    return [words[0]] + [" " + w for w in words[1:]] if words else []


def describe_heard_speech(duration_s: float) -> str:
    """The emulated speech-to-text result for a user speech segment: ``heard 2.00 s of speech``."""
    return f"heard {duration_s:.2f} s of speech"
