/**
 * The SVG charts of `pagewise report`: line charts, bar charts and grouped
 * bar charts (contenders side by side on one scale), their axes and the way
 * their numbers are written (1 KiB, 10 000, 1.5 µs).
 *
 * Text never overprints: tick labels that would collide are left out (the
 * point keeps its marker and its tooltip), bar labels wrap to their slot and
 * a value label that does not fit its bar is left to the table beside the
 * chart. The widths used here are estimates; test/report-html-browser.test.ts
 * measures the real ones in chromium.
 */
import type { Series } from '../experiments';

/** Escapes text for HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c'];

/** U+202F, the narrow no-break space that groups digits (`10 000`) and joins a number to its unit. */
const SP = '\u202f';
/** U+2212, the minus sign. */
const MINUS = '\u2212';

/** Up to `p` (3) significant digits, no trailing zeros: 1.5, 13.9, 140. */
function sig(v: number, p = 3): string {
  return String(Number(v.toPrecision(p)));
}

function signed(v: number, body: (a: number) => string): string {
  return v < 0 ? `${MINUS}${body(-v)}` : body(v);
}

/** A count: `60 000`, `1 000`, `512`, `0.25`. */
export function fmtCount(v: number): string {
  return signed(v, (a) => (a >= 1000 ? Math.round(a).toString().replace(/\B(?=(\d{3})+(?!\d))/g, SP) : sig(a)));
}

/** Bytes in binary units to `p` significant digits: `0`, `512 B`, `1 KiB`, `1.5 MiB`. */
export function fmtBytesAxis(v: number, p = 3): string {
  if (v === 0) return '0';
  return signed(v, (a) => {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (a >= 1024 && i < units.length - 1) {
      a /= 1024;
      i++;
    }
    return `${sig(a, p)}${SP}${units[i]}`;
  });
}

/** Nanoseconds as a duration to `p` significant digits: `850 ns`, `1.5 µs`, `12 ms`. */
export function fmtNs(v: number, p = 3): string {
  if (v === 0) return '0';
  return signed(v, (a) => {
    // The unit is chosen after rounding, so 999 999 ns is `1 ms`, not `1000 µs`.
    const units = ['ns', 'µs', 'ms'];
    for (let i = 0; i < units.length; i++) if (Number(sig(a / 1000 ** i, p)) < 1000) return `${sig(a / 1000 ** i, p)}${SP}${units[i]}`;
    return `${sig(a / 1e9, p)}${SP}s`;
  });
}

/** Whether a unit is a time in nanoseconds (`ns`, `ns/page`, `ns/guard`). */
function isNs(unit: string): boolean {
  return unit === 'ns' || unit.startsWith('ns/');
}

/** A value as a person reads it, for its unit: bytes in KiB/MiB, times in ns/µs/ms (`p` significant digits), counts grouped by thousands. */
export function fmtValue(v: number, unit: string, p = 3): string {
  if (unit === 'bytes') return fmtBytesAxis(v, p);
  if (isNs(unit)) return fmtNs(v, p);
  return fmtCount(v);
}

/**
 * A value written on its bar: as {@link fmtValue}; bytes (counted exactly)
 * with as many digits as it takes to be within 0.1% of the value (1 MiB +
 * 4 KiB is `1.004 MiB`, not `1 MiB`). Times keep three digits: a timing
 * is never that exact.
 */
export function fmtExact(v: number, unit: string): string {
  if (unit !== 'bytes') return fmtValue(v, unit);
  const a = Math.abs(v);
  let base = 1;
  while (a >= base * 1024 && base < 1024 ** 4) base *= 1024;
  for (let p = 3; p < 6; p++) {
    const shown = Number((a / base).toPrecision(p)) * base;
    if (a === 0 || Math.abs(shown - a) / a < 1e-3) return fmtValue(v, unit, p);
  }
  return fmtValue(v, unit, 6);
}

/** What an axis of a unit is called: `ns/page` is `time per page` (its ticks say ns, µs or ms). */
export function unitTitle(unit: string): string {
  if (isNs(unit)) return unit === 'ns' ? 'time' : `time per ${unit.slice(3)}`;
  return ({ faults: 'page faults' } as Record<string, string>)[unit] ?? unit;
}

/** Average width of a character of 11px sans-serif, for fitting labels (the browser test measures the real one). */
const CHAR_PX = 6.5;

