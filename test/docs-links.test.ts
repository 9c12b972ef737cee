/**
 * The front door and the reference stay connected: every relative link in
 * README.md and docs/*.md names a file that exists, every `#anchor` into a
 * Markdown file names one of its headings (as GitHub slugs them), and the
 * README stays short enough to read first (issue 23: at most 300 lines).
 *
 * Links inside fenced code blocks and inline code spans are not links.
 * Absolute URLs (`https:`, `mailto:`) are not checked: no network here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const README_MAX_LINES = 300;

/** The Markdown files whose links are checked, relative to the repository root. */
function checkedFiles(): string[] {
  const docs = fs.readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => path.join('docs', f));
  return ['README.md', ...docs];
}

/** The text's lines outside fenced code blocks (``` or ~~~), others blanked so line numbers stay. */
function proseLines(text: string): string[] {
  let fence: string | null = null;
  return text.split('\n').map((line) => {
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === null) {
      if (open) { fence = open[1]!; return ''; }
      return line;
    }
    if (open && open[1]![0] === fence[0] && open[1]!.length >= fence.length && line.trim() === open[1]) fence = null;
    return '';
  });
}

/** A line with its inline code spans removed (a link inside backticks is text). */
function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)[\s\S]*?\1/g, '');
}

/**
 * GitHub's heading anchor (github-slugger): the heading's text as rendered,
 * lower-cased, with everything but letters, marks, digits, `_`, `-` and
 * spaces removed, then spaces turned into `-`; a repeated slug gets `-1`,
 * `-2`, ... in order.
 */
function headingSlugs(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const slugs = new Set<string>();
  for (const line of proseLines(markdown)) {
    const m = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (!m) continue;
    const text = m[1]!
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
      .replace(/<[^>]+>/g, '') // inline HTML
      .replace(/`/g, '') // code spans: their content
      .replace(/\*/g, '') // emphasis
      .trim();
    const base = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, '').replace(/ /g, '-');
    const n = seen.get(base);
    slugs.add(n === undefined ? base : `${base}-${n}`);
    seen.set(base, (n ?? 0) + 1);
  }
  return slugs;
}

interface Link { line: number; target: string }

/** Inline links and images `[text](target "title")`, and reference definitions `[id]: target`. */
function linksIn(markdown: string): Link[] {
  const links: Link[] = [];
  proseLines(markdown).forEach((raw, i) => {
    const line = withoutCodeSpans(raw);
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) {
      links.push({ line: i + 1, target: m[1]!.replace(/^<|>$/g, '') });
    }
    const def = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(line);
    if (def) links.push({ line: i + 1, target: def[1]!.replace(/^<|>$/g, '') });
  });
  return links;
}

/** How the checker sees files: a file's text (null when unreadable), and whether a path exists. */
interface Files { read(p: string): string | null; exists(p: string): boolean }

const disk: Files = {
  read: (p) => {
    try { return fs.readFileSync(p, 'utf8'); } catch { return null; }
  },
  exists: (p) => fs.existsSync(p),
};

/**
 * What is wrong with the relative links of `file` (a path relative to
 * `root`), one message per broken link.
 */
function brokenLinks(root: string, file: string, files: Files): string[] {
  const text = files.read(path.join(root, file));
  if (text === null) return [`${file}: cannot be read`];
  const problems: string[] = [];
  for (const { line, target } of linksIn(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
    const hash = target.indexOf('#');
    const rawPath = hash === -1 ? target : target.slice(0, hash);
    const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
    const where = `${file}:${line}: ${target}`;
    if (rawPath.startsWith('/')) { problems.push(`${where}: an absolute path (links must be relative to work on GitHub)`); continue; }
    const resolved = rawPath === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), decodeURIComponent(rawPath));
    if (!files.exists(resolved)) { problems.push(`${where}: no such file`); continue; }
    if (anchor === null || !resolved.endsWith('.md')) continue;
    const targetText = files.read(resolved);
    if (targetText === null || !headingSlugs(targetText).has(anchor)) problems.push(`${where}: no heading with the anchor #${anchor}`);
  }
  return problems;
}

describe('documentation links', () => {
  it('README.md is at most 300 lines: the reference lives in docs/', () => {
    const lines = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').replace(/\n$/, '').split('\n').length;
    expect(lines).toBeLessThanOrEqual(README_MAX_LINES);
  });

  it('README.md links every page of docs/', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const linked = new Set(linksIn(readme).map((l) => l.target.split('#')[0]));
    const pages = checkedFiles().filter((f) => f !== 'README.md');
    expect(pages.filter((p) => !linked.has(p))).toEqual([]);
  });

  for (const file of checkedFiles()) {
    it(`every relative link in ${file} reaches a file, and every #anchor a heading`, () => {
      expect(brokenLinks(ROOT, file, disk)).toEqual([]);
    });
  }
});

describe('the checker itself', () => {
  it('slugs headings as GitHub does', () => {
    const slugs = headingSlugs([
      '# Mappings: `mmap`, `Mapping`, and the system calls',
      '## `mmap(length, options?)`',
      '### Arena by handle (issue 24, 2026-12-07)',
      "### Figures behind the arena's code",
      '## Operator figures: memoryUsage() and pagewise/metrics (issue 28)',
      '## `MADV_FREE` and [links](x.md)',
      '## Twice', '## Twice',
      '```sh', '# a comment in code, not a heading', '```',
    ].join('\n'));
    expect([...slugs]).toEqual([
      'mappings-mmap-mapping-and-the-system-calls',
      'mmaplength-options',
      'arena-by-handle-issue-24-2026-12-07',
      'figures-behind-the-arenas-code',
      'operator-figures-memoryusage-and-pagewisemetrics-issue-28',
      'madv_free-and-links',
      'twice', 'twice-1',
    ]);
  });

  it('reports a missing file, a missing heading and an absolute path, and ignores code and URLs', () => {
    const files: Record<string, string> = {
      [path.join('/r', 'README.md')]: [
        '[ok](docs/a.md#real-heading) [gone](docs/missing.md) [bad anchor](docs/a.md#no-such-heading)',
        '[self](#top) [abs](/etc/passwd) [web](https://example.com/x.md#y) `[code](nowhere.md)`',
        '```', '[fenced](nowhere.md)', '```',
        '# Top',
      ].join('\n'),
      [path.join('/r', 'docs', 'a.md')]: '# Real heading\n',
    };
    const table: Files = { read: (p) => files[p] ?? null, exists: (p) => p in files };
    expect(brokenLinks('/r', 'README.md', table)).toEqual([
      'README.md:1: docs/missing.md: no such file',
      'README.md:1: docs/a.md#no-such-heading: no heading with the anchor #no-such-heading',
      'README.md:2: /etc/passwd: an absolute path (links must be relative to work on GitHub)',
    ]);
  });
});
