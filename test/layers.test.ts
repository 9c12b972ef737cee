/**
 * The house stays drawn: lib/'s import graph, read from the sources with the
 * TypeScript parser, against the layer rules of issue 14. Layers are ranked
 * bottom-up; a module may import from its own layer and any layer below.
 *
 *   base     lib/errors.ts, lib/validate.ts, lib/format.ts: no kernel, no binding
 *   native   lib/native/**: the binding, its types, the lab binary's loader
 *   kernel   lib/kernel/**: the only reader of /proc and /sys paths, and the probes of what this kernel has
 *   core     the system-call API: lib/mapping/**, lib/sharing/**, lib/process/**, lib/unsafe.ts
 *   measure  lib/measure/**
 *   arena    lib/arena/**
 *   explain  lib/explain/**
 *   metrics  lib/metrics/**: the pagewise/metrics entry (Prometheus, OpenTelemetry)
 *   api      lib/index.ts, the package's main entry
 *   lab      lib/bench/**, lib/experiments/**
 *   cli      lib/cli.ts, lib/cli/**: reaches lab only through its public index
 *
 * Layers are folders: at most six files stand at the top of lib/.
 *
 * Other rules: only a module under lib/native/ loads a `.node` binary
 * (`bindings`, `process.dlopen`, a `.node` path), and only lab modules
 * import the lab binary's loader (lib/native/lab* or bench/cnative); only
 * lib/kernel names a `/proc/` or `/sys/` path in a string (the `source` label
 * of an experiment's measurement, `m(name, value, unit, source)`, reads
 * nothing and is allowed).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { describe, expect, it } from 'vitest';

const LIB = path.join(__dirname, '..', 'lib');

const TOP_BASE = ['validate.ts', 'errors.ts', 'format.ts'];
const under = (...dirs: string[]) => (f: string): boolean => dirs.some((d) => f.startsWith(`${d}/`));
const LAYERS: [string, (f: string) => boolean][] = [
  ['base', (f) => TOP_BASE.includes(f)],
  ['native', under('native')],
  ['kernel', under('kernel')],
  ['core', (f) => under('mapping', 'sharing', 'process')(f) || f === 'unsafe.ts'],
  ['measure', under('measure')],
  ['arena', under('arena')],
  ['explain', under('explain')],
  ['metrics', under('metrics')],
  ['api', (f) => f === 'index.ts'],
  ['lab', under('bench', 'experiments')],
  ['cli', (f) => f === 'cli.ts' || f.startsWith('cli/')],
];
/** The public entries of the lab: the only lab modules the CLI may import. */
const LAB_PUBLIC = new Set(['experiments/index.ts', 'bench/index.ts']);
/** The lab binary's loaders (benchmark loops, the fork probe): only lab modules import them. */
const labNative = (f: string): boolean => f.startsWith('native/lab') || f === 'bench/cnative.ts';

type Rule = 'upward import' | 'cli imports lab internals' | 'lab binary outside the lab' | 'loads the binary' | 'reads /proc or /sys';

/**
 * Rule breaks the house accepts, each with its reason (an entry that matches
 * nothing fails the test, so the list cannot go stale). Each: file, rule,
 * what it names, why.
 */
const EXCEPTIONS: { file: string; rule: Rule; what: string; why: string }[] = [
  // Permanent: the loader runs below lib/kernel (which loads through it), so it cannot import a reader; it reads
  // /proc/self/maps once to tell musl from glibc before the binary loads.
  { file: 'native/binding.ts', rule: 'reads /proc or /sys', what: '/proc/self/maps', why: 'musl detection before the binary loads; lib/kernel sits above the loader' },
];

function rank(file: string): number {
  return LAYERS.findIndex(([, match]) => match(file));
}

function libFiles(dir = LIB): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...libFiles(p));
    else if (e.name.endsWith('.ts')) out.push(path.relative(LIB, p).split(path.sep).join('/'));
  }
  return out.sort();
}

/** A relative specifier's file under lib/, or `null` outside it or unresolved. */
function resolve(root: string, from: string, spec: string): string | null {
  const base = path.posix.join(path.posix.dirname(from), spec);
  for (const c of [`${base}.ts`, `${base}/index.ts`]) if (fs.existsSync(path.join(root, c))) return c;
  return null;
}

interface Finding {
  file: string;
  rule: Rule;
  what: string;
}

