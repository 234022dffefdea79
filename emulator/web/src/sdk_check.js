// Drives HeyGen's own web SDK, unchanged, against the emulator (only apiUrl points at it):
// start, room join, session.stream_ready, speak, interrupt, keep-alive, stop. Used by the
// browser fidelity test through tests/sdk.mjs; results land in window.sdkResult.
import {
  AgentEventsEnum,
  LiveAvatarSession,
  SessionEvent,
} from "@heygen/liveavatar-web-sdk";

const params = new URLSearchParams(location.hash.slice(1));
const result = { steps: [], events: [], error: null, done: false, mode: null, frames: 0 };
window.sdkResult = result;
const step = (name) => result.steps.push(name);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function waitFor(session, event, ms = 30000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), ms);
    session.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

function tone(seconds) {
  // PCM16LE 24 kHz mono, base64: what repeatAudio takes in LITE.
  const n = Math.round(seconds * 24000);
  const bytes = new Uint8Array(n * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) {
    view.setInt16(i * 2, Math.round(9000 * Math.sin((2 * Math.PI * 300 * i) / 24000)), true);
  }
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

async function speakAndInterrupt(session, lite) {
  let started = waitFor(session, AgentEventsEnum.AVATAR_SPEAK_STARTED);
  let ended = waitFor(session, AgentEventsEnum.AVATAR_SPEAK_ENDED);
  if (lite) session.repeatAudio(tone(1.0));
  else session.repeat("hello from the web sdk");
  await started;
  step("speak_started");
  await ended;
  step("speak_ended");

  started = waitFor(session, AgentEventsEnum.AVATAR_SPEAK_STARTED);
  ended = waitFor(session, AgentEventsEnum.AVATAR_SPEAK_ENDED);
  if (lite) session.repeatAudio(tone(6.0));
  else session.repeat("a much longer sentence that the avatar will not be allowed to finish today");
  await started;
  const t0 = performance.now();
  await sleep(500);
  session.interrupt();
  await ended;
  result.interruptedAfterMs = Math.round(performance.now() - t0);
  step("interrupted");
}

async function run() {
  const session = new LiveAvatarSession(params.get("token"), { apiUrl: params.get("api") });
  result.mode = session.mode;
  const names = [...Object.values(AgentEventsEnum), ...Object.values(SessionEvent)];
  for (const name of new Set(names)) session.on(name, () => result.events.push(name));
  const ready = waitFor(session, SessionEvent.SESSION_STREAM_READY);
  await session.start();
  step("started");
  await ready;
  step("stream_ready");
  const video = document.getElementById("video");
  session.attach(video);
  const deadline = performance.now() + 15000;
  while (video.getVideoPlaybackQuality().totalVideoFrames < 5 && performance.now() < deadline) {
    await sleep(100);
  }
  result.frames = video.getVideoPlaybackQuality().totalVideoFrames;
  result.videoSize = [video.videoWidth, video.videoHeight];
  // LITE: the SDK resolves on socket open, but commands before `connected` are dropped
  // (documented); an app would wait for its first speak to be acknowledged. Give it time.
  if (session.mode === "LITE") await sleep(600);
  await speakAndInterrupt(session, session.mode === "LITE");
  await session.keepAlive();
  step("keep_alive");
  const disconnected = waitFor(session, SessionEvent.SESSION_DISCONNECTED);
  await session.stop();
  const [reason] = await disconnected;
  step(`disconnected:${reason}`);
  result.done = true;
}

run().catch((err) => {
  result.error = String((err && err.stack) || err);
});
