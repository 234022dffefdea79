"""Property-based fuzz of Converse: sequences of requests, some undecodable, over a real socket.

Each hypothesis example is a batch of sequences run at once against one bridge and emulator (so
`make test` covers thousands quickly). For every sequence, the call must end with the status
the input calls for (the oracle below, written from the .proto's documented rules), and after
every batch nothing may be left: no upstream session, no admission slot, no conversation.

`make fuzz` runs many more batches (AVATAR_BRIDGE_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server.helpers import SANDBOX_AVATAR_ID

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from liveavatar_emulator import Emulator

from .conftest import LimitedBridge, limited_bridge
from .helpers import CONVERSE, Outcome

EXAMPLES = int(os.environ.get("AVATAR_BRIDGE_FUZZ_EXAMPLES", "50"))
BATCH = 40
"""Sequences per example, run concurrently: EXAMPLES x BATCH sequences in all."""
MIN_SEQUENCES = 2000

# Limits as the .proto states them.
MAX_REQUEST_ID = 128
MAX_TEXT = 10_000

INVALID = grpc.StatusCode.INVALID_ARGUMENT


# The input model.


@dataclass(frozen=True)
class Step:
    """One request on the wire and what the spec says about it."""

    data: bytes = field(repr=False)
    kind: str
    """undecodable | config | audio | other (a decodable command)."""
    long_id: bool = False
    """request_id longer than the .proto's limit."""
    problem: str = ""
    """Words naming what is wrong with the request itself (an invalid config, a too long
    text); whether it ends the call depends on where it comes (see `expected`)."""
    config: str = ""
    """For configs: which one (a key of CONFIG_KINDS)."""
    audio_len: int = 0
    shown: str = ""
    """The bytes of an undecodable request, in hex (for the failure report)."""


@dataclass(frozen=True)
class Sequence:
    steps: tuple[Step, ...]
    ending: str
    """half_close; cancel (right after the writes: before the config, during the token or start
    call, mid-utterance); or cancel_started (once session_started arrived). The config deadline
    has its own tests in test_limits.py: here a loaded machine must not turn a slow first request
    into a different status."""


def _undecodable_bytes() -> st.SearchStrategy[bytes]:
    # Field 1 with wire type 7 (there is none); a length-delimited field longer than what
    # follows; field number 0; and random bytes that do not decode.
    bad_wire = st.binary(max_size=16).map(lambda b: b"\x0f" + b)
    short = st.binary(max_size=16).map(lambda b: b"\x0a" + bytes([len(b) + 1]) + b)
    field_zero = st.binary(max_size=16).map(lambda b: b"\x02" + bytes([len(b)]) + b)
    noise = st.binary(min_size=1, max_size=48).filter(_is_undecodable)
    return st.one_of(bad_wire, short, field_zero, noise)


def _is_undecodable(data: bytes) -> bool:
    try:
        pb.ConverseRequest.FromString(data)
    except DecodeError:
        return True
    return False


def _request_id() -> st.SearchStrategy[str]:
    """Mostly none or a fine one; one in twenty longer than the limit."""
    return st.integers(0, 19).flatmap(
        lambda n: (
            st.integers(MAX_REQUEST_ID + 1, MAX_REQUEST_ID + 40).map(lambda k: "r" * k)
            if n == 0
            else st.just("")
            if n < 10
            else st.text(alphabet="abcdef0123456789-", min_size=1, max_size=MAX_REQUEST_ID)
        )
    )


def _with_id(request: pb.ConverseRequest, request_id: str) -> pb.ConverseRequest:
    request.request_id = request_id
    return request


MULAW_8K = pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000)
PCM16_STEREO_16K = pb.AudioFormat(
    encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16000, channel_count=2
)


