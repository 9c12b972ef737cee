/** `/sys/kernel/mm/transparent_hugepage/`: THP mode, defrag policy, PMD huge page size, per-size (mTHP) modes. */
import * as fs from 'node:fs';
import { checkObject } from '../validate';
import { numberWithUnit, ProcParseError } from './parse';

/** The THP settings. `null` fields were absent (older kernels, or no THP at all). */
export interface Thp {
  /** `enabled`: `'always'`, `'madvise'` (only `MADV_HUGEPAGE` regions) or `'never'`; `null` without THP. */
  mode: string | null;
  /** Every choice offered in `enabled`. */
  modes: string[];
  /** `defrag`: `'always'`, `'defer'`, `'defer+madvise'`, `'madvise'`, `'never'`. */
  defrag: string | null;
  /** `hpage_pmd_size`: bytes of one PMD-sized huge page (2 MiB with 4K pages, 512 MiB with 64K). */
  hpagePmdSize: number | null;
  /** `shmem_enabled` selection. */
  shmemEnabled: string | null;
  /** `use_zero_page`: whether a read fault of a THP-eligible range may map the huge zero page. */
  useZeroPage: boolean | null;
  /** Multi-size THP (Linux 6.8+): `hugepages-<N>kB/enabled` selection by size in bytes (`'inherit'` follows `mode`). */
  sizes: Record<number, string>;
}

/** The files {@link parseThp} reads, by name as in the directory (`'hugepages-64kB/enabled'` for mTHP). */
export type ThpFiles = Record<string, string | undefined>;

/** Returns the `[selected]` word of a sysfs choice file and every choice. */
export function parseSelection(file: string, text: string): { selected: string; choices: string[] } {
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  const chosen = words.filter((w) => w.startsWith('[') && w.endsWith(']'));
  if (chosen.length !== 1) throw new ProcParseError(file, 1, `expected exactly one [selected] choice in ${JSON.stringify(text.trim())}`);
  return { selected: chosen[0]!.slice(1, -1), choices: words.map((w) => w.replace(/^\[|\]$/g, '')) };
}

/**
 * Parses the THP sysfs files given by name (`enabled`, `defrag`,
 * `hpage_pmd_size`, `shmem_enabled`, `use_zero_page`, `hugepages-<N>kB/enabled`).
 * Missing files give `null`; malformed ones throw {@link ProcParseError}.
 */
export function parseThp(files: ThpFiles): Thp {
  checkObject('files', files);
  const sel = (name: string): { selected: string; choices: string[] } | null => {
    const t = files[name];
    return t === undefined ? null : parseSelection(name, t);
  };
  const enabled = sel('enabled');
  let pmd: number | null = null;
  if (files.hpage_pmd_size !== undefined) {
    pmd = numberWithUnit(files.hpage_pmd_size);
    if (pmd === null) throw new ProcParseError('hpage_pmd_size', 1, `not a number: ${JSON.stringify(files.hpage_pmd_size)}`);
  }
  let zero: boolean | null = null;
  if (files.use_zero_page !== undefined) {
    const z = numberWithUnit(files.use_zero_page);
    if (z === null) throw new ProcParseError('use_zero_page', 1, `not 0 or 1: ${JSON.stringify(files.use_zero_page)}`);
    zero = z !== 0;
  }
  const sizes: Record<number, string> = {};
  for (const name of Object.keys(files)) {
    const m = /^hugepages-(\d+)kB\/enabled$/.exec(name);
    if (m && files[name] !== undefined) sizes[Number(m[1]) * 1024] = parseSelection(name, files[name]!).selected;
  }
  return {
    mode: enabled?.selected ?? null, modes: enabled?.choices ?? [], defrag: sel('defrag')?.selected ?? null,
    hpagePmdSize: pmd, shmemEnabled: sel('shmem_enabled')?.selected ?? null, useZeroPage: zero, sizes,
  };
}

const THP_DIR = '/sys/kernel/mm/transparent_hugepage';

/** Reads the THP settings of the running kernel (each file once); all `null` on a kernel without THP. */
export function readThp(): Thp {
  const files: ThpFiles = {};
  const read = (name: string): void => {
    try {
      files[name] = fs.readFileSync(`${THP_DIR}/${name}`, 'utf8');
    } catch {
      // absent on this kernel: reported as null
    }
  };
  for (const name of ['enabled', 'defrag', 'hpage_pmd_size', 'shmem_enabled', 'use_zero_page']) read(name);
  let dirs: string[] = [];
  try {
    dirs = fs.readdirSync(THP_DIR).filter((d) => /^hugepages-\d+kB$/.test(d));
  } catch {
    dirs = [];
  }
  for (const d of dirs) read(`${d}/enabled`);
  return parseThp(files);
}
