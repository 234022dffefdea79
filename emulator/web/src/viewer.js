// The emulator's viewer page: lists active sessions and, for one, shows the avatar's video,
// plays its audio and prints its events live. Bundled by esbuild (make web); no CDN.
import { Room, RoomEvent, Track } from "livekit-client";

const state = {
  session: null,
  joined: false,
  audioSubscribed: false,
  videoSubscribed: false,
  events: [],
  error: null,
};
// Read by the browser tests (and handy in the devtools console).
window.viewerState = state;

const $ = (id) => document.getElementById(id);
let room = null;
let eventCursor = 0;
let eventTimer = null;

async function api(path, init) {
  const resp = await fetch(path, init);
  if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
  return resp.json();
}

function logEvent(line) {
  state.events.push(line);
  const li = document.createElement("li");
  li.textContent = line;
  $("events").prepend(li);
}

async function refreshSessions() {
  try {
    const { sessions } = await api("/viewer/api/sessions");
    const list = $("sessions");
    list.replaceChildren();
    for (const s of sessions) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.textContent = `${s.mode} ${s.id}`;
      button.disabled = !s.watchable;
      button.onclick = () => {
        following = false;
        watch(s.id);
      };
      li.append(button);
      list.append(li);
    }
    $("empty").hidden = sessions.length > 0;
    // Follow mode: without an explicit ?session=, watch the newest session as it appears, so
    // that a session started by a script is on screen before its first words.
    const current = sessions.find((s) => s.id === state.session);
    const newest = sessions.find((s) => s.watchable);
    if (following && newest && (!current || newest.id !== state.session)) watch(newest.id);
  } catch (err) {
    $("status").textContent = String(err);
  }
}

async function pollEvents() {
  if (!state.session) return;
  try {
    const { events, next } = await api(
      `/viewer/api/sessions/${state.session}/events?after=${eventCursor}`,
    );
    eventCursor = next;
    for (const e of events) logEvent(`${e.at.toFixed(2)}s ${e.text}`);
  } catch (err) {
    $("status").textContent = String(err);
  }
}

async function watch(sessionId) {
  if (room) await room.disconnect();
  clearInterval(eventTimer);
  Object.assign(state, { session: sessionId, joined: false, error: null });
  state.audioSubscribed = state.videoSubscribed = false;
  eventCursor = 0;
  $("events").replaceChildren();
  $("watching").textContent = sessionId;
  try {
    const access = await api(`/viewer/api/sessions/${sessionId}/join`, { method: "POST" });
    room = new Room({ adaptiveStream: false, dynacast: false });
    room.on(RoomEvent.TrackSubscribed, (track, _pub, participant) => {
      if (participant.identity !== access.avatar_identity) return;
      if (track.kind === Track.Kind.Video) {
        track.attach($("video"));
        state.videoSubscribed = true;
      } else if (track.kind === Track.Kind.Audio) {
        track.attach($("audio"));
        state.audioSubscribed = true;
      }
      logEvent(`subscribed to ${participant.identity}'s ${track.kind}`);
    });
    room.on(RoomEvent.DataReceived, (payload, participant, _kind, topic) => {
      // FULL: commands (agent-control) and the avatar's events (agent-response).
      if (topic !== "agent-response" && topic !== "agent-control") return;
      try {
        const event = JSON.parse(new TextDecoder().decode(payload));
        const who = topic === "agent-control" ? `${participant?.identity ?? "?"} ->` : "avatar <-";
        logEvent(`${who} ${event.event_type}${event.text ? `: ${event.text}` : ""}`);
      } catch {
        logEvent(`${topic}: (not JSON)`);
      }
    });
    room.on(RoomEvent.Disconnected, () => logEvent("left the room"));
    room.on(RoomEvent.AudioPlaybackStatusChanged, () => {
      $("unmute").hidden = room.canPlaybackAudio;
    });
    await room.connect(access.livekit_url, access.token, { autoSubscribe: true });
    state.joined = true;
    $("unmute").hidden = room.canPlaybackAudio;
    $("status").textContent = `in room ${access.room} as ${access.identity}`;
    eventTimer = setInterval(pollEvents, 500);
    await pollEvents();
  } catch (err) {
    state.error = String(err);
    $("status").textContent = state.error;
  }
}

$("unmute").onclick = () => room && room.startAudio();
const wanted = new URLSearchParams(location.search).get("session");
let following = !wanted;
if (wanted) watch(wanted);
refreshSessions();
setInterval(refreshSessions, 1000);
