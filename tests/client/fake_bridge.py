"""An in-process fake AvatarBridgeService: records what it receives, answers from a script.

Behaviour (enough to drive the client and CLI, not a model of the real bridge):

- the first request must carry ``config`` (else INVALID_ARGUMENT); avatar id "missing" gives
  NOT_FOUND; otherwise ``session_started`` (or, with ``end_at_once``, also ``session_stopped``
  MAX_DURATION_REACHED and the end of the call);
- LITE audio opens an utterance named by its first chunk's request_id (``avatar_speak_started``),
  ``speak_end`` finishes it (``avatar_speak_ended``); ``interrupt`` cuts it off;
- ``speak_text``/``speak_response`` answer started + ended under their request_id; the text
  "fail" answers an in-stream ``error`` instead, "abort" ends the call with INVALID_ARGUMENT
  (with a google.rpc.Status in the trailers);
- push-to-talk start/stop answer results; stop also a final user transcription and an answer;
- half-close answers ``session_stopped`` CLIENT_ENDED and ends the call with OK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
from google.rpc import status_pb2  # type: ignore[import-untyped]

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc

SESSIONS = [
    pb.SessionInfo(session_id=f"s-{i}", mode=pb.MODE_LITE, is_sandbox=True) for i in range(3)
]


@dataclass
class Recorded:
    """What one Converse call received."""

    requests: list[pb.ConverseRequest] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    half_closed: bool = False


class FakeBridge(pb_grpc.AvatarBridgeServiceServicer):
    """See the module docstring."""

    def __init__(self) -> None:
        self.calls: list[Recorded] = []
        self.stopped: list[pb.StopSessionRequest] = []
        self.end_at_once = False

    @property
    def last(self) -> Recorded:
        return self.calls[-1]

    async def Converse(
        self,
        request_iterator: AsyncIterator[pb.ConverseRequest],
        context: grpc.aio.ServicerContext[pb.ConverseRequest, pb.ConverseResponse],
    ) -> AsyncIterator[pb.ConverseResponse]:
        recorded = Recorded(
            metadata={k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        )
        self.calls.append(recorded)
        utterance = ""
        async for request in request_iterator:
            recorded.requests.append(request)
            kind = request.WhichOneof("request")
            rid = request.request_id
            if len(recorded.requests) == 1:
                if kind != "config":
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT, "the first request must carry config"
                    )
                if request.config.create.avatar_id == "missing":
                    await context.abort(grpc.StatusCode.NOT_FOUND, "avatar missing not found")
                mode = pb.MODE_FULL if request.config.create.HasField("full") else pb.MODE_LITE
                yield pb.ConverseResponse(
                    request_id=rid,
                    session_started=pb.SessionStarted(session_id="sess-1", mode=mode),
                )
                if self.end_at_once:
                    yield _stopped(pb.STOP_REASON_MAX_DURATION_REACHED)
                    return
                continue
            if kind == "audio" and not utterance:
                utterance = rid or "utterance-1"
                yield _event(
                    utterance, avatar_speak_started=pb.AvatarSpeakStarted(utterance_id=utterance)
                )
            elif kind == "speak_end":
                yield _event(
                    utterance, avatar_speak_ended=pb.AvatarSpeakEnded(utterance_id=utterance)
                )
                utterance = ""
            elif kind == "interrupt" and utterance:
                yield _event(
                    utterance,
                    avatar_speak_interrupted=pb.AvatarSpeakInterrupted(utterance_id=utterance),
                )
                utterance = ""
            elif kind in ("speak_text", "speak_response"):
                text = getattr(request, kind).text
                if text == "fail":
                    yield _event(
                        rid, error=pb.Error(code="INVALID_COMMAND", message="scripted failure")
                    )
                    continue
                if text == "abort":
                    status = status_pb2.Status(code=3, message="text is scripted to abort")
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        "text is scripted to abort",
                        trailing_metadata=(
                            ("grpc-status-details-bin", status.SerializeToString()),
                        ),
                    )
                yield _event(rid, avatar_speak_started=pb.AvatarSpeakStarted(utterance_id=rid))
                yield _event(rid, avatar_speak_ended=pb.AvatarSpeakEnded(utterance_id=rid))
            elif kind == "push_to_talk_start":
                yield _event(
                    rid,
                    push_to_talk_result=pb.PushToTalkResult(
                        outcome=pb.PUSH_TO_TALK_OUTCOME_STARTED
                    ),
                )
            elif kind == "push_to_talk_stop":
                yield _event(
                    rid,
                    push_to_talk_result=pb.PushToTalkResult(
                        outcome=pb.PUSH_TO_TALK_OUTCOME_STOPPED
                    ),
                )
                yield _event(
                    "",
                    transcription=pb.Transcription(
                        speaker=pb.SPEAKER_USER, text="hello there", is_final=True
                    ),
                )
                yield _event("", avatar_speak_started=pb.AvatarSpeakStarted(utterance_id="ev-9"))
                yield _event("", avatar_speak_ended=pb.AvatarSpeakEnded(utterance_id="ev-9"))
        recorded.half_closed = True
        yield _stopped(pb.STOP_REASON_CLIENT_ENDED)

    async def StopSession(
        self,
        request: pb.StopSessionRequest,
        context: grpc.aio.ServicerContext[pb.StopSessionRequest, pb.StopSessionResponse],
    ) -> pb.StopSessionResponse:
        self.stopped.append(request)
        if request.session_id == "missing":
            await context.abort(grpc.StatusCode.NOT_FOUND, "session missing not found")
        return pb.StopSessionResponse(session_id=request.session_id, had_conversation=True)

    async def ListSessions(
        self,
        request: pb.ListSessionsRequest,
        context: grpc.aio.ServicerContext[pb.ListSessionsRequest, pb.ListSessionsResponse],
    ) -> pb.ListSessionsResponse:
        size = request.page_size or 2
        start = int(request.page_token or 0)
        end = start + size
        return pb.ListSessionsResponse(
            sessions=SESSIONS[start:end], next_page_token=str(end) if end < len(SESSIONS) else ""
        )


def _event(request_id: str, **event: object) -> pb.ConverseResponse:
    return pb.ConverseResponse(request_id=request_id, **event)  # type: ignore[arg-type]


def _stopped(reason: pb.StopReason.ValueType) -> pb.ConverseResponse:
    return pb.ConverseResponse(session_stopped=pb.SessionStopped(reason=reason))


def _ptt(request_id: str, outcome: pb.PushToTalkOutcome.ValueType) -> pb.ConverseResponse:
    result = pb.PushToTalkResult(outcome=outcome)
    return pb.ConverseResponse(request_id=request_id, push_to_talk_result=result)
