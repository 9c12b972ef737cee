/**
 * Node's permission model (`node --permission`, stable from Node 22). A
 * process under it may load pagewise only with `--allow-addons`, and read
 * /proc from JS only with `--allow-fs-read` covering it; without them the
 * user gets an error that names the flag:
 * - no --allow-addons: the loader (lib/native/binding.ts) throws
 *   `ERR_PAGEWISE_PERMISSION` naming --allow-addons (Node's own
 *   ERR_DLOPEN_DISABLED says only "loading addons is disabled");
 * - no --allow-fs-read for /proc: the /proc readers fail with Node's
 *   `ERR_ACCESS_DENIED`, whose message names --allow-fs-read, while what is
 *   read natively (mincore, smaps_rollup, statm) keeps working;
 * - no --allow-fs-read for the package: Node refuses the require itself.
 * Each case runs in a child Node (the same binary as this test) with the
 * flags. Node 20 spells the flag --experimental-permission (and warns on
 * every run), so there the file is skipped, saying so.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DIST, ROOT } from './helpers/child';
import { HANG_GUARD_MS } from './helpers/child';

const major = Number(process.versions.node.split('.')[0]);
const supported = major >= 22;
if (!supported) {
  console.warn(`[skipped file] runtime-permission: Node ${process.version} has only --experimental-permission; the permission model is tested on Node 22+ (scripts/ci-runtimes.sh)`);
}

function child(flags: string[], code: string): { status: number | null; out: string; err: string } {
  const script = `let pw;\ntry { pw = require(${JSON.stringify(DIST)}); } catch (e) { console.log(JSON.stringify({ load: e.code, message: e.message })); process.exit(3); }\n${code}`;
  const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8', timeout: HANG_GUARD_MS, env: { ...process.env } });
  return { status: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}
const lastJson = (text: string): Record<string, unknown> => JSON.parse(text.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;

describe.skipIf(!supported)(`node --permission (Node ${process.version})`, () => {
  it('without --allow-addons: loading fails with ERR_PAGEWISE_PERMISSION naming --allow-addons', () => {
    const r = child(['--permission', '--allow-fs-read=*'], 'console.log(JSON.stringify({ loaded: true }));');
    expect(r.status).toBe(3);
    const j = lastJson(r.out);
    expect(j.load).toBe('ERR_PAGEWISE_PERMISSION');
    expect(j.message).toContain('--allow-addons');
  });

  it('without --allow-fs-read: Node refuses the require and names --allow-fs-read', () => {
    const r = child(['--permission', '--allow-addons'], 'console.log("loaded");');
    expect(r.status).not.toBe(0);
    expect(r.out).not.toContain('loaded');
    expect(r.out + r.err).toContain('ERR_ACCESS_DENIED');
    expect(r.out + r.err).toContain('--allow-fs-read');
  });

  it('with --allow-addons and the package readable: mappings work; JS reads of /proc fail naming --allow-fs-read', () => {
    const r = child(['--permission', '--allow-addons', `--allow-fs-read=${ROOT}`], `
      const page = pw.pageSize();
      const m = pw.mmap(4 * page);
      m.view()[0] = 1;
      const resident = m.residentPages();
      const exact = pw.rss({ exact: true }).source; // read natively: not under the permission model
      m.unmap();
      let proc;
      try { pw.readStatus(); proc = 'read'; } catch (e) { proc = { code: e.code, message: e.message }; }
      console.log(JSON.stringify({ resident, exact, proc }));
    `);
    expect(r.err).not.toContain('ERR_PAGEWISE');
    const j = lastJson(r.out);
    expect(j.resident).toBe(1);
    expect(j.exact).toBe('smaps_rollup');
    expect(j.proc).toMatchObject({ code: 'ERR_ACCESS_DENIED', message: expect.stringContaining('--allow-fs-read') });
    expect(r.status).toBe(0);
  });

  it('with --allow-addons and --allow-fs-read covering /proc: the /proc readers work', () => {
    const r = child(['--permission', '--allow-addons', `--allow-fs-read=${ROOT}`, '--allow-fs-read=/proc'], `
      const m = pw.mmap(pw.pageSize());
      const found = !!pw.findMapping(pw.readMaps(), m.address);
      const status = pw.readStatus();
      m.unmap();
      console.log(JSON.stringify({ found, status: typeof status }));
    `);
    expect(lastJson(r.out)).toEqual({ found: true, status: 'object' });
    expect(r.status).toBe(0);
  });
});