/** Every finding of the rules over `files` (paths relative to `root`, a lib/ tree). */
function findings(root: string, files: string[]): { found: Finding[]; unranked: string[]; unresolved: string[] } {
  const found: Finding[] = [];
  const unresolved: string[] = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const src = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const mayLoad = file.startsWith('native/');
    const visit = (node: ts.Node): void => {
      let spec: string | undefined;
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        spec = node.moduleSpecifier.text;
      } else if (ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteralLike(node.arguments[0]!)) {
        const callee = node.expression;
        if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) spec = (node.arguments[0] as ts.StringLiteralLike).text;
      }
      if (spec !== undefined) {
        if (spec.startsWith('.')) {
          const target = resolve(root, file, spec);
          if (target === null) unresolved.push(`${file}: ${spec}`);
          else {
            if (rank(target) > rank(file)) found.push({ file, rule: 'upward import', what: target });
            if (LAYERS[rank(file)]?.[0] === 'cli' && LAYERS[rank(target)]?.[0] === 'lab' && !LAB_PUBLIC.has(target)) {
              found.push({ file, rule: 'cli imports lab internals', what: target });
            }
            if (labNative(target) && !labNative(file) && LAYERS[rank(file)]?.[0] !== 'lab') found.push({ file, rule: 'lab binary outside the lab', what: target });
          }
        } else if ((spec === 'bindings' || spec === 'node-gyp-build' || spec.endsWith('.node')) && !mayLoad) {
          found.push({ file, rule: 'loads the binary', what: spec });
        }
      }
      if (!mayLoad && ts.isPropertyAccessExpression(node) && node.name.text === 'dlopen') found.push({ file, rule: 'loads the binary', what: 'dlopen' });
      if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node)) {
        const s = node.text;
        if (!mayLoad && /\.node$/.test(s) && !ts.isImportDeclaration(node.parent) && !ts.isExportDeclaration(node.parent)) {
          found.push({ file, rule: 'loads the binary', what: s });
        }
        if (!file.startsWith('kernel/') && /^\/(proc|sys)(\/\S*)?$/.test(s) && !isSourceLabel(node)) found.push({ file, rule: 'reads /proc or /sys', what: s });
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
  }
  return { found, unranked: files.filter((f) => rank(f) < 0), unresolved };
}

/** The fourth argument of `m(name, value, unit, source)`: where an experiment's number came from, a label. */
function isSourceLabel(node: ts.Node): boolean {
  const lit = ts.isTemplateHead(node) ? node.parent : node;
  const call = lit.parent;
  return ts.isCallExpression(call) && ts.isIdentifier(call.expression) && call.expression.text === 'm' && call.arguments[3] === lit;
}

const key = (f: { file: string; rule: string; what: string }): string => `${f.file} | ${f.rule} | ${f.what}`;

describe('the layers of lib/', () => {
  const files = libFiles();
  const { found, unranked, unresolved } = findings(LIB, files);
  const excepted = new Set(EXCEPTIONS.map(key));

  it('ranks every module and resolves every relative import', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(unranked).toEqual([]);
    expect(unresolved).toEqual([]);
  });

  it('keeps at most six files at the top of lib/ (the rest live in a folder named for its layer)', () => {
    expect(files.filter((f) => !f.includes('/')).length).toBeLessThanOrEqual(6);
  });

  it('has no import from a higher layer, no lab internals in the CLI, no binary loaded and no /proc path read outside their homes', () => {
    expect(found.map(key).filter((k) => !excepted.has(k))).toEqual([]);
  });

  it('keeps no stale exception', () => {
    const now = new Set(found.map(key));
    expect(EXCEPTIONS.map(key).filter((k) => !now.has(k))).toEqual([]);
  });

  it('sees each kind of violation (the rules can fail)', () => {
    // A synthetic lib/ tree with one violation of each rule.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pagewise-layers-'));
    const put = (file: string, lines: string[]): void => {
      fs.mkdirSync(path.join(root, path.dirname(file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), lines.join('\n'));
    };
    try {
      put('mapping/mapping.ts', ['export const mmap = 1;']);
      put('experiments/define.ts', ['export const defineExperiment = 1;']);
      put('experiments/index.ts', ["export { defineExperiment } from './define';"]);
      put('kernel/parse.ts', ["import { mmap } from '../mapping/mapping';", "export const p = mmap + require('node:fs').readFileSync('/proc/self/status').length;"]);
      put('cli/probe.ts', [
        "import { defineExperiment } from '../experiments/define';",
        "import { defineExperiment as d } from '../experiments';",
        "const b = require('bindings')('pagewise');",
        "export const t = require('node:fs').readFileSync(`/sys/kernel/mm/${b}`, 'utf8');",
        "export const n = process.dlopen;",
        'export { defineExperiment, d };',
      ]);
      put('experiments/x.ts', ["import { m } from './define';", "import { lab } from '../native/lab';", "m('Rss', 1, 'bytes', '/proc/self/smaps');"]);
      put('native/lab.ts', ["export const lab = require('bindings')('pagewise-lab');"]);
      put('measure/y.ts', ["import { lab } from '../native/lab';", 'export { lab };']);
      const r = findings(root, ['cli/probe.ts', 'experiments/x.ts', 'kernel/parse.ts', 'mapping/mapping.ts', 'measure/y.ts', 'native/lab.ts']);
      expect(r.unresolved).toEqual([]);
      expect(r.found.map(key).sort()).toEqual([
        'cli/probe.ts | cli imports lab internals | experiments/define.ts',
        'cli/probe.ts | loads the binary | bindings',
        'cli/probe.ts | loads the binary | dlopen',
        'cli/probe.ts | reads /proc or /sys | /sys/kernel/mm/',
        'kernel/parse.ts | upward import | mapping/mapping.ts',
        'measure/y.ts | lab binary outside the lab | native/lab.ts',
      ]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
