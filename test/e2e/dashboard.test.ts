// The dashboard in headless Chromium against a running shardgate: the shards, a hot key, the top
// statements, the result cache and the history panels (growth, latency heatmap, QPS, charted with
// uPlot) appear; screenshots of the charts are inspected for their series' colours, and one of the
// whole page is saved to test-results/dashboard.png.
import { mkdirSync } from 'node:fs';
import { chromium, type Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, ensureChromium } from '../support/chromium.js';
import { useProxyFixture } from '../support/use-fixture.js';

const fx = useProxyFixture(
  {
    shards: 2,
    replicas: 1,
    overrides: {
      admin: { token: 'dash-token' },
      observability: { healthIntervalMs: 200, history: { intervalMs: 300 } },
    },
  },
  180_000,
);

/**
 * Pixels near each series colour (s0 blue, s1 teal) and of heatmap red in a PNG, decoded by the
 * browser (browser code as a string: the tests compile without DOM types).
 */
const COUNT_COLOURS = `async (b64) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  const near = (i, r, g, b) => Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 60;
  const out = { s0: 0, s1: 0, heat: 0 };
  for (let i = 0; i < d.length; i += 4) {
    if (near(i, 0x3b, 0x6f, 0xd8)) out.s0++;
    if (near(i, 0x2a, 0x9d, 0x8f)) out.s1++;
    if (d[i] > 150 && d[i] - d[i + 1] > 50 && d[i] - d[i + 2] > 50) out.heat++;
  }
  return out;
}`;

async function countColours(page: Page, png: Buffer): Promise<{ s0: number; s1: number; heat: number }> {
  return page.evaluate(`(${COUNT_COLOURS})('${png.toString('base64')}')`);
}

let executablePath: string;

// Installing Chromium (apt, once per machine) may take minutes.
beforeAll(async () => {
  executablePath = await ensureChromium();
}, 900_000);

describe('dashboard', () => {
  it('shows the shards and the hot key', async () => {
    const c = await fx.client();
    for (let i = 0; i < 200; i++)
      await c.query('SELECT * FROM users WHERE user_id = $1', [i % 2 === 0 ? 42 : (i % 30) + 1]);
    const browser = await chromium.launch({
      executablePath,
      headless: true,
      // playwright gives every launch a fresh, empty profile directory of its own.
      args: CHROMIUM_ARGS,
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      // Hot keys need the admin token; the page takes it from the fragment.
      await page.goto(`http://127.0.0.1:${fx.proxy.admin!.port}/#token=dash-token`);
      await page.waitForSelector('[data-shard="s0"]', { timeout: 15_000 });
      await page.waitForSelector('[data-shard="s1"]', { timeout: 15_000 });
      await page.waitForSelector('tr[data-hot-key="42"]', { timeout: 15_000 });
      await page.waitForSelector('tr[data-server="s0-replica1"]', { timeout: 15_000 });
      expect(await page.textContent('#hotkeys')).toContain('users');
      await page.waitForSelector('#queries tr[data-query="0"]', { timeout: 15_000 });
      expect(await page.textContent('#queries')).toContain('select * from users where user_id = $1');
      expect(await page.textContent('#cache')).toContain('trending_topics');
      // The history panels, charted with uPlot (served by the admin server, not a CDN).
      const asset = await fetch(`http://127.0.0.1:${fx.proxy.admin!.port}/assets/uPlot.iife.min.js`);
      expect(asset.status).toBe(200);
      expect(await asset.text()).toContain('uPlot');
      await page.waitForSelector('#growth .chart canvas', { timeout: 30_000 });
      expect(await page.textContent('[data-growth="s1"]')).toMatch(
        /MiB · .* · (\d+ days to|no growth measured)/,
      );
      await page.waitForFunction(
        "Number(document.getElementById('history-heat').dataset.cells) > 0",
        undefined,
        { timeout: 30_000 },
      );
      await page.waitForSelector('#qps .chart canvas', { timeout: 30_000 });
      expect(await page.textContent('[data-qps="s0"]')).toMatch(/\d+\.\d qps/);
      // The screenshot, inspected: each chart has pixels of its series' colours.
      const pixels = async (selector: string) =>
        countColours(page, await page.locator(selector).screenshot());
      // Shards of the same size draw one line over the other: either colour counts.
      const growth = await pixels('#growth .chart');
      expect(growth.s0 + growth.s1).toBeGreaterThan(50);
      const qps = await pixels('#qps .chart');
      expect(qps.s0).toBeGreaterThan(50);
      expect(qps.s1).toBeGreaterThan(50);
      expect((await pixels('#history-heat .chart')).heat).toBeGreaterThan(100);
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true });
    } finally {
      await browser.close();
    }
  }, 60_000);
});
