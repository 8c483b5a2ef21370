// Browser files the dashboard loads from the admin server itself (no CDN: the page must work
// offline): uPlot, the charting library of the history panels, read from node_modules once.
// uPlot: small (~50 KB), no dependencies, canvas-drawn (fast with thousands of points), MIT,
// maintained; Chart.js is four times the size for charts we do not need.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AdminServer } from './http.js';

const require = createRequire(import.meta.url);

const ASSETS: Record<string, { file: string; contentType: string }> = {
  '/assets/uPlot.iife.min.js': {
    file: 'uplot/dist/uPlot.iife.min.js',
    contentType: 'text/javascript; charset=utf-8',
  },
  '/assets/uPlot.min.css': { file: 'uplot/dist/uPlot.min.css', contentType: 'text/css; charset=utf-8' },
};

export function registerDashboardAssets(admin: AdminServer): void {
  for (const [path, asset] of Object.entries(ASSETS)) {
    let text: string | null = null;
    admin.route({
      method: 'GET',
      path,
      open: true,
      handler: () => {
        text ??= readFileSync(require.resolve(asset.file), 'utf8');
        return { text, contentType: asset.contentType };
      },
    });
  }
}
