/**
 * What every `pagewise` command shares: --version, one exit-code rule (0
 * success, 2 usage error, 1 failure), output that fits the terminal (80
 * columns when stdout is not one), nothing on a piped stderr, and `bench
 * --quick` labelled indicative, never MET or MISSED.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/child';
import { EXIT, UsageError, exitCodeOf, errorLine, table, terminalWidth, wrap } from '../lib/cli/support';
import { formatSystemReport, type SystemReport } from '../lib/cli/system-report';
import { gaveBack, plural } from '../lib/format';

const cli = path.join(ROOT, 'dist', 'lib', 'cli.js');
const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const commands = ['experiments', 'map', 'report', 'system', 'bench', 'explain'];

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30 * 60_000 }); // a hang guard, not a time limit
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('every command', () => {
  it('--version and -V print the version and exit 0, before anything runs', () => {
    for (const args of [['--version'], ['-V'], ...commands.map((c) => [c, '--version']), ['map', '-V']]) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout).toBe(`pagewise ${version} (Node ${process.version}, ${process.platform}-${process.arch})\n`);
      expect(r.stderr).toBe('');
    }
  });

  it('a bad flag is a usage error: exit 2, one line naming the command and pointing at --help', () => {
    for (const c of commands) {
      const r = run([c, '--bogus']);
      expect(r.status, c).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n'), c).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^pagewise ${c}: Unknown option '--bogus'.*\\(see 'pagewise ${c} --help'\\)\\n$`));
    }
    const v = run(['bench', '--runs', '0']);
    expect(v.status).toBe(2);
    expect(v.stderr).toMatch(/^pagewise bench: --runs must be an integer from 1 to 100000, got '0'/);
    const o = run(['bench', '--only', 'nope']);
    expect(o.status).toBe(2);
    expect(o.stderr).toMatch(/^pagewise bench: --only nope: no such benchmark or group\. Groups: syscall, .*'pagewise bench --list' names every benchmark/);
    expect(o.stderr).not.toMatch(/Received|The argument/);
    // A value that starts with '-' is taken for an option by parseArgs: the message says how to give it.
    const w = run(['explain', '--watch', '-1']);
    expect(w.status).toBe(2);
    expect(w.stderr).toBe("pagewise explain: --watch needs a value, and '-1' looks like an option: write --watch=-1 to give it (see 'pagewise explain --help')\n");
  });

  it('the rule is applied in one place: UsageError is 2, anything else 1', () => {
    expect(EXIT).toEqual({ ok: 0, failure: 1, usage: 2 });
    expect(exitCodeOf(new UsageError('x', 'map'))).toBe(2);
    expect(exitCodeOf(new Error('x'))).toBe(1);
    expect(exitCodeOf(Object.assign(new TypeError('bad'), { code: 'ERR_INVALID_ARG_VALUE' }))).toBe(1);
    expect(errorLine(new UsageError('--pages must be ...', 'map'))).toBe("pagewise map: --pages must be ... (see 'pagewise map --help')");
    expect(errorLine(Object.assign(new Error('mmap failed\nmore'), { code: 'ENOMEM' }))).toBe('pagewise: mmap failed (ENOMEM)');
  });

  it('--help fits 80 columns', () => {
    for (const args of [['--help'], ...commands.map((c) => [c, '--help'])]) {
      const r = run(args);
      expect(r.status).toBe(0);
      for (const l of r.stdout.split('\n')) expect(l.length, `${args.join(' ')}: ${l}`).toBeLessThanOrEqual(80);
    }
  });
});

// util-linux `script` runs the command on a pseudo-terminal: stderr is a TTY there.
const script = ['/usr/bin/script', '/bin/script'].find((f) => fs.existsSync(f));

describe('progress', () => {
  it('is written to stderr only when it is a terminal, and cleared before the results', () => {
    const piped = run(['experiments', '--only', '8']);
    expect(piped.status).toBe(0);
    expect(piped.stderr).toBe('');
    if (!script) {
      console.warn('[skipped assertion] progress on a terminal: util-linux script(1) is not installed');
      return;
    }
    const tty = spawnSync(script, ['-qec', `"${process.execPath}" "${cli}" experiments --only 8`, '/dev/null'], { encoding: 'utf8', timeout: 30 * 60_000 });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/^\r\x1b\[K\[1\/1\] Kernel memory is not your RSS\.\.\.\r\x1b\[Kpagewise /);
  });
});

describe('fitting the terminal', () => {
  it('the width is stdout.columns, 80 when unknown', () => {
    expect(terminalWidth({ columns: 132 })).toBe(132);
    expect(terminalWidth({})).toBe(80);
    expect(terminalWidth({ columns: 0 })).toBe(80);
  });

  it('wrap breaks at spaces with a hanging indent, and cuts only a word longer than a line', () => {
    expect(wrap('aaa bbb ccc ddd', 8)).toEqual(['aaa bbb', 'ccc ddd']);
    expect(wrap('aaa bbb ccc ddd', 10, '  ', '- ')).toEqual(['- aaa bbb', '  ccc ddd']);
    const long = wrap(`x ${'y'.repeat(30)} z`, 12, '  ');
    for (const l of long) expect(l.length).toBeLessThanOrEqual(12);
    expect(long.join('').replace(/ /g, '')).toBe(`x${'y'.repeat(30)}z`);
  });

  it('table pads columns and wraps the last one under itself when a row does not fit', () => {
    const rows = [['a', 'bb', 'the last column is long enough to wrap here']];
    expect(table(rows, 80)).toEqual(['a  bb  the last column is long enough to wrap here']);
    const narrow = table(rows, 30);
    expect(narrow).toEqual(['a  bb  the last column is long', '       enough to wrap here']);
  });

  it('pagewise system fits 80 columns piped, and any width from 40 as text', () => {
    const r = run(['system']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    for (const l of r.stdout.split('\n')) expect(l.length, l).toBeLessThanOrEqual(80);
    const json = JSON.parse(run(['system', '--json']).stdout) as SystemReport;
    for (const w of [40, 60, 100]) {
      const text = formatSystemReport(json, w);
      for (const l of text.split('\n')) expect(l.length, `${w}: ${l}`).toBeLessThanOrEqual(w);
      expect(text.replace(/\s+/g, ' ')).toContain(`${json.zeroFill.threadFaults} minor faults on this thread`);
    }
  });
});

describe('pagewise bench --quick', () => {
  it('labels its figures indicative and never prints MET or MISSED; fits 80 columns', () => {
    const r = run(['bench', '--quick', '--only', 'madvise-page', '--only', 'rss']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^quick run: one unwarmed round at tiny sizes, so every figure is indicative only/);
    expect(r.stdout).toMatch(/indicative/);
    expect(r.stdout).not.toMatch(/\bMISSED\b|\bMET\b/);
    for (const l of r.stdout.split('\n')) expect(l.length, l).toBeLessThanOrEqual(80);
    const json = JSON.parse(run(['bench', '--quick', '--json', '--only', 'madvise-page']).stdout) as { quick: boolean; results: { quick?: boolean; targets: { met: unknown }[] }[] };
    expect(json.quick).toBe(true);
    expect(json.results[0]!.quick).toBe(true);
    for (const t of json.results[0]!.targets) expect(t.met).toBeNull();
  });
});

describe('counts and changes read as a person wrote them', () => {
  it('one experiment, two faults; a give-back that grew says so', () => {
    expect([plural(1, 'experiment'), plural(2, 'experiment'), plural(0, 'fault'), plural(1, 'fault')]).toEqual(['1 experiment', '2 experiments', '0 faults', '1 fault']);
    expect([gaveBack(65536), gaveBack(-65536), gaveBack(0)]).toEqual(['gave back 64 KiB', 'gave back nothing (RSS grew by 64 KiB)', 'gave back nothing']);
  });
});
