"""The .proto's limits, at and just past each boundary, through Converse.

Limits (the .proto header and the README): a request is at most 1,114,112 bytes, an audio chunk
at most 1,048,576 bytes, a text at most 10,000 characters, a request_id at most 128 characters.
"""

from __future__ import annotations

import grpc
import pytest
from server.conftest import Env
from server.helpers import Stream, audio, lite_config, speak_end

from avatarbridge.v1 import avatar_bridge_pb2 as pb

MAX_REQUEST_BYTES = 1_114_112
MAX_CHUNK_BYTES = 1_048_576
MAX_TEXT_CHARS = 10_000
MAX_REQUEST_ID_CHARS = 128

PCM16_48K_STEREO = pb.AudioFormat(
    encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=48000, channel_count=2
)


async def open_lite(env: Env, fmt: pb.AudioFormat | None = None) -> tuple[Stream, str]:
    stream = Stream(env.bridge.stub)
    await stream.send(lite_config(input_audio=fmt) if fmt else lite_config())
    return stream, (await stream.started()).session_id


async def ends_with(stream: Stream, *requests: pb.ConverseRequest) -> tuple[grpc.StatusCode, str]:
    """Send, half-close, read to the end; the call's final status."""
    for request in requests:
        try:
            await stream.send(request)
        except grpc.aio.AioRpcError:
            break  # The server ended the call while we were still writing.
    try:
        await stream.call.done_writing()
        await stream.drain()
    except grpc.aio.AioRpcError:
        pass
    return await stream.status()


async def test_a_chunk_of_exactly_the_limit_with_the_longest_request_id_is_accepted(
    env: Env,
) -> None:
    stream, session_id = await open_lite(env, PCM16_48K_STEREO)
    rid = "r" * MAX_REQUEST_ID_CHARS
    chunk = bytes(range(256)) * (MAX_CHUNK_BYTES // 256)
    assert len(chunk) == MAX_CHUNK_BYTES
    await stream.send(audio(chunk, request_id=rid), speak_end())
    ended = await stream.until("avatar_speak_ended")
    assert ended.avatar_speak_ended.utterance_id == rid  # The whole id is echoed.
    await stream.half_close()
    await stream.drain()
    code, details = await stream.status()
    assert code == grpc.StatusCode.OK, details
    # 1,048,576 B of 48 kHz stereo PCM16 = 262,144 frames = 131,072 samples at 24 kHz mono.
    assert len(await env.emu.audio(session_id)) == 131_072 * 2


async def test_a_chunk_one_byte_over_the_limit_is_invalid_argument(env: Env) -> None:
    stream, _ = await open_lite(env, PCM16_48K_STEREO)
    code, details = await ends_with(stream, audio(b"\x00" * (MAX_CHUNK_BYTES + 4)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert "1048576" in details.replace(",", "")


async def test_a_request_id_one_character_too_long_is_invalid_argument(env: Env) -> None:
    stream, _ = await open_lite(env)
    code, details = await ends_with(stream, audio(b"\xff" * 80, "r" * (MAX_REQUEST_ID_CHARS + 1)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert "request_id" in details


@pytest.mark.parametrize("kind", ["speak_text", "speak_response"])
async def test_text_at_the_limit_passes_the_size_check_and_one_more_is_refused(
    env: Env, kind: str
) -> None:
    # In LITE a text command is an in-stream UNSUPPORTED_IN_MODE error: proof it passed the
    # size check, which is fatal.
    stream, _ = await open_lite(env)
    command = {kind: pb.SpeakText(text="a" * MAX_TEXT_CHARS)}
    if kind == "speak_response":
        command = {kind: pb.SpeakResponse(text="a" * MAX_TEXT_CHARS)}
    await stream.send(pb.ConverseRequest(request_id="t1", **command))  # type: ignore[arg-type]
    error = await stream.until("error")
    assert (error.request_id, error.error.code) == ("t1", "UNSUPPORTED_IN_MODE")
    too_long = pb.SpeakText(text="a" * (MAX_TEXT_CHARS + 1))
    over = pb.ConverseRequest(request_id="t2", speak_text=too_long)
    if kind == "speak_response":
        over = pb.ConverseRequest(
            request_id="t2", speak_response=pb.SpeakResponse(text="a" * (MAX_TEXT_CHARS + 1))
        )
    code, details = await ends_with(stream, over)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert "10000" in details.replace(",", "")


def request_of(size: int) -> pb.ConverseRequest:
    """An audio request whose serialized size is exactly `size` bytes."""
    data_len = size
    while True:
        request = audio(b"\x00" * data_len)
        over = request.ByteSize() - size
        if over == 0:
            return request
        data_len -= over


async def test_a_request_of_exactly_the_message_limit_reaches_the_bridge(env: Env) -> None:
    # gRPC lets it through; the bridge then refuses its oversize chunk itself.
    stream, _ = await open_lite(env, PCM16_48K_STEREO)
    request = request_of(MAX_REQUEST_BYTES)
    assert request.ByteSize() == MAX_REQUEST_BYTES
    code, details = await ends_with(stream, request)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details


async def test_a_request_one_byte_over_the_message_limit_is_refused_by_grpc(env: Env) -> None:
    stream, _ = await open_lite(env, PCM16_48K_STEREO)
    request = request_of(MAX_REQUEST_BYTES + 1)
    code, details = await ends_with(stream, request)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