def _config(kind: str, request_id: str) -> Step:
    lite = pb.NewSession(avatar_id=SANDBOX_AVATAR_ID, lite=pb.LiteSession())
    configs: dict[str, tuple[pb.SessionConfig, str]] = {
        "lite": (pb.SessionConfig(create=lite, input_audio=MULAW_8K), ""),
        "lite_no_audio": (pb.SessionConfig(create=lite), ""),
        "pcm16_stereo": (pb.SessionConfig(create=lite, input_audio=PCM16_STEREO_16K), ""),
        "full": (
            pb.SessionConfig(
                create=pb.NewSession(avatar_id=SANDBOX_AVATAR_ID, full=pb.FullSession())
            ),
            "",
        ),
        "no_session": (pb.SessionConfig(input_audio=MULAW_8K), "config.session"),
        "empty_avatar": (
            pb.SessionConfig(create=pb.NewSession(avatar_id="  ", lite=pb.LiteSession())),
            "avatar_id",
        ),
        "no_mode": (
            pb.SessionConfig(create=pb.NewSession(avatar_id=SANDBOX_AVATAR_ID)),
            "config.create.mode",
        ),
        "bad_option": (
            pb.SessionConfig(create=lite, options=pb.BridgeOptions(first_packet_ms=5)),
            "first_packet_ms",
        ),
        "bad_rate": (
            pb.SessionConfig(
                create=lite,
                input_audio=pb.AudioFormat(
                    encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=96000
                ),
            ),
            "input_audio",
        ),
        "bad_attach": (
            pb.SessionConfig(
                attach=pb.AttachSession(
                    session_id="s", lite=pb.LiteAttachment(ws_url="http://127.0.0.1:9/x")
                )
            ),
            "ws_url",
        ),
    }
    config, problem = configs[kind]
    request = _with_id(pb.ConverseRequest(config=config), request_id)
    long_id = len(request_id) > MAX_REQUEST_ID
    return Step(request.SerializeToString(), "config", long_id, problem, config=kind)


COMMANDS = {
    "speak_end": pb.ConverseRequest(speak_end=pb.SpeakEnd()),
    "interrupt": pb.ConverseRequest(interrupt=pb.Interrupt()),
    "start_listening": pb.ConverseRequest(start_listening=pb.StartListening()),
    "stop_listening": pb.ConverseRequest(stop_listening=pb.StopListening()),
    "keep_alive": pb.ConverseRequest(keep_alive=pb.KeepAlive()),
    # FULL-only or empty: an in-stream error in LITE, the call goes on.
    "speak_text": pb.ConverseRequest(speak_text=pb.SpeakText(text="hello")),
    "speak_response": pb.ConverseRequest(speak_response=pb.SpeakResponse(text="hi")),
    "push_to_talk_start": pb.ConverseRequest(push_to_talk_start=pb.PushToTalkStart()),
    "nothing": pb.ConverseRequest(),
}


def _step(draw: Any) -> Step:
    family = draw(st.sampled_from(FAMILIES))
    request_id = draw(_request_id())
    long_id = len(request_id) > MAX_REQUEST_ID
    if family == "undecodable":
        data = draw(_undecodable_bytes())
        return Step(data, "undecodable", problem="undecodable", shown=data.hex())
    if family == "config":
        return _config(draw(st.sampled_from(sorted(CONFIG_KINDS))), request_id)
    if family == "audio":
        size = draw(st.integers(0, 1600))
        request = _with_id(pb.ConverseRequest(audio=pb.AudioChunk(data=b"\x55" * size)), request_id)
        return Step(request.SerializeToString(), "audio", long_id, audio_len=size)
    if family == "long":
        text = "x" * draw(st.sampled_from([MAX_TEXT, MAX_TEXT + 1]))
        request = _with_id(pb.ConverseRequest(speak_text=pb.SpeakText(text=text)), request_id)
        problem = "characters" if len(text) > MAX_TEXT else ""
        return Step(request.SerializeToString(), "other", long_id, problem)
    request = pb.ConverseRequest()
    request.CopyFrom(COMMANDS[draw(st.sampled_from(sorted(COMMANDS)))])
    request.request_id = request_id
    return Step(request.SerializeToString(), "other", long_id)


FAMILIES = ["undecodable", "config", "long", *["audio"] * 5, *["command"] * 3]
"""Later requests: mostly audio and commands, now and then a bad one."""

