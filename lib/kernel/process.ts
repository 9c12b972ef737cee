/**
 * One file of another process's `/proc/PID` directory, read whole, with the
 * errors shaped as Node's system errors: a pid with no process (exited, never
 * was, or in another pid namespace) is `ESRCH`; the kernel's refusal keeps
 * its code (`EACCES`, `EPERM`: `hidepid`, ptrace checks).
 */
import * as fs from 'node:fs';
import { procPath } from './parse';
import { noSuchProcess, systemError } from '../errors';

/** The `ESRCH` error for a pid with no process behind it. */
function gone(pid: number, path: string, syscall: string): NodeJS.ErrnoException {
  return noSuchProcess(pid, `${path}: the process has exited or is not visible from this pid namespace`, syscall, path);
}

/**
 * `/proc/PID/NAME` as text (latin1: the files are ASCII apart from a
 * process's own name). Throws `ESRCH` (syscall `open`) when the directory
 * is gone, `ESRCH` (syscall `read`) when the file reads empty (the process
 * exited between open and read), and the kernel's own error otherwise.
 */
export function readProcessFile(pid: number, name: string): string {
  const path = procPath(pid, name);
  let text: string;
  try {
    text = fs.readFileSync(path, 'latin1');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'ESRCH') throw gone(pid, path, e.syscall ?? 'open');
    if (e.code === 'EACCES' || e.code === 'EPERM') {
      throw systemError(e.code, e.syscall ?? 'open', `cannot read ${path}: ${e.code} (the kernel refused: /proc mounted with hidepid, or a ptrace access check)`, { path });
    }
    throw e;
  }
  if (text.length === 0) throw gone(pid, path, 'read');
  return text;
}
