/** Text formatting shared by the lab and the CLI: bytes, wrapped lines, tables fitted to a width. */

const MiB = 1024 * 1024;
/** Human-readable bytes. */
export function fmtBytes(n: number): string {
  const a = Math.abs(n);
  if (a >= 1024 * MiB) return `${(n / 1024 / MiB).toFixed(1)} GiB`;
  if (a >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (a >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

/**
 * Wraps text to `width` columns at spaces; `indent` starts every line after
 * the first (a hanging indent). A word longer than a line is cut, the only
 * place a word is broken.
 */
export function wrap(text: string, width: number, indent = '', first = ''): string[] {
  const lines: string[] = [];
  let line = first;
  let prefixLen = first.length;
  const room = (): number => Math.max(8, width - prefixLen);
  for (const word0 of text.split(/ +/)) {
    let word = word0;
    const body = line.slice(prefixLen);
    if (body.length > 0 && body.length + 1 + word.length > room()) {
      lines.push(line);
      line = indent;
      prefixLen = indent.length;
    }
    while (word.length > room()) {
      const cur = line.slice(prefixLen);
      const cut = room() - cur.length - (cur ? 1 : 0);
      if (cut <= 0) {
        lines.push(line);
        line = indent;
        prefixLen = indent.length;
        continue;
      }
      line += (cur ? ' ' : '') + word.slice(0, cut);
      word = word.slice(cut);
      lines.push(line);
      line = indent;
      prefixLen = indent.length;
    }
    if (word) line += (line.length > prefixLen ? ' ' : '') + word;
  }
  if (line.length > prefixLen || lines.length === 0) lines.push(line);
  return lines;
}

/**
 * A table that fits `width` columns: columns padded to their widest cell;
 * when the whole row does not fit, the last column wraps under itself, and
 * when even that leaves it under 20 columns, every row puts its first cell
 * on a line of its own and the other columns, still aligned, on the lines
 * below it (indented by four).
 */
export function table(rows: string[][], width: number, gap = 2): string[] {
  return laidOut(rows, width, gap).flat();
}

/** {@link table}'s lines, row by row. */
function laidOut(rows: string[][], width: number, gap: number): string[][] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const lead = widths.slice(0, -1).reduce((s, w) => s + w + gap, 0);
  if (widths.length > 1 && width - lead < 20) {
    // Too wide to keep the columns beside the first one: the first cell above, the rest (aligned) below it.
    const rest = laidOut(rows.map((r) => r.slice(1)), width - 4, gap);
    return rows.map((r, i) => {
      const first = r[0] ?? '';
      const top = first.trimEnd().length <= width ? [first.trimEnd()] : wrap(first.trim(), width, '  ');
      return [...top, ...rest[i]!.filter((l) => l.trim() !== '').map((l) => `    ${l}`)];
    });
  }
  return rows.map((r) => {
    const head = r.slice(0, -1).map((c, i) => c.padEnd(widths[i]! + gap)).join('');
    const last = r[r.length - 1] ?? '';
    return lead + last.length <= width ? [`${head}${last}`.trimEnd()] : wrap(last, width, ' '.repeat(lead), head);
  });
}

/** `1 experiment`, `2 experiments`: a count with its noun, plural unless the count is one. */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}

/** What an RSS change did, in words: `gave back 64 KiB`, `grew by 64 KiB` (a negative give-back), `changed nothing`. */
export function gaveBack(bytes: number): string {
  if (bytes > 0) return `gave back ${fmtBytes(bytes)}`;
  if (bytes < 0) return `gave back nothing (RSS grew by ${fmtBytes(-bytes)})`;
  return 'gave back nothing';
}
