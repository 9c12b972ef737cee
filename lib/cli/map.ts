/**
 * `pagewise map`: a picture of one mapping's residency, one character per
 * page (or group of pages), through first touch, reads and MADV_DONTNEED.
 */
import type { CliCommand } from './command';
import { EXIT, intFlag, parseCommand, terminalWidth, wrap } from './support';
import { mmap, type Mapping } from '../mapping';
import { pageSize } from '../kernel/system';
import { fmtBytes, plural } from '../format';
import { threadFaults } from '../measure/faults';
import { readPages, touchPages } from '../measure/touch';
import { mappingRss } from '../measure/vmas';
import { thpMode } from '../kernel/facts';
import { PM_EXCLUSIVE, PM_PRESENT, readPagemap } from '../kernel/pagemap';

/** State of one page from pagemap: not present, a private page, or present but not exclusive (the shared zero page). */
export type PageState = 'absent' | 'private' | 'shared';

/** Per-page states of a mapping, from pagemap (present, exclusive), or from mincore when pagemap is unreadable. */
export function pageStates(m: Mapping): PageState[] {
  const page = m.pageSize;
  const n = m.length / page;
  let entries: BigUint64Array;
  try {
    entries = readPagemap(m.address, n, 'self', page);
  } catch {
    const vec = m.residencyVector();
    return Array.from(vec, (v) => ((v & 1) === 1 ? 'private' : 'absent'));
  }
  const out: PageState[] = [];
  for (const e of entries) {
    if (e & PM_PRESENT) out.push(e & PM_EXCLUSIVE ? 'private' : 'shared');
    else out.push('absent');
  }
  return out;
}

const CHARS: Record<PageState, string> = { absent: '.', private: '#', shared: 'z' };

/** One character per page, or per group of pages (`#` all private, `+` some present, `.` none, `z` zero page). */
export function picture(states: PageState[], width: number): string {
  const group = Math.max(1, Math.ceil(states.length / width));
  let s = '';
  for (let i = 0; i < states.length; i += group) {
    const g = states.slice(i, i + group);
    if (g.every((x) => x === g[0])) s += CHARS[g[0]!];
    else s += g.some((x) => x !== 'absent') ? '+' : '.';
  }
  return s;
}

/** One step of the demonstration. */
export interface MapStep {
  label: string;
  picture: string;
  resident: number;
  zeroPage: number;
  rss: number;
  faults: number;
}

/** Runs the demonstration on a fresh mapping of `pages` pages. */
export function mapDemo(pages: number, width: number): { pages: number; pageSize: number; group: number; steps: MapStep[] } {
  const page = pageSize();
  // Warm-up on a scratch mapping: the JIT compiles the loops here, not inside a counted step.
  const scratch = mmap(16 * page);
  try {
    const v = scratch.view();
    for (let i = 0; i < 3; i++) {
      const f0 = threadFaults();
      touchPages(v, page, 0, 8, 1);
      readPages(v, page, 8, 4);
      scratch.advise('dontneed', 4 * page, 4 * page);
      touchPages(v, page, 4, 1, 2);
      if (threadFaults() < f0) break;
    }
  } finally {
    scratch.unmap();
  }
  const region = mmap(pages * page, { noReserve: true });
  try {
    region.advise('nohugepage');
    const view = region.view(0, pages * page);
    const steps: MapStep[] = [];
    const step = (label: string, faults: number): void => {
      const st = pageStates(region);
      steps.push({
        label,
        picture: picture(st, width),
        resident: st.filter((x) => x !== 'absent').length,
        zeroPage: st.filter((x) => x === 'shared').length,
        rss: mappingRss(region),
        faults,
      });
    };
    // Fault counts bracket only the memory access itself: no allocation in between.
    const q = Math.floor(pages / 4);
    let f0 = 0;
    step('mmap (MAP_NORESERVE)', 0);
    f0 = threadFaults();
    touchPages(view, page, 0, 2 * q, 1);
    step(`write pages 0..${2 * q - 1}`, threadFaults() - f0);
    f0 = threadFaults();
    readPages(view, page, 2 * q, q);
    step(`read pages ${2 * q}..${3 * q - 1}`, threadFaults() - f0);
    f0 = threadFaults();
    region.advise('dontneed', q * page, q * page);
    step(`MADV_DONTNEED pages ${q}..${2 * q - 1}`, threadFaults() - f0);
    f0 = threadFaults();
    touchPages(view, page, q, 1, 2);
    step(`write page ${q} again`, threadFaults() - f0);
    return { pages, pageSize: page, group: Math.max(1, Math.ceil(pages / width)), steps };
  } finally {
    region.unmap();
  }
}

const HELP = `Usage: pagewise map [--pages N] [--width W] [--json]

Maps N pages (default 64) with MAP_NORESERVE and MADV_NOHUGEPAGE, then shows
which pages are resident after each step: first writes, reads, MADV_DONTNEED
and a write again (zero-fill-on-demand happening).

  #  private page (resident, this process only)
  z  present but not exclusive: the kernel's shared zero page
  .  not resident
  +  (groups) some pages of the group resident

Options:
  --pages N       pages in the demo mapping (4..1048576, default 64)
  --width W       characters per picture (8..65536; default: one per page, at
                  most four rows of the terminal); pages are grouped to fit,
                  and the picture wraps to the terminal's width
  --json          print the steps as JSON
  -V, --version   print the version
  -h, --help      show this help
`;

/** Characters per row of a picture: a multiple of 8, at most 64, fitting `columns` after a 2-space indent. */
export function rowLength(columns: number): number {
  return Math.max(8, Math.min(64, Math.floor((columns - 2) / 8) * 8));
}

/** The demo as text, every line within `columns`: each step's figures, then its picture in rows. */
export function formatMap(demo: ReturnType<typeof mapDemo>, columns: number): string {
  const row = rowLength(columns);
  const out: string[] = [];
  out.push(...wrap(`${demo.pages} pages of ${demo.pageSize} B${demo.group > 1 ? `, ${demo.group} pages per character` : ', one character per page'} (# private, z zero page, . absent)`, columns, '  '));
  for (const s of demo.steps) {
    out.push(...wrap(`${s.label}: ${s.resident} present, Rss ${fmtBytes(s.rss)}, ${plural(s.faults, 'fault')}`, columns, '    '));
    for (let i = 0; i < s.picture.length; i += row) out.push(`  ${s.picture.slice(i, i + row)}`);
  }
  return `${out.join('\n')}\n`;
}

/** The `pagewise map` command. */
export const command: CliCommand = {
  name: 'map',
  summary: 'a picture of a mapping\'s residency through first touch, reads and MADV_DONTNEED',
  async run(argv) {
    const parsed = parseCommand('map', argv, {
      pages: { type: 'string' },
      width: { type: 'string' },
      json: { type: 'boolean' },
    }, HELP);
    if (!parsed) return EXIT.ok;
    const { values } = parsed;
    const pages = intFlag('map', '--pages', values.pages, 64, 4, 1 << 20);
    const columns = terminalWidth();
    const width = intFlag('map', '--width', values.width, Math.min(pages, rowLength(columns) * 4), 8, 65536);
    const demo = mapDemo(pages, width);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...demo, thpMode: thpMode() }, null, 2)}\n`);
      return EXIT.ok;
    }
    process.stdout.write(formatMap(demo, columns));
    return EXIT.ok;
  },
};
