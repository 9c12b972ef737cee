/**
 * The process's transparent huge page policy: `prctl(PR_SET_THP_DISABLE)`.
 * `'advised'` (Linux 6.18, `PR_THP_DISABLE_EXCEPT_ADVISED`) gives the process
 * huge pages only where it asked with `MADV_HUGEPAGE` (an arena's large
 * blocks, a mapping made with `hugePages: true`), even when the system runs
 * THP `always`: V8's heap and malloc's arenas stay in base pages. `'never'`
 * refuses THP everywhere in the process, `'default'` follows the system
 * (`/sys/kernel/mm/transparent_hugepage/enabled`). The setting is the whole
 * process's, is inherited by `fork` children and kept across `execve`.
 */
import { native } from '../native/binding';
import { requireFeature } from '../kernel/features';
import { readStatus } from '../kernel/status';
import { readThp } from '../kernel/thp';
import { checkOptions, checkString } from '../validate';
import { invalidValue } from '../errors';

/** A process's THP policy. */
export type ThpProcessMode = 'default' | 'advised' | 'never';

/** Options of {@link transparentHugePages}. */
export interface TransparentHugePagesOptions {
  /** The policy to set; omitted: only read the state. */
  mode?: ThpProcessMode;
}

/** The process's THP state, read back from the kernel. */
export interface TransparentHugePagesState {
  /** From `prctl(PR_GET_THP_DISABLE)`: 0 → `'default'`, 1 → `'never'`, 1 | PR_THP_DISABLE_EXCEPT_ADVISED → `'advised'`. */
  mode: ThpProcessMode;
  /** `THP_enabled` of /proc/self/status (Linux 6.1+): `false` only under `'never'` (`'advised'` still allows advised ranges); `null` where absent. */
  thpEnabled: boolean | null;
  /** The system's mode (`always`, `madvise`, `never`), `null` without THP. */
  system: string | null;
}

const MODES: readonly ThpProcessMode[] = ['default', 'advised', 'never'];

function state(): TransparentHugePagesState {
  const v = native.prctlGetThpDisable();
  const advised = native.givebackConstants.PR_THP_DISABLE_EXCEPT_ADVISED;
  const mode: ThpProcessMode = v & 1 ? (v & advised ? 'advised' : 'never') : 'default';
  const t = readStatus().fields['THP_enabled'];
  let system: string | null = null;
  try {
    system = readThp().mode;
  } catch {
    // no THP sysfs (containers may hide /sys): the process state still stands
  }
  return { mode, thpEnabled: typeof t === 'number' ? t !== 0 : null, system };
}

/**
 * Sets the process's THP policy when `options.mode` is given, then reads it
 * back. `'advised'` needs Linux 6.18 and throws `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`
 * naming it elsewhere; a refusal of the prctl (a seccomp policy) throws with
 * `code`, `errno` and `syscall: 'prctl'`.
 */
export function transparentHugePages(options?: TransparentHugePagesOptions): TransparentHugePagesState {
  const o = checkOptions<TransparentHugePagesOptions>('options', options, ['mode']);
  if (o.mode !== undefined) {
    const mode = checkString('options.mode', o.mode) as ThpProcessMode;
    if (!MODES.includes(mode)) throw invalidValue('options.mode', `must be one of ${MODES.map((m) => `'${m}'`).join(', ')}`, o.mode);
    if (mode === 'advised') {
      requireFeature('thpExceptAdvised');
      native.prctlSetThpDisable(1, native.givebackConstants.PR_THP_DISABLE_EXCEPT_ADVISED);
    } else native.prctlSetThpDisable(mode === 'never' ? 1 : 0, 0);
  }
  return state();
}
