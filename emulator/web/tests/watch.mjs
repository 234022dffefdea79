// Opens the emulator's viewer page in headless Debian chromium (playwright-core) and reports,
// as one JSON line on stdout, what a person would see: room joined, avatar tracks subscribed,
// video frames decoding, the pixel colours of the picture, and the events printed.
// Usage: node watch.mjs <viewer url> <screenshot.png> [wait ms]
import { launchChromium } from "./browser.mjs";

const [url, screenshot, waitArg] = process.argv.slice(2);
const waitMs = Number(waitArg || 20000);
const browser = await launchChromium([
  // Host candidates must be real addresses: the emulator's aiortc cannot resolve mDNS.
  "WebRtcHideLocalIpsWithMdns",
]);
const { context } = browser;
const result = { ok: false };
try {
  const page = await context.newPage();
  const logs = [];
  page.on("console", (msg) => logs.push(`${msg.type()}: ${msg.text()}`));
  await page.goto(url);
  await page.waitForFunction(
    () => {
      const s = window.viewerState;
      const v = document.getElementById("video");
      return (
        s && s.joined && s.videoSubscribed && s.audioSubscribed &&
        v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames >= 5
      );
    },
    null,
    { timeout: waitMs, polling: 200 },
  );
  // Let the page print events and the avatar speak for a moment.
  await page.waitForFunction(
    () => window.viewerState.events.some((e) => e.includes("agent.speak_started")),
    null,
    { timeout: waitMs, polling: 200 },
  );
  Object.assign(
    result,
    await page.evaluate(() => {
      const v = document.getElementById("video");
      const a = document.getElementById("audio");
      const canvas = document.createElement("canvas");
      canvas.width = v.videoWidth;
      canvas.height = v.videoHeight;
      const ctx = canvas.getContext("2d");
      ctx.drawImage(v, 0, 0);
      const at = (x, y) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3));
      const audioTracks = a.srcObject ? a.srcObject.getAudioTracks() : [];
      return {
        state: window.viewerState,
        width: v.videoWidth,
        height: v.videoHeight,
        frames: v.getVideoPlaybackQuality().totalVideoFrames,
        face: at(Math.floor(v.videoWidth / 2), Math.floor(v.videoHeight / 2) - 40),
        corner: at(60, Math.floor(v.videoHeight / 2)),
        audioTrackStates: audioTracks.map((t) => t.readyState),
      };
    }),
  );
  await page.locator("#video").screenshot({ path: screenshot });
  result.ok = true;
  result.logs = logs.slice(-20);
} catch (err) {
  result.error = String(err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
