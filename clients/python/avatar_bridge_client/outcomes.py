"""Recognising, in a conversation's events, the outcome a CLI command waits for."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from avatarbridge.v1 import avatar_bridge_pb2 as pb

__all__ = ["FinalTranscription", "Never", "Outcome", "UtteranceDone", "Waiter"]


class Outcome(enum.Enum):
    """How a wait ended."""

    DONE = "done"
    FAILED = "failed"


class Waiter:
    """Decides, event by event, whether what a command waits for has happened."""

    def check(self, event: pb.ConverseResponse) -> Outcome | None:
        """DONE or FAILED once decided; None to keep waiting."""
        raise NotImplementedError


def _stopped_or_failed(event: pb.ConverseResponse, request_ids: frozenset[str]) -> bool:
    if event.HasField("session_stopped"):
        return True
    return event.HasField("error") and event.request_id in request_ids


@dataclass
class UtteranceDone(Waiter):
    """Waits for the avatar to finish speaking one utterance.

    ``utterance_id`` is the request_id that names it: the first audio chunk's in LITE, the
    speak command's in FULL (the proto guarantees the echo whenever a request_id was sent).
    """

    utterance_id: str
    request_ids: frozenset[str] = frozenset()

    def check(self, event: pb.ConverseResponse) -> Outcome | None:
        """See :meth:`Waiter.check`."""
        kind = event.WhichOneof("event")
        if kind == "avatar_speak_ended":
            if event.avatar_speak_ended.utterance_id == self.utterance_id:
                return Outcome.DONE
        elif kind == "avatar_speak_interrupted":
            if event.avatar_speak_interrupted.utterance_id == self.utterance_id:
                return Outcome.FAILED
        elif _stopped_or_failed(event, self.request_ids | {self.utterance_id}):
            return Outcome.FAILED
        return None


@dataclass
class FinalTranscription(Waiter):
    """Waits for the answer to push-to-talk audio: the avatar's speech ended (``answer``) or,
    without an answer to expect, the user's final transcription."""

    request_ids: frozenset[str] = frozenset()
    answer: bool = True
    armed: bool = False
    """Set once push_to_talk_stop is sent: earlier speech (a greeting) is not the answer."""

    def check(self, event: pb.ConverseResponse) -> Outcome | None:
        """See :meth:`Waiter.check`."""
        kind = event.WhichOneof("event")
        if _stopped_or_failed(event, self.request_ids):
            return Outcome.FAILED
        if kind == "push_to_talk_result" and event.push_to_talk_result.outcome in (
            pb.PUSH_TO_TALK_OUTCOME_START_FAILED,
            pb.PUSH_TO_TALK_OUTCOME_STOP_FAILED,
        ):
            return Outcome.FAILED
        if not self.armed:
            return None
        if self.answer and kind == "avatar_speak_ended":
            return Outcome.DONE
        if (
            not self.answer
            and kind == "transcription"
            and event.transcription.speaker == pb.SPEAKER_USER
            and event.transcription.is_final
        ):
            return Outcome.DONE
        return None


class Never(Waiter):
    """Waits for nothing: the conversation runs until it ends."""

    def check(self, event: pb.ConverseResponse) -> Outcome | None:
        """See :meth:`Waiter.check`."""
        return None