CONFIG_KINDS = {
    "lite": 10,
    "lite_no_audio": 1,
    "pcm16_stereo": 1,
    "full": 1,
    "no_session": 1,
    "empty_avatar": 1,
    "no_mode": 1,
    "bad_option": 1,
    "bad_rate": 1,
    "bad_attach": 1,
}


@st.composite
def sequences(draw: Any) -> Sequence:
    if draw(st.integers(0, 50)) == 0:
        return Sequence((), draw(st.sampled_from(["half_close", "cancel"])))
    steps: list[Step] = []
    if draw(st.integers(0, 3)) > 0:
        # Mostly start with a config, weighted towards one that opens a session.
        kinds = [k for k, weight in CONFIG_KINDS.items() for _ in range(weight)]
        steps.append(_config(draw(st.sampled_from(kinds)), draw(_request_id())))
    for _ in range(draw(st.integers(0 if steps else 1, 6))):
        steps.append(_step(draw))
    endings = ["half_close", "half_close", "cancel", "cancel_started"]
    return Sequence(tuple(steps), draw(st.sampled_from(endings)))


# The oracle: what the call must end with, from the input alone.


@dataclass(frozen=True)
class Expected:
    code: grpc.StatusCode
    words: tuple[str, ...] = ()
    """The details must contain one of these (several problems may race to be reported)."""
    opens_session: bool = False


FRAME = {"lite": 1, "pcm16_stereo": 4}
"""Bytes per frame of the configs that accept audio: mu-law mono, LINEAR16 stereo."""


def expected(sequence: Sequence) -> Expected:
    steps = sequence.steps
    if not steps:
        return Expected(INVALID, ("ended before the first request",))
    first = steps[0]
    if first.kind == "undecodable":
        return Expected(INVALID, ("undecodable",))
    if first.long_id:
        return Expected(INVALID, ("request_id",))
    if first.kind != "config":
        return Expected(INVALID, ("the first request carries",))
    if first.problem:
        return Expected(INVALID, (first.problem,))
    if first.config == "full":
        return Expected(grpc.StatusCode.FAILED_PRECONDITION, ("FULL",))
    # A LITE session opens. Later, a bad config or command is an in-stream error and the call
    # goes on; these end it INVALID_ARGUMENT:
    problems: list[str] = []
    for step in steps[1:]:
        if step.kind == "undecodable":
            problems.append("undecodable")
        elif step.long_id:
            problems.append("request_id")
        elif step.kind == "other" and step.problem:
            problems.append(step.problem)
        elif step.kind == "audio" and first.config not in FRAME:
            problems.append("input_audio")
        elif step.kind == "audio" and step.audio_len % FRAME[first.config]:
            problems.append("whole number of frames")
    if problems:
        return Expected(INVALID, tuple(problems), opens_session=True)
    return Expected(grpc.StatusCode.OK, opens_session=True)


# Running a sequence.
#
# With the blocking client, in a thread: grpc.aio's client replaces the server's status with
# INTERNAL "Internal error from Core" when one of its writes fails because the server already
# ended the call (grpc/grpc#36066, fix proposed in grpc/grpc#43486). The server's status is
# right; the blocking client (like grpcurl and other languages) reports it.


def run_sequence(channel: grpc.Channel, sequence: Sequence) -> Outcome:
    converse = channel.stream_stream(
        CONVERSE,
        request_serializer=lambda data: data,
        response_deserializer=pb.ConverseResponse.FromString,
    )
    finished = threading.Event()
    opens = expected(sequence).opens_session
    cancel_when_started = sequence.ending == "cancel_started" and opens
    cancel_after_writes = sequence.ending.startswith("cancel") and not cancel_when_started
    calls: list[Any] = []
    created = threading.Event()

    def requests() -> Iterator[bytes]:
        for step in sequence.steps:
            yield step.data
        if cancel_after_writes:
            created.wait(30)  # the call object exists once converse() returned
            calls[0].cancel()
        if sequence.ending != "half_close":
            finished.wait(30)  # keep the stream open until the cancel

    call = converse(requests(), timeout=30)
    calls.append(call)
    created.set()
    events: list[pb.ConverseResponse] = []
    try:
        for event in call:
            events.append(event)
            if cancel_when_started and event.WhichOneof("event") == "session_started":
                call.cancel()
    except grpc.RpcError:
        pass
    finally:
        finished.set()
    return Outcome(call.code(), call.details() or "", events, len(sequence.steps))


