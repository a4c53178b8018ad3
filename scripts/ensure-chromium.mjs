#!/usr/bin/env node
// Makes sure the browser tests have a Chromium: CHROMIUM_PATH, Debian's /usr/bin/chromium, or Playwright's own.
// On Debian/Ubuntu as root it installs the `chromium` package; on macOS/others it runs `playwright install chromium`.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';

const have = () =>
  [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].some((p) => p && existsSync(p));
if (have()) process.exit(0);
try {
  const { chromium } = await import('@playwright/test');
  if (existsSync(chromium.executablePath())) process.exit(0);
} catch {}
const isRoot = process.getuid?.() === 0;
try {
  if (process.platform === 'linux' && existsSync('/usr/bin/apt-get')) {
    const sudo = isRoot ? '' : 'sudo ';
    console.log(`Installing Debian's chromium for the browser tests (${sudo}apt-get install -y chromium)…`);
    execSync(`${sudo}apt-get update -qq && ${sudo}apt-get install -y -qq chromium`, { stdio: 'inherit' });
  } else {
    console.log('Installing Playwright\'s Chromium for the browser tests…');
    execSync('npx playwright install chromium', { stdio: 'inherit' });
  }
} catch {
  console.error(
    'Could not install a Chromium for the browser tests. Install one yourself (Debian/Ubuntu: apt-get install chromium; ' +
      'macOS: npx playwright install chromium) or set CHROMIUM_PATH to a Chromium/Chrome binary.',
  );
  process.exit(1);
}
