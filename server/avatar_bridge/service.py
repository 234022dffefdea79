"""The AvatarBridgeService implementation: Converse, StopSession, ListSessions.

A Converse call: read and validate the config; create (token, start) or attach to a LiveAvatar
session; send SessionStarted; connect the mode's leg and run the conversation; then, on every
exit path (half-close, cancel, error, shutdown, upstream close), stop the upstream session the
bridge created and tell the client why, when it is still there to hear it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

import grpc

from avatar_bridge import richerrors, tracing
from avatar_bridge.admission import Admission, Release, UpstreamSessionCap
from avatar_bridge.audio import AudioConverter
from avatar_bridge.config import ServerConfig
from avatar_bridge.conversation import Conversation, Ending
from avatar_bridge.errors import (
    BridgeError,
    ClientTooSlow,
    Draining,
    FailedPrecondition,
    InvalidRequest,
    PermissionDenied,
    UpstreamClosed,
    UpstreamError,
)
from avatar_bridge.leg import Leg as Leg  # Re-exported: older imports name the service.
from avatar_bridge.leg import LegFactory as LegFactory
from avatar_bridge.lite.leg import lite_leg_factory
from avatar_bridge.liveavatar.rest import LiveAvatarClient, StartedSession
from avatar_bridge.metrics import BridgeMetrics
from avatar_bridge.registry import SessionRegistry, ShuttingDown
from avatar_bridge.security.allowlist import HostAllowlist
from avatar_bridge.security.principal import OPERATE, Principal, current_principal
from avatar_bridge.security.quota_store import FleetQuotas
from avatar_bridge.security.quotas import UNLIMITED, QuotaPolicy
from avatar_bridge.session_config import Plan, plan_from_config
from avatar_bridge.wire import Undecodable
from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[pb.ConverseRequest, pb.ConverseResponse]

LIVEAVATAR_REASONS: dict[pb.StopReason.ValueType, str] = {
    pb.StopReason.Value(v.name): v.name.removeprefix("STOP_REASON_")
    for v in pb.StopReason.DESCRIPTOR.values
    if pb.STOP_REASON_UNKNOWN <= v.number <= pb.STOP_REASON_AGENT_HANG_UP
}
"""StopReason values that are LiveAvatar's own SessionEndReasonEnum, by number."""
_REASON_BY_NAME = {name: number for number, name in LIVEAVATAR_REASONS.items()}
STOP_WAIT_S = 10.0
"""How long a finished call waits for its upstream stop (which goes on after, if it must)."""


