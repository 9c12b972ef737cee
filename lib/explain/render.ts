/**
 * Text and HTML views of explain snapshots: a table that fits a width, and
 * a self-contained page (inline SVG, no scripts, no network) with a stacked
 * area chart of the categories over time and the verdicts.
 * @internal
 */
import type { ExplainSnapshot, ExplainVerdict } from './types';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Bytes as a short figure: `812 KiB`, `78.3 MiB`, `1.20 GiB`. */
export function bytes(n: number): string {
  const a = Math.abs(n);
  if (a >= 1024 * MiB) return `${(n / 1024 / MiB).toFixed(2)} GiB`;
  if (a >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / KiB).toFixed(0)} KiB`;
}

function signed(n: number): string {
  return `${n >= 0 ? '+' : '-'}${bytes(Math.abs(n))}`;
}

function cut(s: string, w: number): string {
  return s.length <= w ? s : `${s.slice(0, Math.max(1, w - 1))}…`;
}

/** Share of RSS no rule or statistic explains (the `unattributed` category), as a fraction. */
export function unattributedShare(s: ExplainSnapshot): number {
  const u = s.categories.find((c) => c.id === 'unattributed');
  return s.totals.rss > 0 && u ? u.rss / s.totals.rss : 0;
}

/**
 * What the figures cannot say by themselves: which of them explain's own
 * process can shift (PSS), and why the V8 category is not V8's own
 * statistic.
 */
export function measurementNotes(s: ExplainSnapshot): string[] {
  const out: string[] = [];
  if (s.pid !== process.pid) {
    out.push(`PSS divides each shared page among the processes that map it, and explain's own process (pid ${process.pid}, ${process.execPath}) is one of them ` +
      `for every file both map (for a Node target: the node binary and the C libraries): while explain runs, the target's PSS of those files reads lower. ` +
      `RSS, USS, private and swap are the target's alone.`);
  }
  const v8 = s.categories.find((c) => c.id === 'v8-heap');
  if (v8 && s.runtime) {
    const physical = s.runtime.v8Spaces.reduce((t, x) => t + x.physical, 0);
    const d = physical > 0 ? (100 * (v8.rss - physical)) / physical : 0;
    out.push(`V8 heap ${bytes(v8.rss)} against V8's total_physical_size ${bytes(physical)} (${d >= 0 ? '+' : ''}${d.toFixed(0)}%): the category is the resident pages of ` +
      `V8's 256 KiB-aligned mappings as the kernel counts them (page headers, pages touched and not yet released, and any anonymous neighbour the kernel merged with them), ` +
      `V8's figure what it counts as committed per space; its code space, in the code range, is outside the shape. On a small heap the headers and partly used pages are a large share.`);
  }
  return out;
}

/**
 * The snapshot as lines of at most `width` columns: one row per category
 * (label, rss, share, pss, private, swap, source), columns dropped from the
 * right when the terminal is narrow; then the breakdowns, the totals and
 * (when given) the verdicts.
 */