def check(sequence: Sequence, outcome: Outcome) -> None:
    try:
        _check(sequence, outcome)
    except AssertionError as exc:
        # Name the one sequence that failed (the example shows the whole batch).
        raise AssertionError(f"{exc}\n  sequence: {sequence}") from None


def _check(sequence: Sequence, outcome: Outcome) -> None:
    want = expected(sequence)
    kinds = outcome.kinds()
    # Nothing after session_stopped but OK, and session_stopped is always last.
    if "session_stopped" in kinds:
        assert kinds[-1] == "session_stopped" and kinds.count("session_stopped") == 1, kinds
        assert outcome.code is grpc.StatusCode.OK, (outcome.code, outcome.details, kinds)
    if sequence.ending.startswith("cancel"):
        assert outcome.code in (grpc.StatusCode.CANCELLED, want.code), (outcome, want)
        return
    assert outcome.code is want.code, (want, outcome.code, outcome.details, kinds)
    if want.words:
        assert any(w in outcome.details for w in want.words), (want.words, outcome.details)
    if want.code is grpc.StatusCode.OK:
        assert kinds[0] == "session_started" and kinds[-1] == "session_stopped", kinds
    if want.code is not grpc.StatusCode.OK and not want.opens_session:
        assert kinds == [], kinds


# The test.


@dataclass
class FuzzState:
    lb: LimitedBridge
    channel: grpc.Channel
    threads: ThreadPoolExecutor
    sequences: int = 0
    codes: dict[str, int] | None = None


@pytest.fixture
async def fuzz(emulator: Emulator) -> AsyncIterator[FuzzState]:
    async with limited_bridge(emulator) as lb:
        channel = grpc.insecure_channel(lb.target)
        threads = ThreadPoolExecutor(max_workers=BATCH, thread_name_prefix="fuzz")
        state = FuzzState(lb, channel, threads, codes={})
        try:
            yield state
        finally:
            threads.shutdown()
            channel.close()
        print(f"\nfuzz: {state.sequences} sequences, statuses {state.codes}")
        assert state.sequences >= min(MIN_SEQUENCES, EXAMPLES * BATCH)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
@given(batch=st.lists(sequences(), min_size=BATCH, max_size=BATCH))
async def test_fuzz_converse_sequences(fuzz: FuzzState, batch: list[Sequence]) -> None:
    lb = fuzz.lb
    loop = asyncio.get_running_loop()
    outcomes = await asyncio.gather(
        *(loop.run_in_executor(fuzz.threads, run_sequence, fuzz.channel, s) for s in batch)
    )
    for sequence, outcome in zip(batch, outcomes, strict=True):
        check(sequence, outcome)
        assert fuzz.codes is not None
        fuzz.codes[outcome.code.name] = fuzz.codes.get(outcome.code.name, 0) + 1
    fuzz.sequences += len(batch)
    # Nothing leaked: no upstream session, slot or conversation outlives its call.
    assert not await lb.emu.wait_none_active()
    service, registry = lb.server.service, lb.server.registry
    assert service is not None and registry is not None
    await _settle(lambda: service.admission.sessions.in_use == 0)
    assert service.admission.sessions.in_use == 0
    assert service.admission.pending.in_use == 0
    assert registry.conversation_count == 0
    assert not registry.owned_sessions()


async def _settle(done: Callable[[], bool], within_s: float = 5.0) -> None:
    """Wait (bounded) for stops that finish just after the emulator saw them."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within_s):
            while True:
                if done():
                    return
                await asyncio.sleep(0.01)
