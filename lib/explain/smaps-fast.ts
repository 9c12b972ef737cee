/**
 * A parser of `smaps` that keeps only what attribution needs (the maps line,
 * Rss, Pss, Private_Clean, Private_Dirty, Swap, AnonHugePages, VmFlags), many times
 * faster than {@link parseSmaps} on thousands of mappings: one pass over the
 * bytes as read (no decoding of the whole file into a string: only mapping
 * lines become text), no array of lines, no regular expression per counter
 * line, no record of every key. Same results for those fields (tested
 * against parseSmaps on captured text); the same ProcParseError on a line
 * that is neither a mapping nor a counter, and a cut last line (a truncated
 * read) is dropped as parseSmaps drops it.
 * @internal
 */
import { anonNameOf, bigOf, devAt, mapsLineAt, nameDeleted, pathnameOf, PERMS_BY_BITS } from '../kernel/maps';
import { ProcParseError } from '../kernel/parse';
import type { SmapsEntry } from '../kernel/smaps';
import { SCAN_FIRST_ROWS, SCAN_STRIDE, type SmapsScan } from '../kernel/reader';
import { checkString } from '../validate';
import { native } from '../native/binding';

const VMFLAGS = Buffer.from('VmFlags:', 'latin1');
const KEYS = ['Rss', 'Pss', 'Private_Clean', 'Private_Dirty', 'Swap', 'AnonHugePages', 'KSM'].map((k) => ({ key: k, bytes: Buffer.from(`${k}:`, 'latin1') }));

/** Which wanted counter starts at `at` (its key and colon), or null for any other line. */
function keyAt(b: Uint8Array, at: number, end: number): { key: string; bytes: Buffer } | null {
  const c = b[at];
  if (c !== 82 && c !== 80 && c !== 83 && c !== 65 && c !== 75) return null; // R P S A K
  for (const k of KEYS) {
    const kb = k.bytes;
    if (at + kb.length > end || kb[0] !== c) continue;
    let i = 1;
    while (i < kb.length && b[at + i] === kb[i]) i++;
    if (i === kb.length) return k;
  }
  return null;
}

/** `N kB` from `at` (after the colon) to `end`, in bytes, or -1. */
function kbValue(b: Uint8Array, at: number, end: number): number {
  let i = at;
  while (i < end && (b[i] === 32 || b[i] === 9)) i++;
  const start = i;
  let n = 0;
  while (i < end && b[i]! >= 48 && b[i]! <= 57) n = n * 10 + (b[i++]! - 48);
  if (i === start || end - i !== 3 || b[i] !== 32 || b[i + 1] !== 107 || b[i + 2] !== 66) return -1;
  return n * 1024;
}

/** JS white space (`\s`, what trim() and split(/\s+/) use) among the latin1 characters. */
const SPACE = new Uint8Array(256);
for (const c of [9, 10, 11, 12, 13, 32, 160]) SPACE[c] = 1;
/** Flags seen (two letters each in every kernel so far), by their bytes packed in a number. */
const FLAGS = new Map<number, string>();

/** The words of `[from, to)`: `text.trim().split(/\s+/).filter((f) => f !== '')` of the latin1 text, without the text. */
function flagsOf(b: Uint8Array & { toString(enc: 'latin1', s: number, e: number): string }, from: number, to: number): string[] {
  const out: string[] = [];
  let i = from;
  for (;;) {
    while (i < to && SPACE[b[i]!]) i++;
    if (i >= to) return out;
    const s = i;
    while (i < to && !SPACE[b[i]!]) i++;
    if (i - s > 4) {
      out.push(b.toString('latin1', s, i));
      continue;
    }
    let key = i - s;
    for (let k = s; k < i; k++) key = key * 256 + b[k]!;
    let f = FLAGS.get(key);
    if (f === undefined) FLAGS.set(key, (f = b.toString('latin1', s, i)));
    out.push(f);
  }
}

/** The most distinct VmFlags lines kept parsed (a count of lines). */
const FLAG_LINES_MAX = 1 << 12;
/** VmFlags lines seen, by a hash of their bytes: each line's bytes and its words, frozen (entries share them). */
const FLAG_LINES = new Map<number, { bytes: number[]; flags: string[] }[]>();

