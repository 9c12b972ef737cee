/** MAP_DROPPABLE mappings and memfd_secret memory (secretMemory()), and their clean failure where the kernel lacks them. */
import { describe, expect, it } from 'vitest';
import { kernelHas, mmap, pageSize, queryMapping, secretMemory } from '../lib/index';
import { forcedOff } from './helpers/features';

const page = pageSize();

describe('MAP_DROPPABLE and memfd_secret', () => {
  it.skipIf(!kernelHas('droppable'))('droppable memory reads back what was written (until the kernel drops it under pressure); only anonymous private', () => {
    const m = mmap(4 * page, { droppable: true });
    m.view().fill(9);
    expect(m.view()[4 * page - 1]).toBe(9);
    m.unmap();
    expect(() => mmap(page, { droppable: true, shared: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('droppable turned off: ERR_FEATURE_UNAVAILABLE_ON_PLATFORM naming Linux 6.11', () => {
    const r = forcedOff('droppable', `pw.mmap(pw.pageSize(), { droppable: true })`);
    expect(r.out).toEqual({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/Linux 6\.11/) });
  });

  it.skipIf(!kernelHas('secretMemory'))('secretMemory: usable memory, shown as /secretmem in the maps', () => {
    const m = secretMemory(2 * page);
    m.view()[0] = 4;
    expect(m.view()[0]).toBe(4);
    expect(queryMapping(m.address)!.name).toMatch(/secretmem/);
    m.unmap();
  });

  it('secretMemory turned off: the error names secretmem.enable', () => {
    const r = forcedOff('secretMemory', `pw.secretMemory(pw.pageSize())`);
    expect(r.out).toEqual({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/secretmem\.enable=1/) });
  });
});
