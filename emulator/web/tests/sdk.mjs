// Runs src/sdk_check.js (bundled to dist/) in headless Debian chromium on a page served at
// http://localhost:5173/ (a cross-origin app on a local address, so that chromium's local network
// access rules do not apply; CORS still does) and prints window.sdkResult as JSON.
// Usage: node sdk.mjs <emulator base url> <session token> [timeout ms]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const [api, token, waitArg] = process.argv.slice(2);
const waitMs = Number(waitArg || 60000);
const bundle = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../dist/sdk_check.js"));
const profile = mkdtempSync(join(tmpdir(), "emu-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    // The test page is served by playwright (no address), the emulator on loopback: the
    // local network access checks would refuse that, which a real deployment never meets.
    "--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks",
  ],
});
let result = { error: "not run" };
const logs = [];
try {
  const page = await context.newPage();
  page.on("console", (msg) => logs.push(`${msg.type()}: ${msg.text()}`));
  await page.route("http://localhost:5173/**", (route) => {
    const url = route.request().url();
    if (url.endsWith("/sdk_check.js")) {
      return route.fulfill({ body: bundle, contentType: "text/javascript" });
    }
    return route.fulfill({
      contentType: "text/html",
      body: '<!doctype html><video id="video" autoplay playsinline></video>' +
        '<script type="module" src="/sdk_check.js"></script>',
    });
  });
  const hash = new URLSearchParams({ api, token }).toString();
  await page.goto(`http://localhost:5173/#${hash}`);
  await page.waitForFunction(() => window.sdkResult && (window.sdkResult.done || window.sdkResult.error), null, {
    timeout: waitMs,
    polling: 250,
  }).catch(() => {});
  result = await page.evaluate(() => window.sdkResult || { error: "no result" });
} catch (err) {
  result = { error: String(err) };
} finally {
  result.logs = logs.slice(-30);
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