/** {@link flagsOf}, one frozen array per distinct line (a process's thousands of VMAs have a few dozen). */
function sharedFlagsOf(b: Buffer, from: number, to: number): string[] {
  let h = to - from;
  for (let i = from; i < to; i++) h = (Math.imul(h, 31) + b[i]!) | 0;
  const seen = FLAG_LINES.get(h);
  if (seen !== undefined) {
    for (const x of seen) {
      const xb = x.bytes;
      if (xb.length !== to - from) continue;
      let i = 0;
      while (i < xb.length && xb[i] === b[from + i]) i++;
      if (i === xb.length) return x.flags;
    }
  }
  const flags = Object.freeze(flagsOf(b, from, to)) as string[];
  // Bounded: lines past the bound are parsed each time.
  if (FLAG_LINES.size < FLAG_LINES_MAX) {
    const bytes: number[] = [];
    for (let i = from; i < to; i++) bytes.push(b[i]!);
    const line = { bytes, flags };
    if (seen === undefined) FLAG_LINES.set(h, [line]);
    else seen.push(line);
  }
  return flags;
}

/** Whether `VmFlags:` starts at `at` (the line is at least that long). */
function vmFlagsAt(b: Uint8Array, at: number, end: number): boolean {
  if (end - at < VMFLAGS.length) return false;
  for (let i = 0; i < VMFLAGS.length; i++) if (b[at + i] !== VMFLAGS[i]) return false;
  return true;
}

/** The scan's columns for bytes already read, kept between calls (grown as needed). */
let columns = new Float64Array(SCAN_STRIDE * SCAN_FIRST_ROWS);

/**
 * Parses the first `length` bytes of `buf` (smaps as read) into entries with
 * `fields` holding the six counters: the native scan finds the lines and
 * reads the counters in one pass; text it does not take (or a mapping line
 * mapsLineAt cannot read) goes to the parser below, which gives the error.
 */
export function parseSmapsBytes(buf: Buffer, length: number = buf.length): SmapsEntry[] {
  let n: number;
  while ((n = native.smapsScan(buf, length, columns)) === -2) columns = new Float64Array(columns.length * 2);
  return (n > 0 ? entriesOfScan({ count: n, columns, text: buf }) : null) ?? parseSmapsBytesJs(buf, length);
}

/** The counters of a scan's row `o` as `fields` (the keys present, in the file's order). */
function fieldsOf(c: Float64Array, o: number): Record<string, number> {
  const rss = c[o + 2]!;
  const pss = c[o + 3]!;
  const clean = c[o + 4]!;
  const dirty = c[o + 5]!;
  const swap = c[o + 6]!;
  const huge = c[o + 7]!;
  const ksm = c[o + 8]!;
  // Every kernel since 6.x writes all seven: one object literal, one shape.
  if (rss >= 0 && pss >= 0 && clean >= 0 && dirty >= 0 && ksm >= 0 && huge >= 0 && swap >= 0) {
    return { Rss: rss, Pss: pss, Private_Clean: clean, Private_Dirty: dirty, KSM: ksm, AnonHugePages: huge, Swap: swap };
  }
  const fields: Record<string, number> = {};
  if (rss >= 0) fields.Rss = rss;
  if (pss >= 0) fields.Pss = pss;
  if (clean >= 0) fields.Private_Clean = clean;
  if (dirty >= 0) fields.Private_Dirty = dirty;
  if (ksm >= 0) fields.KSM = ksm;
  if (huge >= 0) fields.AnonHugePages = huge;
  if (swap >= 0) fields.Swap = swap;
  return fields;
}

/** Where a scan row's mapping-line fields start (native smapsScan: after the offsets, counters and VmFlags). */
const HEAD = 11;

