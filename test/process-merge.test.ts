/** memoryMerge(): the whole process opted in to KSM (PR_SET_MEMORY_MERGE, Linux 6.4 with CONFIG_KSM), or out. */
import { describe, expect, it } from 'vitest';
import { kernelHas, ksmStat, memoryMerge } from '../lib/index';
import { forcedOff, runChildWithEnv } from './helpers/features';


describe('memoryMerge (PR_SET_MEMORY_MERGE, Linux 6.4 with CONFIG_KSM)', () => {
  it.skipIf(!kernelHas('memoryMerge'))('sets, reads back and unsets the process-wide KSM opt-in; ksm_stat agrees (child)', () => {
    const r = runChildWithEnv({}, `
      const a = pw.memoryMergeEnabled(); const on = pw.memoryMerge(true); const b = pw.memoryMergeEnabled(); const k = pw.ksmStat();
      const off = pw.memoryMerge(false); const c = pw.memoryMergeEnabled(); const k2 = pw.ksmStat();
      console.log(JSON.stringify({ a, on, b, anyOn: k && k.mergeAny, off, c, anyOff: k2 && k2.mergeAny }));
    `);
    const hasLine = ksmStat()?.mergeAny !== null && ksmStat() !== null;
    expect(r.out).toEqual({ a: false, on: true, b: true, anyOn: hasLine ? true : null, off: false, c: false, anyOff: hasLine ? false : null });
  });

  it('refuses a non-boolean before any system call', () => {
    expect(() => memoryMerge(1 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('turned off: ERR_FEATURE_UNAVAILABLE_ON_PLATFORM naming Linux 6.4 and CONFIG_KSM, for both calls', () => {
    expect(forcedOff('memoryMerge', `pw.memoryMerge(true)`).out).toEqual({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/Linux 6\.4 .*CONFIG_KSM/) });
    expect(forcedOff('memoryMerge', `pw.memoryMergeEnabled()`).out).toEqual({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/Linux 6\.4/) });
  });
});
