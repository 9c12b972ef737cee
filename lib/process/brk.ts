/** The program break (end of the brk heap). */
import { native } from '../native/binding';

/**
 * The current program break, `sbrk(0)`. Safe: it only reads. Moving the
 * break is in {@link unsafe} because glibc's malloc owns it.
 */
export function programBreak(): bigint {
  return native.sbrk0();
}