/** The entries of a native scan, or null where a mapping line is one mapsLineAt cannot read (the parser's error then). */
export function entriesOfScan(scan: SmapsScan): SmapsEntry[] | null {
  const { count: n, columns: c, text: buf } = scan;
  const out: SmapsEntry[] = new Array(n);
  for (let i = 0, o = 0; i < n; i++, o += SCAN_STRIDE) {
    const same = c[o + SCAN_STRIDE - 1]!;
    const flags = same < 0 ? [] : same < i ? out[same]!.vmFlags : sharedFlagsOf(buf, c[o + 9]!, c[o + 10]!);
    const fields = fieldsOf(c, o);
    const rss = fields.Rss ?? 0;
    const pss = fields.Pss ?? 0;
    const huge = fields.AnonHugePages ?? 0;
    const swap = fields.Swap ?? 0;
    const h = o + HEAD;
    if (c[h] === 1) {
      // The mapping line as the scan read it: what mapsLineAt gives, in one object.
      const start = c[h + 1]!;
      const end = c[h + 2]!;
      const name = c[h + 9]! < 0 ? '' : buf.toString('latin1', c[h + 9]!, c[h + 10]!);
      const pathname = pathnameOf(name);
      out[i] = {
        start: bigOf(start), end: bigOf(end), size: end - start, perms: PERMS_BY_BITS[c[h + 4]!]!, offset: bigOf(c[h + 3]!),
        dev: devAt(buf, c[h + 5]!, c[h + 6]!, c[h + 7]!), inode: c[h + 8]!, pathname, anonName: anonNameOf(pathname), deleted: nameDeleted(name),
        fields, rss, pss, anonymous: 0, anonHugePages: huge, swap, thpEligible: null, vmFlags: flags,
      };
      continue;
    }
    const e = mapsLineAt(buf, c[o]!, c[o + 1]!, 'latin1');
    if (!e) return null;
    out[i] = { ...e, fields, rss, pss, anonymous: 0, anonHugePages: huge, swap, thpEligible: null, vmFlags: flags };
  }
  return out;
}

/** {@link parseSmapsBytes} in TypeScript alone: the reference for the native scan, and the parser of text it does not take. */
export function parseSmapsBytesJs(buf: Buffer, length: number = buf.length): SmapsEntry[] {
  let any = false;
  for (let i = 0; i < length && !any; i++) any = buf[i] !== 32 && buf[i] !== 10 && buf[i] !== 9 && buf[i] !== 13;
  if (!any) throw new ProcParseError('smaps', 0, 'the input is empty');
  const out: SmapsEntry[] = [];
  let cur: SmapsEntry | null = null;
  let pos = 0;
  let line = 0;
  const text = (from: number, to: number): string => buf.toString('latin1', from, Math.min(to, from + 80));
  while (pos < length) {
    line++;
    let end = buf.indexOf(10, pos); // memchr: faster than a scan in JS over megabytes
    if (end < 0 || end >= length) {
      if (line > 1) break; // a cut last line (truncated read): dropped
      end = length;
    }
    const c = buf[pos]!;
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) {
      const h = mapsLineAt(buf, pos, end, 'latin1');
      if (!h) throw new ProcParseError('smaps', line, `not a mapping or counter line: ${JSON.stringify(text(pos, end))}`);
      cur = {
        start: h.start, end: h.end, size: h.size, perms: h.perms, offset: h.offset, dev: h.dev, inode: h.inode, pathname: h.pathname,
        anonName: h.anonName, deleted: h.deleted, fields: {}, rss: 0, pss: 0, anonymous: 0, anonHugePages: 0, swap: 0, thpEligible: null, vmFlags: [],
      };
      out.push(cur);
    } else {
      if (!cur) throw new ProcParseError('smaps', line, 'a counter before the first mapping line');
      if (c === 86 && vmFlagsAt(buf, pos, end)) {
        cur.vmFlags = flagsOf(buf, pos + VMFLAGS.length, end);
      } else {
        const k = keyAt(buf, pos, end);
        if (k !== null) {
          const v = kbValue(buf, pos + k.bytes.length, end);
          if (v < 0) throw new ProcParseError('smaps', line, `${k.key} is not "N kB"`);
          cur.fields[k.key] = v;
          if (k.key === 'Rss') cur.rss = v;
          else if (k.key === 'Pss') cur.pss = v;
          else if (k.key === 'Swap') cur.swap = v;
          else if (k.key === 'AnonHugePages') cur.anonHugePages = v;
        } else {
          // Any other counter: a key, then a colon, on this line.
          let colon = pos;
          while (colon < end && buf[colon] !== 58) colon++;
          if (colon <= pos || colon >= end) throw new ProcParseError('smaps', line, `not a mapping or counter line: ${JSON.stringify(text(pos, end))}`);
        }
      }
    }
    pos = end + 1;
  }
  return out;
}

/** {@link parseSmapsBytes} of smaps text. */
export function parseSmapsFast(text: string): SmapsEntry[] {
  return parseSmapsBytes(Buffer.from(checkString('text', text), 'latin1'));
}