class AvatarBridgeService(pb_grpc.AvatarBridgeServiceServicer):
    """gRPC servicer; one instance per server process."""

    def __init__(
        self,
        config: ServerConfig,
        rest: LiveAvatarClient,
        registry: SessionRegistry,
        *,
        full_leg: LegFactory | None = None,
        quotas: QuotaPolicy = UNLIMITED,
        fleet_quotas: FleetQuotas | None = None,
        allowlist: HostAllowlist | None = None,
        metrics: BridgeMetrics | None = None,
    ) -> None:
        self._config = config
        self._metrics = metrics or BridgeMetrics()
        self._quotas = quotas
        self._fleet_quotas = fleet_quotas
        """Quotas shared through Redis: checked by an async step after `admission.admit`."""
        self._allowlist = allowlist or HostAllowlist()
        self._drivers: dict[str, str] = {}
        """session id → the principal whose conversation drives it (for StopSession's log)."""
        self._rest = rest
        self._registry = registry
        self._legs: dict[pb.Mode.ValueType, LegFactory] = {
            pb.MODE_LITE: lite_leg_factory(rest.get_session, config.session)
        }
        if full_leg is not None:
            self._legs[pb.MODE_FULL] = full_leg
        self._shutting_down = False
        self._live_calls = 0
        self._live_modes: dict[str, str] = {}
        """conversation id → mode, for conversations counted live in the metrics."""
        self._no_live_calls = asyncio.Event()
        self._no_live_calls.set()
        limits = config.limits
        self.admission = Admission(
            max_sessions=limits.max_sessions, max_pending_configs=limits.max_pending_configs
        )
        """Add quota or load-shedding policies with `admission.add_policy`."""
        self.admission.add_policy(
            UpstreamSessionCap(lambda: registry.upstream_sessions, limits.max_sessions)
        )
        if fleet_quotas is None:
            # With fleet quotas the async step counts, and falls back to its own local count.
            self.admission.add_policy(_QuotaRule(quotas))
        self._operator_stops: set[str] = set()
        """Sessions a StopSession call is stopping while a conversation drives them."""

    def begin_shutdown(self) -> None:
        """Refuse new conversations from now on."""
        self._shutting_down = True

    @property
    def live_calls(self) -> int:
        """Admitted Converse calls not yet over (in setup or conversing)."""
        return self._live_calls

    async def wait_calls(self, within_s: float) -> bool:
        """Wait until no admitted Converse call is left (the drain); False on timeout."""
        try:
            await asyncio.wait_for(self._no_live_calls.wait(), within_s)
        except TimeoutError:
            return False
        return True

    # Converse.

    async def Converse(self, request_iterator: Any, context: Context) -> None:  # type: ignore[override]
        with tracing.span("avatarbridge.v1.AvatarBridgeService/Converse"):
            await self._converse_call(context)

    async def _converse_call(self, context: Context) -> None:
        conversation_id = uuid.uuid4().hex[:12]
        extra: dict[str, Any] = {"conversation": conversation_id, "peer": context.peer()}
        try:
            plan = await self._read_plan(context)
            # The admission point: the session limit and every policy (per-principal quotas,
            # load shedding), before any REST call.
            principal = current_principal()
            ticket = self.admission.admit(principal)
            if self._fleet_quotas is not None:
                try:
                    ticket.add(await self._fleet_quotas.take(principal))
                except BaseException:
                    ticket.release()
                    raise
        except BridgeError as exc:
            self._metrics.refusals.labels(exc.reason).inc()
            tracing.event("refused", {"reason": exc.reason})
            log.info(
                "conversation refused",
                extra={**extra, "error": exc.message, "code": exc.grpc_code.name},
            )
            await richerrors.abort(context, exc)
            return
        self._live_calls += 1
        self._no_live_calls.clear()
        mode = pb.Mode.Name(plan.mode).removeprefix("MODE_").lower()
        starting = self._metrics.conversations.labels(mode, "starting")
        starting.inc()
        try:
            await self._converse(plan, context, extra)
        except BridgeError as exc:
            log.warning(
                "conversation failed",
                extra={**extra, "error": exc.message, "code": exc.grpc_code.name},
            )
            await richerrors.abort(context, exc)
        finally:
            # A session still being stopped keeps its slot: the limit counts upstream sessions.
            session_id = extra.get("session_id")
            if session_id in self._registry.owned_sessions():
                ticket.release_after(self._registry.stop_upstream(session_id))
            ticket.release()
            if self._live_modes.pop(conversation_id, None) is None:
                starting.dec()
            self._live_calls -= 1
            if not self._live_calls:
                self._no_live_calls.set()

    async def _read_plan(self, context: Context) -> Plan:
        if self._shutting_down:
            # Refuse after the client's first request, not before it: an abort racing the
            # client's first write reaches some clients as INTERNAL "Internal error from Core",
            # without the status details that say "retry elsewhere". The wait holds a pending-
            # config slot like any other; with none free the refusal comes at once.
            with contextlib.suppress(BridgeError), self.admission.await_config():
                await self._first_request(context)
            raise Draining("draining: retry on another instance")
        with self.admission.await_config():
            first = await self._first_request(context)
        if isinstance(first, Undecodable):
            raise InvalidRequest(first.describe("the first request"))
        longest = self._config.limits.max_request_id_chars
        if len(first.request_id) > longest:
            raise InvalidRequest(
                f"request_id has {len(first.request_id)} characters: expected at most {longest}"
            )
        kind = first.WhichOneof("request")
        if kind != "config":
            raise InvalidRequest(
                f"the first request carries {kind or 'nothing'}: expected the first request to "
                "carry config (SessionConfig), and audio or commands only after it"
            )
        plan = plan_from_config(first.config, self._config.session, allowlist=self._allowlist)
        if plan.mode not in self._legs:
            raise FailedPrecondition(f"{pb.Mode.Name(plan.mode)} is not available on this bridge")
        return plan

    async def _first_request(self, context: Context) -> pb.ConverseRequest | Undecodable:
        """The first request, within the config deadline."""
        timeout_s = self._config.limits.config_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                first: object = await context.read()
        except TimeoutError:
            raise ClientTooSlow(
                f"no first request within {timeout_s:g} s of the call's start, this bridge's "
                "config deadline (--config-timeout-s): send SessionConfig in the first request"
            ) from None
        if first is grpc.aio.EOF:
            raise InvalidRequest(
                "the request stream ended before the first request: expected a first request "
                "carrying config"
            )
        assert isinstance(first, pb.ConverseRequest | Undecodable)
        return first

    async def _converse(self, plan: Plan, context: Context, extra: dict[str, Any]) -> None:
        converter = _converter_for(plan)
        started, owned = await self._open_session(plan, extra)
        session_id = started.session_id
        extra["session_id"] = session_id
        conversation: Conversation | None = None
        began = time.monotonic()
        ending = Ending(pb.STOP_REASON_UNSPECIFIED)
        try:
            await context.write(
                pb.ConverseResponse(
                    session_started=pb.SessionStarted(
                        session_id=session_id,
                        mode=plan.mode,
                        livekit_url=started.livekit_url,
                        livekit_client_token=_viewer_token(plan, started),
                        max_session_duration_seconds=started.max_session_duration,
                        attached=plan.attached,
                    )
                )
            )
            log.info("conversation started", extra={**extra, "mode": pb.Mode.Name(plan.mode)})
            self._count_started(extra["conversation"], plan)
            tracing.annotate({"session_id": session_id, "mode": pb.Mode.Name(plan.mode)})
            await context.write(
                pb.ConverseResponse(
                    session_state_changed=pb.SessionStateChanged(state=pb.SESSION_STATE_CONNECTING)
                )
            )
            try:
                leg = await self._registry.unless_closing(
                    self._connect_leg(plan, started, converter, extra)
                )
            except ShuttingDown as exc:
                # The client already has session_started: end it the way live calls end.
                ending = Ending(pb.STOP_REASON_SERVER_SHUTDOWN, exc.message)
                await context.write(
                    pb.ConverseResponse(
                        session_stopped=pb.SessionStopped(reason=ending.reason, detail=exc.message)
                    )
                )
                return
            if plan.attached and plan.stop_on_end:
                # An attached session becomes ours to stop only once we reached it.
                await self._registry.adopt(session_id)
                owned = True
            conversation = Conversation(
                context=context,
                core=leg.core,
                transport=leg.transport,
                limits=self._config.limits,
                max_pending_ms=plan.options.max_pending_ms,
                end_reason_lookup=lambda exc: self._upstream_ending(session_id, exc),
                log_extra=extra,
            )
            self._registry.attach(session_id, conversation)
            self._drivers[session_id] = current_principal().name
            try:
                ending = await conversation.run()
            finally:
                with contextlib.suppress(Exception):
                    await leg.transport.close()
            if ending.upstream_ended:
                await self._registry.disown(session_id)
            await context.write(
                pb.ConverseResponse(
                    session_stopped=pb.SessionStopped(
                        reason=ending.reason,
                        detail=ending.detail,
                        upstream_reason=ending.upstream_reason,
                    )
                )
            )
        finally:
            self._registry.detach(session_id)
            self._drivers.pop(session_id, None)
            self._operator_stops.discard(session_id)
            self._count_ended(extra, ending, conversation)
            tracing.event("session_stopped", {"reason": pb.StopReason.Name(ending.reason)})
            log.info(
                "conversation ended",
                extra={
                    **extra,
                    "reason": pb.StopReason.Name(ending.reason),
                    "seconds": round(time.monotonic() - began, 3),
                    "requests": conversation.requests if conversation else 0,
                    "audio_bytes_in": conversation.audio_bytes_in if conversation else 0,
                },
            )
            if owned and session_id in self._registry.owned_sessions():
                # The registry owns the stop (retried until done). The call waits a bounded
                # while, so a client that ends normally sees the session stopped, but not once
                # shutdown begins: a stop that LiveAvatar stalls must not outlast the grace and
                # turn the status after session_stopped into UNAVAILABLE (shutdown waits for the
                # stop itself; the admission slot is held until it ends).
                stop = self._registry.stop_upstream(session_id, _liveavatar_reason(ending))
                with contextlib.suppress(asyncio.CancelledError, ShuttingDown):
                    await self._registry.unless_closing(asyncio.wait([stop], timeout=STOP_WAIT_S))

    def _count_started(self, conversation_id: str, plan: Plan) -> None:
        mode = pb.Mode.Name(plan.mode).removeprefix("MODE_").lower()
        self._live_modes[conversation_id] = mode
        metrics = self._metrics
        metrics.conversations.labels(mode, "starting").dec()
        metrics.conversations.labels(mode, "live").inc()
        metrics.starts.labels(mode).inc()

    def _count_ended(
        self, extra: dict[str, Any], ending: Ending, conversation: Conversation | None
    ) -> None:
        metrics = self._metrics
        mode = self._live_modes.get(extra["conversation"])
        if mode is not None:
            metrics.conversations.labels(mode, "live").dec()
        metrics.stops.labels(pb.StopReason.Name(ending.reason).removeprefix("STOP_REASON_")).inc()
        if conversation is not None:
            metrics.audio_in.inc(conversation.audio_bytes_in)
            metrics.requests.inc(conversation.requests)
            metrics.audio_out.inc(conversation.audio_bytes_out)
            metrics.packets.inc(conversation.packets_out)
            metrics.reconnects.inc(conversation.reconnects)
            for reason, count in conversation.dropped.items():
                metrics.dropped.labels(reason.removeprefix("DROP_REASON_")).inc(count)

    async def _open_session(self, plan: Plan, extra: dict[str, Any]) -> tuple[StartedSession, bool]:
        """Create and start, or describe the attached session. Returns (session, owned)."""
        if plan.attached:
            if plan.stop_on_end and not current_principal().may(OPERATE):
                raise PermissionDenied(
                    "config.attach.stop_on_end needs the 'operate' role: stopping a session "
                    "the bridge did not create is an operator's decision"
                )
            return (
                StartedSession(
                    session_id=plan.attach_session_id,
                    livekit_url=plan.attach_livekit_url,
                    livekit_client_token=plan.attach_livekit_token,
                    ws_url=plan.attach_ws_url,
                ),
                False,  # Owned (stop_on_end) only once connected: see _converse.
            )
        assert plan.token_body is not None
        # The registry owns token and start: a cancel here never abandons the session.
        started = await self._registry.create(plan.token_body, extra)
        log.info("upstream session started", extra={**extra, "session_id": started.session_id})
        return started, True

    async def _connect_leg(
        self,
        plan: Plan,
        started: StartedSession,
        converter: AudioConverter | None,
        extra: dict[str, Any],
    ) -> Leg:
        return await self._legs[plan.mode](
            plan,
            started,
            asyncio.get_running_loop().time(),
            converter=converter,
            keep_alive=lambda: self._rest.keep_alive(started.session_id),
            log_extra=extra,
        )

    async def _upstream_ending(self, session_id: str, exc: UpstreamClosed) -> Ending:
        """The upstream leg closed by itself: ask LiveAvatar why."""
        if session_id in self._operator_stops:
            # StopSession's REST stop closed the socket before its answer reached StopSession.
            return Ending(
                pb.STOP_REASON_OPERATOR_STOPPED,
                "an operator stopped the session",
                upstream_ended=True,
            )
        upstream_reason = ""
        with contextlib.suppress(UpstreamError, asyncio.TimeoutError):
            entry = await asyncio.wait_for(self._rest.get_session(session_id), 5.0)
            upstream_reason = str(entry.get("end_reason") or "")
        if not upstream_reason:
            # The emulator and some servers name the end reason in the close frame.
            hint = exc.close_reason
            upstream_reason = hint if hint in _REASON_BY_NAME else ""
        if upstream_reason in _REASON_BY_NAME:
            return Ending(
                _REASON_BY_NAME[upstream_reason],
                f"LiveAvatar ended the session ({upstream_reason})",
                upstream_reason,
                upstream_ended=True,
            )
        return Ending(pb.STOP_REASON_UPSTREAM_LOST, exc.message, upstream_reason)

    # Operator RPCs.

    async def StopSession(
        self, request: pb.StopSessionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.StopSessionResponse:
        if not request.session_id.strip():
            await richerrors.abort(
                context,
                InvalidRequest("session_id is empty: expected a session id", field="session_id"),
            )
        reason = request.reason or pb.STOP_REASON_USER_CLOSED
        if reason not in LIVEAVATAR_REASONS:
            await richerrors.abort(
                context,
                InvalidRequest(
                    f"reason {pb.StopReason.Name(reason)} is the bridge's own: expected one of "
                    "LiveAvatar's reasons, STOP_REASON_UNKNOWN to STOP_REASON_AGENT_HANG_UP",
                    field="reason",
                ),
            )
        session_id = request.session_id.strip()
        # The stop closes the conversation's socket, which may reach the conversation before
        # LiveAvatar's answer reaches us: record the reason first (see _upstream_ending).
        had_before = self._registry.has_conversation(session_id)
        if had_before:
            self._operator_stops.add(session_id)
        try:
            await self._rest.stop_session(session_id, LIVEAVATAR_REASONS[reason])
        except BridgeError as exc:
            self._operator_stops.discard(session_id)
            await richerrors.abort(context, exc)
        await self._registry.disown(session_id)
        had = self._registry.request_stop(
            session_id, pb.STOP_REASON_OPERATOR_STOPPED, "an operator stopped the session"
        )
        had = had or had_before
        log.info(
            "operator stopped session",
            extra={
                "session_id": session_id,
                "reason": LIVEAVATAR_REASONS[reason],
                "operator": current_principal().name,
                "driven_by": self._drivers.get(session_id, ""),
            },
        )
        return pb.StopSessionResponse(session_id=session_id, had_conversation=had)

    async def ListSessions(
        self, request: pb.ListSessionsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListSessionsResponse:
        page_size = request.page_size or 20
        if not 1 <= page_size <= 100:
            await richerrors.abort(
                context,
                InvalidRequest(
                    f"page_size {page_size} is out of range: expected 1 to 100, or 0 for 20",
                    field="page_size",
                ),
            )
        try:
            page = int(request.page_token or "1")
        except ValueError:
            page = 0
        if page < 1:
            await richerrors.abort(
                context,
                InvalidRequest(
                    "page_token is not one this server issued: pass next_page_token unchanged",
                    field="page_token",
                ),
            )
        try:
            result = await self._rest.list_sessions(kind="active", page=page, page_size=page_size)
        except BridgeError as exc:
            await richerrors.abort(context, exc)
        sessions = [_session_info(entry, self._registry) for entry in result.results]
        return pb.ListSessionsResponse(
            sessions=sessions, next_page_token=str(page + 1) if result.next else ""
        )


def _converter_for(plan: Plan) -> AudioConverter | None:
    return None if plan.input_audio is None else AudioConverter(plan.input_audio)


def _viewer_token(plan: Plan, started: StartedSession) -> str:
    """The token a viewer's frontend may use: not the one the bridge itself joins with."""
    if plan.mode == pb.MODE_FULL and plan.participation == pb.PARTICIPATION_USER:
        return ""
    if plan.attached:
        return ""
    return started.livekit_client_token


def _liveavatar_reason(ending: Ending) -> str:
    if ending.reason in LIVEAVATAR_REASONS:
        return LIVEAVATAR_REASONS[ending.reason]
    if ending.reason in (
        pb.STOP_REASON_CLIENT_ENDED,
        pb.STOP_REASON_UNSPECIFIED,
        pb.STOP_REASON_SERVER_SHUTDOWN,
    ):
        return "USER_CLOSED"
    return "UNKNOWN"


def _session_info(entry: dict[str, Any], registry: SessionRegistry) -> pb.SessionInfo:
    session_id = str(entry.get("id") or entry.get("session_id") or "")
    modes: dict[str, pb.Mode.ValueType] = {"LITE": pb.MODE_LITE, "FULL": pb.MODE_FULL}
    mode = modes.get(str(entry.get("mode")), pb.MODE_UNSPECIFIED)
    return pb.SessionInfo(
        session_id=session_id,
        mode=mode,
        is_sandbox=bool(entry.get("is_sandbox")),
        create_time=str(entry.get("created_at") or ""),
        duration_seconds=int(entry.get("duration") or 0),
        credits_consumed=float(entry.get("credits_consumed") or 0.0),
        has_conversation=registry.has_conversation(session_id),
    )


class _QuotaRule:
    """Per-principal quotas (issue 8) as an admission policy, beside the global session limit."""

    def __init__(self, quotas: QuotaPolicy) -> None:
        self._quotas = quotas

    def check_and_take(self, principal: Principal) -> Release:
        return self._quotas.check_and_take(principal).release