function textWidth(text: string, fontPx = 11): number {
  return text.length * CHAR_PX * (fontPx / 11);
}

/**
 * Splits a label into lines of at most `max` characters, breaking at spaces
 * and after underscores (`MADV_POPULATE_` / `WRITE`); a word longer than a
 * line stays whole.
 * @internal
 */
export function wrapLabel(text: string, max: number): string[] {
  const words = text.split(' ').flatMap((w) => w.split(/(?<=_)/));
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    const joined = cur === '' ? w : cur.endsWith('_') ? cur + w : `${cur} ${w}`;
    if (cur !== '' && joined.length > max) {
      lines.push(cur);
      cur = w;
    } else {
      cur = joined;
    }
  }
  if (cur !== '') lines.push(cur);
  return lines;
}

const W = 640;
const H = 300;
const PAD = { l: 86, r: 20, t: 30, b: 70 };
/** Height of the legend row. */
const LEGEND_ROW = 18;
/** Baseline of the first line of an x label, below the axis (clear of the lowest y tick label). */
const X_LABEL_DY = 18;
/** Room above the plot for the value label of the tallest bar. */
const VALUE_ROOM = 16;

/** Options of a chart: axis titles (with their units) and log scales, each said on its axis. */
export interface ChartOptions {
  /** Title of the x axis, with its unit; `(log scale)` is added when `logX`. */
  xTitle?: string;
  /** Title of the y axis, with its unit; `(log scale)` is added when `logY`. */
  yTitle?: string;
  logX?: boolean;
  logY?: boolean;
}

/** A y axis: where a value goes (0 at the bottom, 1 at the top) and the ticks to draw. */
interface YAxis {
  frac(v: number): number;
  ticks: number[];
}

/** A round step for about four intervals: 1, 2, 2.5 or 5 times a power of ten; for bytes a power of two. */
function niceStep(span: number, unit: string): number {
  const raw = span / 4;
  if (unit === 'bytes') return 2 ** Math.ceil(Math.log2(raw));
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const f of [1, 2, 2.5, 5, 10]) if (f * p >= raw) return f * p;
  return 10 * p;
}

/** A linear axis from a round value at or below min(0, smallest) to one at or above the largest. */
function linearAxis(values: number[], unit: string): YAxis {
  const lo0 = Math.min(0, ...values);
  const hi0 = Math.max(0, ...values);
  const span = hi0 - lo0 || 1;
  const step = niceStep(span, unit);
  const lo = Math.floor(lo0 / step) * step;
  const hi = Math.max(lo + step, Math.ceil(hi0 / step) * step);
  const ticks: number[] = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Math.abs(t) < step / 1e6 ? 0 : t);
  return { frac: (v) => (v - lo) / (hi - lo), ticks };
}

/** A log10 axis from the decade at or below the smallest positive value to the decade at or above the largest. */
function logAxis(values: number[]): YAxis {
  const pos = values.filter((v) => v > 0);
  const lo = Math.floor(Math.log10(pos.length ? Math.min(...pos) : 1));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(pos.length ? Math.max(...pos) : 10)));
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  return { frac: (v) => (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo), ticks };
}

function axisTitle(text: string | undefined, log: boolean | undefined): string {
  return text === undefined || text === '' ? '' : `${text}${log ? ' (log scale)' : ''}`;
}

/** Every y value a series draws, its whiskers included. */
function extent(series: Series[]): number[] {
  return series.flatMap((s) => [...s.y, ...(s.lo ?? []), ...(s.hi ?? [])]).filter((v) => Number.isFinite(v));
}

/** A legend row at `y`: a swatch and the name of each series, left to right. */
function legend(series: Series[], y: number): string {
  let out = '';
  let x = PAD.l;
  series.forEach((s, si) => {
    const c = COLORS[si % COLORS.length]!;
    out += `<g class="legend"><rect x="${x}" y="${y}" width="10" height="10" fill="${c}"/><text x="${x + 14}" y="${y + 9}" font-size="11" fill="#111827">${esc(s.name)}</text></g>`;
    // Names in capitals run wider than the average character: room for 7.5px each.
    x += 14 + Math.ceil(s.name.length * 7.5) + 20;
  });
  return out;
}

