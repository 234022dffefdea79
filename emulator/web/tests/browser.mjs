// Headless Debian chromium (playwright-core) in a throwaway profile, for the browser tests'
// drivers (sdk.mjs, watch.mjs). CHROMIUM_PATH overrides /usr/bin/chromium.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

// `disableFeatures`: chromium features the driver turns off, each for a reason it states.
export async function launchChromium(disableFeatures) {
  const profile = mkdtempSync(join(tmpdir(), "emu-chromium-"));
  const removeProfile = () => rmSync(profile, { recursive: true, force: true });
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
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
        `--disable-features=${disableFeatures.join(",")}`,
      ],
    });
  } catch (err) {
    removeProfile();
    throw err;
  }
  return {
    context,
    async close() {
      await context.close();
      removeProfile();
    },
  };
}
