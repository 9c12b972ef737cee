/** `pagewise explain -- cmd` keeps every sample, the last one too, in its final table and HTML (issue 25). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/child';
import type { ExplainSample } from '../lib/index';

describe('pagewise explain -- command', () => {
  it('the HTML counts every sample the JSON printed, and its table is the last sample\'s', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-last-'));
    try {
      const html = path.join(dir, 'out.html');
      const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'lib', 'cli.js'), 'explain', '--json', '--watch', '0.2', '--html', html, '--',
        process.execPath, '-e', 'const k = []; let n = 0; const t = setInterval(() => { k.push(Buffer.alloc(1 << 20, 1)); if (++n === 12) { clearInterval(t); setTimeout(() => {}, 600); } }, 100)'],
      { encoding: 'utf8', cwd: ROOT });
      expect(r.status).toBe(0);
      const samples = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as ExplainSample);
      expect(samples.length).toBeGreaterThanOrEqual(3);
      const page = fs.readFileSync(html, 'utf8');
      expect(page).toContain(`· ${samples.length} snapshots ·`);
      // The table is the last sample's.
      const last = samples[samples.length - 1]!;
      expect(page).toContain(`pid ${last.pid} · ${samples.length} snapshots · RSS`);
      const rssRow = /RSS ([\d.]+ [KMG]iB) in/.exec(page)!;
      expect(rssRow[1]).toBe(fmt(last.totals.rss));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function fmt(n: number): string {
  const MiB = 1 << 20;
  if (n >= 1024 * MiB) return `${(n / 1024 / MiB).toFixed(2)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(0)} KiB`;
}