export function snapshotLines(s: ExplainSnapshot, width: number, verdicts: readonly ExplainVerdict[] = [], delta?: Record<string, number>): string[] {
  const head = ['category', 'rss', '%', ...(delta ? ['change'] : []), 'pss', 'private', 'swap', 'source'];
  const rows = s.categories.map((c) => [
    c.label, bytes(c.rss), s.totals.rss ? `${((100 * c.rss) / s.totals.rss).toFixed(1)}` : '0', ...(delta ? [signed(delta[c.id] ?? 0)] : []),
    bytes(c.pss), bytes(c.private), bytes(c.swap), c.source === 'runtime' ? 'runtime est.' : c.estimate ? 'vma shape' : 'vma',
  ]);
  const numeric = head.map((h) => h !== 'category' && h !== 'source');
  // Drop columns (source, swap, private, pss) until the row fits with a label of 16 or more.
  let cols = head.map((_, i) => i);
  const widthOf = (i: number): number => Math.max(head[i]!.length, ...rows.map((r) => r[i]!.length));
  const fixed = (): number => cols.slice(1).reduce((t, i) => t + widthOf(i) + 2, 0);
  for (const drop of ['source', 'swap', 'private', 'pss', 'change', '%']) {
    if (width - fixed() >= 16) break;
    cols = cols.filter((i) => head[i] !== drop);
  }
  const labelW = Math.max(8, Math.min(widthOf(0), width - fixed()));
  const line = (r: string[]): string =>
    cols.map((i) => (i === 0 ? cut(r[0]!, labelW).padEnd(labelW) : numeric[i] ? r[i]!.padStart(widthOf(i)) : r[i]!.padEnd(widthOf(i)))).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line)];
  const t = s.totals;
  const wrapText = (text: string, indent = '  '): string[] => {
    const words = text.split(' ');
    const lines: string[] = [];
    let cur = '';
    for (const w of words) {
      if (cur && cur.length + 1 + w.length > width) {
        lines.push(cur);
        cur = indent + w;
      } else cur = cur ? `${cur} ${w}` : w;
    }
    if (cur) lines.push(cur);
    return lines;
  };
  out.push('');
  const drift = t.rollupRss === null ? 0 : t.rollupRss - t.rss;
  out.push(...wrapText(
    `RSS ${bytes(t.rss)} (${t.vmas} mappings) = the categories' sum, exactly` +
      (t.rollupRss === null ? '' : `; smaps_rollup read right after: ${bytes(t.rollupRss)}` +
        (drift === 0 ? ' (same)' : ` (${signed(drift)}: the process changed between the two reads)`)) +
      `. PSS ${bytes(t.pss)}, USS ${bytes(t.uss)}, swap ${bytes(t.swap)}, THP ${bytes(t.anonHuge)}` +
      (t.pageTables !== null ? `; page tables ${bytes(t.pageTables)} (VmPTE, kernel memory beside RSS, not in it)` : '') + '.' +
      (t.sealedVmas > 0 ? ` Sealed (mseal): ${t.sealedVmas} mapping${t.sealedVmas === 1 ? '' : 's'}, ${bytes(t.sealedBytes)}.` : '') +
      (t.guardPages !== null && t.guardPages > 0 ? ` Guard pages: ${t.guardPages} (${bytes(t.guardPages * s.pageSize)} of address space, no memory).` : ''),
  ));
  out.push(...wrapText(`Unattributed: ${bytes(s.categories.find((c) => c.id === 'unattributed')?.rss ?? 0)} (${(100 * unattributedShare(s)).toFixed(1)}% of RSS).`));
  if (t.ksm !== null && t.ksm !== undefined && t.ksm > 0) {
    out.push(...wrapText(`KSM-merged: ${bytes(t.ksm)} (pages the kernel merged with identical ones; inside RSS, where every sharer counts them whole, and divided in PSS).`));
  }
  for (const n of measurementNotes(s)) out.push(...wrapText(n));
  if (s.breakdowns.length) {
    out.push(...wrapText(
      `Inside the categories, not added again: ${s.breakdowns.map((b) => `${b.label} ${bytes(b.bytes)}`).join(', ')} (${s.breakdowns.map((b) => b.statistic).join('; ')}).`,
    ));
  } else if (s.categories.some((c) => c.id === 'anonymous') && s.node !== false) {
    out.push(...wrapText('Anonymous memory is not split further: runtime statistics come only from the process itself (explain() in it, or `pagewise explain -- node app.js`).'));
  }
  if (s.runtimeStale) {
    out.push(...wrapText(`Runtime statistics are ${((s.runtimeAgeMs ?? 0) / 1000).toFixed(1)} s old (the process did not report them in time: its event loop was busy): the runtime figures above are of then, and verdicts leave them out.`));
  }
  for (const v of verdicts) out.push(...wrapText(`${v.kind === 'grows' ? '▲' : v.kind === 'shrinks' ? '▼' : v.kind === 'settled' ? '◆' : '='} ${v.text}`));
  return out;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d', '#7c3aed'];

