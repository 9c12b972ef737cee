/**
 * explain reads a target's memory only where the pagemap shows the page
 * present (issue 25): scanning for malloc chunk headers never faults a page
 * in (reading an absent page through /proc/PID/mem would: the control
 * below shows it does).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { DIST } from './helpers/child';
import { ProcReader } from '../lib/kernel/reader';
import { pageSize } from '../lib/index';

describe('malloc header scan of another process', () => {
  it('reads no page the pagemap does not show present: 1 of 64 pages present before and after', async () => {
    const child = spawn(process.execPath, ['-e', `
      const pw = require(${JSON.stringify(DIST)});
      const P = pw.pageSize();
      const m = pw.mmap(64 * P);
      m.view().fill(9, 0, P); // the first page written, 63 never touched
      console.log(m.address.toString());
      setInterval(() => m, 1 << 30);
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    const page = pageSize();
    let reader: ProcReader | undefined;
    try {
      const start = BigInt(await new Promise<string>((resolve) => readline.createInterface({ input: child.stdout! }).once('line', resolve)));
      reader = new ProcReader(child.pid!); // after exec: its descriptors are of the program's memory
      const end = start + 64n * BigInt(page);
      reader.startMemoryReads(10_000);
      const scan = reader.mallocScan(start, end, page, false)!;
      expect(scan).toEqual({ bytes: 0, present: 1, presentInChunks: 0, whole: false });
      reader.startMemoryReads(0);
      expect(reader.presentPages(start, end, page)).toBe(1);
      // Control: a plain read of an absent page through /proc/PID/mem makes it present.
      const fd = fs.openSync(`/proc/${child.pid}/mem`, 'r');
      try {
        fs.readSync(fd, Buffer.alloc(16), 0, 16, Number(start) + 5 * page);
      } finally {
        fs.closeSync(fd);
      }
      reader.startMemoryReads(0);
      expect(reader.presentPages(start, end, page)).toBe(2);
    } finally {
      reader?.close();
      child.kill('SIGKILL');
    }
  });
});
