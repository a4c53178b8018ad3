import { existsSync } from 'node:fs';
import { chromium, type LaunchOptions } from '@playwright/test';

/** Flags that give headless Chromium a WebGPU adapter (SwiftShader on a GPU-less box). */
export const webgpuArgs = ['--enable-unsafe-webgpu', '--disable-quic', '--disable-sync'];

/**
 * Chromium comes from CHROMIUM_PATH, else Debian's /usr/bin/chromium, else Playwright's own download.
 * When none exists we stop with a message that says how to get one, instead of Playwright's stack trace.
 */
export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  for (const c of candidates) if (c && existsSync(c)) return c;
  try {
    const own = chromium.executablePath();
    if (own && existsSync(own)) return undefined; // Playwright's own browser: let it pick.
  } catch {
    /* fall through to the message */
  }
  throw new Error(
    'No Chromium found for the browser tests. Install one: Debian/Ubuntu `sudo apt-get install -y chromium`, ' +
      'macOS `npx playwright install chromium`, or point CHROMIUM_PATH at a Chromium/Chrome binary.',
  );
}

export function chromiumLaunchOptions(): LaunchOptions {
  const executablePath = findChromium();
  return { ...(executablePath ? { executablePath } : {}), args: webgpuArgs };
}