/** The chart's series: the largest categories over the whole run, the rest as "other", unattributed on top. */
function chartSeries(series: readonly ExplainSnapshot[], max = 9): { id: string; label: string; ys: number[] }[] {
  const peak = new Map<string, { label: string; peak: number }>();
  for (const s of series) {
    for (const c of s.categories) {
      const p = peak.get(c.id);
      if (!p) peak.set(c.id, { label: c.label, peak: c.rss });
      else p.peak = Math.max(p.peak, c.rss);
    }
  }
  const ranked = [...peak.entries()].filter(([id]) => id !== 'unattributed').sort((a, b) => b[1].peak - a[1].peak);
  const top = ranked.slice(0, max).map(([id, p]) => ({ id, label: p.label }));
  const topIds = new Set(top.map((t) => t.id));
  const out = top.map((t) => ({ ...t, ys: series.map((s) => s.categories.find((c) => c.id === t.id)?.rss ?? 0) }));
  if (ranked.length > max) {
    out.push({ id: 'other', label: `other (${ranked.length - max} categories)`, ys: series.map((s) => s.categories.filter((c) => !topIds.has(c.id) && c.id !== 'unattributed').reduce((t, c) => t + c.rss, 0)) });
  }
  out.push({ id: 'unattributed', label: 'unattributed', ys: series.map((s) => s.categories.find((c) => c.id === 'unattributed')?.rss ?? 0) });
  return out;
}

/** A stacked area chart (SVG) of the categories' rss over time. */
export function stackedAreaChart(series: readonly ExplainSnapshot[]): string {
  const W = 960;
  const H = 420;
  const pad = { l: 80, r: 300, t: 30, b: 44 };
  const iw = W - pad.l - pad.r;
  const ih = H - pad.t - pad.b;
  const t0 = series[0]!.time;
  const xs = series.map((s) => (s.time - t0) / 1000);
  const xMax = Math.max(1, xs[xs.length - 1]!);
  const layers = chartSeries(series);
  const totals = series.map((_, i) => layers.reduce((t, l) => t + l.ys[i]!, 0));
  const yMaxRaw = Math.max(1, ...totals);
  const step = 2 ** Math.ceil(Math.log2(yMaxRaw / 4));
  const yMax = Math.ceil(yMaxRaw / step) * step;
  const px = (x: number): number => pad.l + (series.length === 1 ? iw / 2 : (x / xMax) * iw);
  const py = (y: number): number => pad.t + ih - (y / yMax) * ih;
  let body = '';
  for (let t = 0; t <= yMax; t += step) {
    body += `<line x1="${pad.l}" x2="${pad.l + iw}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e5e7eb"/>`;
    body += `<text x="${pad.l - 6}" y="${(py(t) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#374151">${esc(bytes(t))}</text>`;
  }
  const ticks = 6;
  for (let i = 0; i <= ticks; i++) {
    const x = (xMax * i) / ticks;
    body += `<text x="${px(x).toFixed(1)}" y="${pad.t + ih + 16}" font-size="11" text-anchor="middle" fill="#374151">${x.toFixed(x < 10 ? 1 : 0)}</text>`;
  }
  const base = new Array<number>(series.length).fill(0);
  layers.forEach((l, k) => {
    const top = base.map((b, i) => b + l.ys[i]!);
    const colour = l.id === 'unattributed' ? '#9ca3af' : COLOURS[k % COLOURS.length]!;
    if (series.length === 1) {
      body += `<rect x="${(px(0) - 40).toFixed(1)}" width="80" y="${py(top[0]!).toFixed(1)}" height="${(py(base[0]!) - py(top[0]!)).toFixed(1)}" fill="${colour}" fill-opacity="0.85"/>`;
    } else {
      const up = xs.map((x, i) => `${px(x).toFixed(1)},${py(top[i]!).toFixed(1)}`);
      const down = xs.map((x, i) => `${px(x).toFixed(1)},${py(base[i]!).toFixed(1)}`).reverse();
      body += `<polygon points="${[...up, ...down].join(' ')}" fill="${colour}" fill-opacity="0.85" stroke="${colour}" stroke-width="0.5"><title>${esc(l.label)}</title></polygon>`;
    }
    const ly = pad.t + ih - k * 20 - 10;
    body += `<rect x="${pad.l + iw + 16}" y="${ly - 9}" width="12" height="12" fill="${colour}"/>`;
    body += `<text x="${pad.l + iw + 34}" y="${ly + 1}" font-size="12" fill="#111827">${esc(cut(l.label, 30))} ${esc(bytes(l.ys[l.ys.length - 1]!))}</text>`;
    for (let i = 0; i < base.length; i++) base[i] = top[i]!;
  });
  body += `<line x1="${pad.l}" y1="${pad.t + ih}" x2="${pad.l + iw}" y2="${pad.t + ih}" stroke="#6b7280"/>`;
  body += `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${pad.t + ih}" stroke="#6b7280"/>`;
  body += `<text x="${pad.l + iw / 2}" y="${H - 8}" font-size="12" text-anchor="middle" fill="#374151">seconds since the first snapshot</text>`;
  body += `<text x="${W / 2 - 130}" y="18" font-size="14" font-weight="600" text-anchor="middle" fill="#111827">Resident memory by owner (stacked, bytes)</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="resident memory by owner over time">${body}</svg>`;
}

