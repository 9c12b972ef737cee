/**
 * The maps parser over bytes (parseMapsBuffer, mapsLineAt: what readMaps()
 * and explain() use) against the text parser (parseMaps, parseMapsLine):
 * the same entries and the same errors, on captured and hostile fixtures,
 * on this process's live maps, and on generated lines, hostile ones too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mapsLineAt, parseMaps, parseMapsBuffer, parseMapsLine } from '../lib/kernel/maps';
import { procPath } from '../lib/kernel/parse';

const FIX = path.join(__dirname, 'fixtures', 'proc');

/** What a parse gives: its entries, or its error's class, line and message. */
function outcome(fn: () => unknown): unknown {
  try {
    return { ok: fn() };
  } catch (err) {
    const e = err as Error & { code?: string; line?: number };
    return { error: e.constructor.name, code: e.code, line: e.line, message: e.message };
  }
}

function same(bytes: Buffer): void {
  expect(outcome(() => parseMapsBuffer(bytes))).toEqual(outcome(() => parseMaps(bytes.toString('utf8'))));
}

describe('maps over bytes: the same as the text parser', () => {
  it('on every captured and hostile maps fixture, and on this process now', () => {
    for (const file of ['x86_64-6.18/maps', 'arm64-64k-constructed/maps', 'hostile/maps-garbage', 'hostile/maps-odd-names', 'hostile/maps-truncated', 'hostile/empty']) {
      same(fs.readFileSync(path.join(FIX, file)));
    }
    const live = fs.readFileSync(procPath('self', 'maps'));
    same(live);
    expect(parseMapsBuffer(live).length).toBeGreaterThan(10);
  });

  it('on edge cases: blank input, no final newline, a cut last line, CR, non-ASCII names, long numbers, upper-case hex', () => {
    const line = '7f0000000000-7f0000001000 rw-p 00000000 00:00 0';
    const cases = [
      '', '\n', '  \n\t', '\u00a0\n', '\ufeff' + line + '\n',
      line, `${line}\n`, `${line}\n${line}`, `${line}\n\n${line}\n`,
      `${line} \n`, `${line}    [heap]\n`, `${line}\r\n`, `${line} /x\r\n`,
      `${line} /tmp/é файл (deleted)\n`, `${line} /a\u2028b\n`, `${line} [anon:ä]\n`,
      '7F0000000000-7f0000001000 rw-p 00000000 00:00 0\n',
      'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n',
      '7f0000000000-7f0000001000 rw-p 0000000000000000001 00:00 0\n',
      '7f0000000000-7f0000001000 rw-p 00000000 103:02 12345678901234567890 /big/inode\n',
      '7f0000000000-7f0000001000 rw-p 00000000 fd:01 123abc\n',
      '7f0000000000-7f0000001000 rwxq 00000000 00:00 0\n',
      '7f0000000000-7f0000001000 rw-p 00000000 0000000:0 0\n',
      '7f0000000000-7f0000001000 rw-p 00000000 00:00\n',
      '7f0000000000 7f0000001000 rw-p 00000000 00:00 0\n',
      '-7f0000001000 rw-p 00000000 00:00 0\n',
    ];
    for (const text of cases) same(Buffer.from(text, 'utf8'));
    same(Buffer.from([0x37, 0x2d, 0x38, 0x20, 0x72, 0x77, 0x2d, 0x70, 0x20, 0x30, 0x20, 0x30, 0x3a, 0x30, 0x20, 0x30, 0x20, 0xe2, 0x80, 0x0a])); // an invalid UTF-8 name
  });

  it('on generated lines, well-formed and mangled', () => {
    const hex = (max: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{1,${max}}$`));
    const name = fc.oneof(fc.constant(''), fc.string({ maxLength: 12 }), fc.constantFrom('[heap]', '[stack]', '[anon:x y]', '/lib/x.so (deleted)', '/p\u00e9'));
    const good = fc.tuple(hex(16), hex(16), fc.constantFrom('r-xp', 'rw-s', '---p', 'rwxs'), hex(17), hex(3), hex(3), fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.nat(3), name)
      .map(([a, b, p, o, ma, mi, ino, sp, n]) => `${a}-${b} ${p} ${o} ${ma}:${mi} ${ino}${n === '' && sp === 0 ? '' : ' '.repeat(sp + 1)}${n}`);
    const mangled = fc.tuple(good, fc.nat(60), fc.string({ minLength: 0, maxLength: 2 })).map(([l, at, s]) => l.slice(0, at) + s + l.slice(at + s.length));
    fc.assert(
      fc.property(fc.array(fc.oneof(good, mangled), { minLength: 1, maxLength: 6 }), fc.boolean(), (lines, newline) => {
        same(Buffer.from(lines.join('\n') + (newline ? '\n' : ''), 'utf8'));
        for (const l of lines) {
          const b = Buffer.from(l, 'latin1');
          expect(mapsLineAt(b, 0, b.length, 'latin1')).toEqual(parseMapsLine(b.toString('latin1')));
        }
      }),
      { numRuns: 400, seed: 26 },
    );
  });
});
