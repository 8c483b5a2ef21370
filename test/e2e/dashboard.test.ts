// The dashboard in headless Chromium against a running shardgate: the shards, a hot key, the top
// statements, the result cache and the history panels (growth, latency heatmap, QPS) appear, and a screenshot is saved to test-results/dashboard.png.
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, ensureChromium } from '../support/chromium.js';
import { type ProxyFixture, startProxyFixture } from '../support/proxy-fixture.js';

let fx: ProxyFixture;
let executablePath: string;

beforeAll(async () => {
  executablePath = await ensureChromium();
  fx = await startProxyFixture({
    shards: 2,
    replicas: 1,
    overrides: {
      admin: { token: 'dash-token' },
      observability: { healthIntervalMs: 200, history: { intervalMs: 300 } },
    },
  });
}, 900_000);

afterAll(async () => {
  await fx?.stop();
});

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
      // The history panels: growth with its projection, a heatmap cell with statements, QPS.
      // A flat line (no growth in a short test) has no height: attached, not visible.
      await page.waitForSelector('[data-growth="s0"] svg polyline', { state: 'attached', timeout: 30_000 });
      expect(await page.textContent('[data-growth="s1"]')).toMatch(
        /MiB · .* · (\d+ days to|no growth measured)/,
      );
      await page.waitForFunction(
        "[...document.querySelectorAll('#history-heat i')].some((i) => Number(i.dataset.n) > 0)",
        undefined,
        { timeout: 30_000 },
      );
      await page.waitForSelector('[data-qps="s0"] svg polyline', { state: 'attached', timeout: 30_000 });
      expect(await page.textContent('[data-qps="s0"]')).toMatch(/\d+\.\d qps/);
      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true });
    } finally {
      await browser.close();
    }
  }, 60_000);
});
