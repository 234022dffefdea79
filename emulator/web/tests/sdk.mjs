// Runs src/sdk_check.js (bundled to dist/) in headless Debian chromium on a page served at
// http://localhost:5173/ (a cross-origin app on a local address, so that chromium's local network
// access rules do not apply; CORS still does) and prints window.sdkResult as JSON.
// Usage: node sdk.mjs <emulator base url> <session token> [timeout ms]
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "./browser.mjs";

const [api, token, waitArg] = process.argv.slice(2);
const waitMs = Number(waitArg || 60000);
const bundle = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../dist/sdk_check.js"));
const browser = await launchChromium([
  // Host candidates must be real addresses: the emulator's aiortc cannot resolve mDNS.
  "WebRtcHideLocalIpsWithMdns",
  // The test page is served by playwright (no address), the emulator on loopback: the
  // local network access checks would refuse that, which a real deployment never meets.
  "LocalNetworkAccessChecks",
]);
const { context } = browser;
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
  await browser.close();
}
console.log(JSON.stringify(result));
