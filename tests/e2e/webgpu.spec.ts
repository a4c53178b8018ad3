import { expect, test } from '@playwright/test';
import { openApp } from './page.ts';

test('the start-up probe finds a WebGPU adapter and names it in the status bar', async ({ page }) => {
  await openApp(page);
  const status = page.getByTestId('webgpu-status');
  await expect(status).toContainText('WebGPU:');
  await expect(status).not.toContainText('unavailable');
  // The adapter the page sees must be a real one, checked independently of the app's own probe.
  const info = await page.evaluate(async () => {
    const a = await (navigator as Navigator & { gpu: GPU }).gpu.requestAdapter();
    return a ? { vendor: a.info.vendor, architecture: a.info.architecture, fallback: (a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true } : null;
  });
  expect(info).not.toBeNull();
  if (info!.fallback || info!.architecture === 'swiftshader') await expect(status).toContainText('software adapter');
  await expect(page.getByTestId('storage-status')).toContainText('used');
});