/** A whisker from `lo` to `hi` at `x` (pixels), with caps. */
function whisker(x: number, yLo: number, yHi: number, half: number): string {
  const X = x.toFixed(1);
  const a = yLo.toFixed(1);
  const b = yHi.toFixed(1);
  return `<path d="M${X} ${a}V${b}M${(x - half).toFixed(1)} ${a}H${(x + half).toFixed(1)}M${(x - half).toFixed(1)} ${b}H${(x + half).toFixed(1)}" stroke="#111827" stroke-width="1.2" fill="none"/>`;
}

function frame(title: string, axis: YAxis, yUnit: string, body: string, xLabels: string, xTitle: string, yTitle: string, top: number): string {
  const ih = H - top - PAD.b;
  let grid = '';
  for (const t of axis.ticks) {
    const y = top + ih - ih * axis.frac(t);
    grid += `<line x1="${PAD.l}" y1="${y.toFixed(1)}" x2="${W - PAD.r}" y2="${y.toFixed(1)}" stroke="${t === 0 ? '#9ca3af' : '#e5e7eb'}"/>`;
    grid += `<text class="tick" x="${PAD.l - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#374151">${esc(fmtValue(t, yUnit))}</text>`;
  }
  const midY = top + ih / 2;
  // A title wider than the chart is set smaller (down to 10px) rather than cut by the edge.
  const titlePx = Math.max(10, Math.min(14, Math.floor((14 * (W - 16)) / (textWidth(title, 14) * 1.15))));
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">` +
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="${titlePx}" font-weight="600" fill="#111827">${esc(title)}</text>` +
    grid +
    `<line x1="${PAD.l}" y1="${H - PAD.b}" x2="${W - PAD.r}" y2="${H - PAD.b}" stroke="#6b7280"/>` +
    `<line x1="${PAD.l}" y1="${top}" x2="${PAD.l}" y2="${H - PAD.b}" stroke="#6b7280"/>` +
    body +
    xLabels +
    (xTitle ? `<text x="${(PAD.l + W - PAD.r) / 2}" y="${H - 8}" text-anchor="middle" font-size="12" fill="#374151">${esc(xTitle)}</text>` : '') +
    (yTitle ? `<text x="14" y="${midY.toFixed(1)}" text-anchor="middle" font-size="12" fill="#374151" transform="rotate(-90 14 ${midY.toFixed(1)})">${esc(yTitle)}</text>` : '') +
    `</svg>`
  );
}

/**
 * Of labels centred at `xs`, the indices to draw so that none overlaps
 * another (with a gap): left to right, a label that would touch the one
 * before is left out, and the last label is kept in place of the one before
 * it when those two collide.
 */
function spacedLabels(xs: number[], widths: number[], gap = 8): number[] {
  const kept: number[] = [];
  const clash = (i: number, j: number): boolean => Math.abs(xs[i]! - xs[j]!) < (widths[i]! + widths[j]!) / 2 + gap;
  xs.forEach((_, i) => {
    const prev = kept[kept.length - 1];
    if (prev === undefined || !clash(prev, i)) kept.push(i);
    else if (i === xs.length - 1) {
      kept.pop();
      const before = kept[kept.length - 1];
      if (before === undefined || !clash(before, i)) kept.push(i);
    }
  });
  return kept;
}

/** A line chart of one or more series over numeric x (labels, when given, name the points), whiskers where a series has a spread. */
export function lineChart(title: string, series: Series[], options: ChartOptions = {}): string {
  const all = series.flatMap((s) => s.x);
  const tx = (v: number): number => (options.logX ? Math.log10(Math.max(v, 1)) : v);
  const xMin = Math.min(...all.map(tx));
  const xMax = Math.max(...all.map(tx));
  const first = series[0]!;
  const ys = extent(series);
  const axis = options.logY ? logAxis(ys) : linearAxis(ys, first.yUnit);
  // The legend takes a row of its own between the title and the plot, so
  // it never covers a line.
  const top = PAD.t + LEGEND_ROW;
  // Points stay INSET px clear of the y axis and the right edge, so the
  // first x label does not run into the lowest tick label.
  const INSET = 16;
  const iw = W - PAD.l - PAD.r - 2 * INSET;
  const ih = H - top - PAD.b;
  const px = (v: number): number => PAD.l + INSET + (xMax === xMin ? iw / 2 : ((tx(v) - xMin) / (xMax - xMin)) * iw);
  const py = (v: number): number => top + ih - axis.frac(v) * ih;
  let body = '';
  series.forEach((s, si) => {
    const c = COLORS[si % COLORS.length]!;
    const pts = s.x.map((x, i) => `${px(x).toFixed(1)},${py(s.y[i]!).toFixed(1)}`).join(' ');
    body += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts}"/>`;
    s.x.forEach((x, i) => {
      const lo = s.lo?.[i];
      const hi = s.hi?.[i];
      if (lo !== undefined && hi !== undefined && hi > lo) body += whisker(px(x), py(lo), py(hi), 4);
      body += `<circle cx="${px(x).toFixed(1)}" cy="${py(s.y[i]!).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${s.name}, ${s.labels?.[i] ?? fmtValue(x, s.xUnit)}: ${pointText(s, i)}`)}</title></circle>`;
    });
  });
  body += legend(series, PAD.t);
  let xl = '';
  const labelled = first.labels !== undefined;
  const texts = first.x.map((x, i) => first.labels?.[i] ?? fmtValue(x, first.xUnit));
  if (labelled) {
    // Named points (stages): labels rotated so that neighbours stand apart.
    const step = Math.max(1, Math.ceil(first.x.length / 12));
    first.x.forEach((x, i) => {
      if (i % step !== 0 && i !== first.x.length - 1) return;
      const X = px(x).toFixed(1);
      xl += `<text class="xlabel" x="${X}" y="${H - PAD.b + 14}" font-size="10" fill="#374151" text-anchor="end" transform="rotate(-30 ${X} ${H - PAD.b + 14})">${esc(texts[i]!)}</text>`;
    });
  } else {
    for (const i of spacedLabels(first.x.map(px), texts.map((t) => textWidth(t)))) {
      xl += `<text class="xlabel" x="${px(first.x[i]!).toFixed(1)}" y="${H - PAD.b + X_LABEL_DY}" font-size="11" fill="#374151" text-anchor="middle">${esc(texts[i]!)}</text>`;
    }
  }
  const xTitle = labelled ? '' : axisTitle(options.xTitle ?? unitTitle(first.xUnit), options.logX);
  return frame(title, axis, first.yUnit, body, xl, xTitle, axisTitle(options.yTitle ?? unitTitle(first.yUnit), options.logY), top);
}

/** A point's value for a tooltip: `1.2 µs (median of 7; 1.1 µs to 1.9 µs)` or `1.2 µs (one run)`. */
function pointText(s: Series, i: number): string {
  const v = fmtValue(s.y[i]!, s.yUnit);
  const n = s.trials?.[i];
  const lo = s.lo?.[i];
  const hi = s.hi?.[i];
  if (n !== undefined && n > 1 && lo !== undefined && hi !== undefined) return `${v} (median of ${n}; ${fmtValue(lo, s.yUnit)} to ${fmtValue(hi, s.yUnit)})`;
  return s.trials ? `${v} (one run)` : v;
}

/**
 * The bars of `series` in `groups` equal slots across the plot, one bar per
 * series in each slot (coloured by series, or by point for a single series),
 * each with its whisker and, where it fits, its value.
 */
function bars(series: Series[], groups: number, axis: YAxis, top: number, colorBy: 'series' | 'point'): string {
  const iw = W - PAD.l - PAD.r;
  const ih = H - top - PAD.b;
  const slot = iw / groups;
  const bw = (slot * 0.7) / series.length;
  const py = (v: number): number => top + ih - axis.frac(v) * ih;
  const zero = py(Math.max(0, axis.ticks[0]!));
  let body = '';
  series.forEach((s, si) => {
    s.y.forEach((v, i) => {
      const x = PAD.l + slot * i + slot * 0.15 + bw * si;
      const y = py(v);
      const c = COLORS[(colorBy === 'series' ? si : i) % COLORS.length]!;
      body += `<rect x="${x.toFixed(1)}" y="${Math.min(y, zero).toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.abs(zero - y).toFixed(1)}" fill="${c}"><title>${esc(`${s.name}, ${s.labels?.[i] ?? fmtValue(s.x[i]!, s.xUnit)}: ${pointText(s, i)}`)}</title></rect>`;
      const lo = s.lo?.[i];
      const hi = s.hi?.[i];
      const spread = lo !== undefined && hi !== undefined && hi > lo;
      if (spread) body += whisker(x + bw / 2, py(lo), py(hi), Math.min(5, bw / 4));
      // The value goes above the bar (below a negative one, room permitting) and its whisker;
      // where it is wider than the bar's slot the table says it instead.
      const text = fmtExact(v, s.yUnit);
      if (textWidth(text) > bw + (series.length > 1 ? 4 : slot - bw - 8)) return;
      // A negative bar reaching the plot's bottom has no room below it (the x labels are there):
      // its value goes above the zero line, in the empty part of its slot.
      const below = Math.max(y, spread ? py(lo) : y) + 13;
      const edge = v >= 0 ? Math.min(y, spread ? py(hi) : y) - 5 : below <= top + ih - 2 ? below : zero - 5;
      body += `<text class="value" x="${(x + bw / 2).toFixed(1)}" y="${edge.toFixed(1)}" font-size="11" text-anchor="middle" fill="#111827">${esc(text)}</text>`;
    });
  });
  return body;
}

/** X labels of bar groups: wrapped to their slot, lines 13px apart. */
function groupLabels(texts: string[]): string {
  const iw = W - PAD.l - PAD.r;
  const slot = iw / texts.length;
  return texts
    .map((t, i) => {
      const cx = (PAD.l + slot * (i + 0.5)).toFixed(1);
      const lines = wrapLabel(t, Math.max(4, Math.floor(slot / CHAR_PX) - 1));
      return `<text class="xlabel" x="${cx}" y="${H - PAD.b + X_LABEL_DY}" font-size="11" text-anchor="middle" fill="#374151">` +
        lines.map((line, k) => `<tspan x="${cx}" dy="${k === 0 ? 0 : 13}">${esc(line)}</tspan>`).join('') + `</text>`;
    })
    .join('');
}

/** A bar chart: one bar per labelled point of one series, its value written above it (whiskers where it has a spread). */
export function barChart(title: string, s: Series, options: ChartOptions = {}): string {
  const axis = options.logY ? logAxis(extent([s])) : linearAxis(extent([s]), s.yUnit);
  const top = PAD.t + VALUE_ROOM;
  const body = bars([s], s.y.length, axis, top, 'point');
  const xl = groupLabels(s.y.map((_, i) => s.labels?.[i] ?? fmtValue(s.x[i]!, s.xUnit)));
  return frame(title, axis, s.yUnit, body, xl, axisTitle(options.xTitle, options.logX), axisTitle(options.yTitle ?? unitTitle(s.yUnit), options.logY), top);
}

/**
 * Contenders side by side on one scale: for each x of the first series a
 * group with one bar per series (same colour per series, named in the
 * legend), whiskers where a series has a spread. The series must share
 * their x values and their y unit.
 */
export function groupedBarChart(title: string, series: Series[], options: ChartOptions = {}): string {
  const first = series[0]!;
  for (const s of series) {
    if (s.yUnit !== first.yUnit || s.x.length !== first.x.length || s.x.some((x, i) => x !== first.x[i])) {
      throw new RangeError(`groupedBarChart: series '${s.name}' does not share the x values and y unit of '${first.name}'`);
    }
  }
  const axis = options.logY ? logAxis(extent(series)) : linearAxis(extent(series), first.yUnit);
  const top = PAD.t + LEGEND_ROW + VALUE_ROOM;
  const body = bars(series, first.x.length, axis, top, 'series') + legend(series, PAD.t);
  const xl = groupLabels(first.x.map((x, i) => first.labels?.[i] ?? fmtValue(x, first.xUnit)));
  return frame(title, axis, first.yUnit, body, xl, axisTitle(options.xTitle ?? unitTitle(first.xUnit), false), axisTitle(options.yTitle ?? unitTitle(first.yUnit), options.logY), top);
}

/**
 * What a chart's points are, in a sentence under it: the median of how many
 * trials and what the whiskers span, or that each point is one run (so a
 * difference between two of them is not a measured difference).
 */
export function spreadCaption(series: Series[]): string {
  const counts = [...new Set(series.flatMap((s) => s.trials ?? [1]))].sort((a, b) => a - b);
  const whiskers = series.some((s) => s.lo !== undefined && s.hi !== undefined);
  if (counts.every((n) => n <= 1)) return 'Each point is from one run (no repeated trials, so no spread is shown).';
  const n = counts.length === 1 ? `${counts[0]}` : `${counts[0]} to ${counts[counts.length - 1]}`;
  const ones = counts[0]! <= 1 ? ' (points without a whisker are one run)' : '';
  return `Each point is the median of ${n} trials${whiskers ? '; the whisker spans the lowest to the highest trial' : ''}${ones}.`;
}
