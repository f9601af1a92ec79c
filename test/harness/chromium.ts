/**
 * Debian's Chromium for browser tests, never a downloaded one: headless, a fresh
 * profile in a temporary directory, nothing phoning home. Tests skip, saying why,
 * only where it is absent.
 *
 * @example
 * if (!chromiumMissing) chrome = await launchChromium();
 * const page = await chrome.context.newPage();
 * await chrome.close();
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";

/** Why browser tests cannot run here, or undefined when they can. */
export const chromiumMissing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is absent (Debian's chromium package: apt-get install -y chromium)`;

export interface Chromium {
  context: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** Starts Chromium with the usual quiet flags plus `extraArgs`. */
export async function launchChromium(extraArgs: string[] = [], viewport = { width: 1100, height: 760 }): Promise<Chromium> {
  const profileDir = await mkdtemp(join(tmpdir(), "edgekeeper-chromium-"));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
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
      ...extraArgs,
    ],
    viewport,
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profileDir, { recursive: true, force: true });
    },
  };
}