/** A self-contained HTML page: title, chart, verdicts, the last snapshot's table. */
export function htmlPage(series: readonly ExplainSnapshot[], verdicts: readonly ExplainVerdict[], title: string): string {
  const last = series[series.length - 1]!;
  const rows = last.categories
    .map((c) => `<tr><td>${esc(c.label)}</td><td>${bytes(c.rss)}</td><td>${last.totals.rss ? ((100 * c.rss) / last.totals.rss).toFixed(1) : '0'}%</td><td>${bytes(c.pss)}</td><td>${bytes(c.private)}</td><td>${bytes(c.swap)}</td><td>${c.source === 'runtime' ? `runtime estimate: ${esc(c.statistic ?? '')}` : c.estimate ? 'vma (by shape: estimate)' : 'vma (exact)'}</td></tr>`)
    .join('');
  const inside = last.breakdowns.map((b) => `<li>${esc(b.label)}: ${bytes(b.bytes)} <small>(${esc(b.statistic)}; inside ${esc(b.within.join(', '))}; ${esc(b.note)})</small></li>`).join('');
  const v = verdicts.length
    ? verdicts.map((x) => `<li class="${x.kind}">${esc(x.text)} <small>(${x.samples} samples over ${x.seconds.toFixed(0)} s; ${bytes(x.first)} → ${bytes(x.last)}; threshold ${bytes(x.threshold)})</small></li>`).join('')
    : '<li>fewer than 3 snapshots: no verdict</li>';
  const t = last.totals;
  const notes = measurementNotes(last).map((n) => `<li>${esc(n)}</li>`).join('') + (t.ksm !== null && t.ksm !== undefined ? `<li>KSM-merged: ${bytes(t.ksm)} (inside RSS, divided in PSS)</li>` : '');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#111827;max-width:1000px}
h1{font-size:20px;margin:0 0 4px} p.sub{color:#4b5563;margin:0 0 16px}
table{border-collapse:collapse;margin-top:8px} td,th{padding:3px 10px;border-bottom:1px solid #e5e7eb;text-align:right}
td:first-child,th:first-child,td:last-child,th:last-child{text-align:left}
li.grows{color:#b91c1c} li.shrinks{color:#047857} li.settled{color:#92400e} small{color:#6b7280}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="sub">pid ${last.pid} · ${series.length} snapshot${series.length === 1 ? '' : 's'} · RSS ${bytes(t.rss)} in ${t.vmas} mappings ${t.rollupRss === null ? '' : `(smaps_rollup ${bytes(t.rollupRss)})`} · PSS ${bytes(t.pss)} · USS ${bytes(t.uss)} · page tables ${t.pageTables === null ? 'n/a' : bytes(t.pageTables)} · unattributed ${(100 * unattributedShare(last)).toFixed(1)}%</p>
${stackedAreaChart(series)}
<h2>Verdicts</h2><ul>${v}</ul>
<h2>Last snapshot</h2>
<table><tr><th>category</th><th>rss</th><th>%</th><th>pss</th><th>private</th><th>swap</th><th>source</th></tr>${rows}</table>
${inside ? `<h3>Inside the categories (not added again)</h3><ul>${inside}</ul>` : ''}
${notes ? `<h3>About these figures</h3><ul>${notes}</ul>` : ''}
</body></html>
`;
}
