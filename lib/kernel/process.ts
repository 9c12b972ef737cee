/**
 * One file of another process's `/proc/PID` directory, read whole, with the
 * errors shaped as Node's system errors: a pid with no process (exited, never
 * was, or in another pid namespace) is `ESRCH`; the kernel's refusal keeps
 * its code (`EACCES`, `EPERM`: `hidepid`, ptrace checks).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { procPath } from './parse';

/** `err` with Node's system-error fields set: `code`, `errno` (negative, as Node reports it), `syscall`, `path`. */
function systemError(message: string, code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const err = new Error(message) as NodeJS.ErrnoException;
  err.code = code;
  const n = (os.constants.errno as Record<string, number>)[code];
  if (n !== undefined) err.errno = -n;
  err.syscall = syscall;
  err.path = path;
  return err;
}

/** The `ESRCH` error for a pid with no process behind it. */
export function noSuchProcess(pid: number, path: string, syscall: string): NodeJS.ErrnoException {
  return systemError(`no process ${pid} (${path}: the process has exited or is not visible from this pid namespace)`, 'ESRCH', syscall, path);
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
    if (e.code === 'ENOENT' || e.code === 'ESRCH') throw noSuchProcess(pid, path, e.syscall ?? 'open');
    if (e.code === 'EACCES' || e.code === 'EPERM') {
      throw systemError(`cannot read ${path}: ${e.code} (the kernel refused: /proc mounted with hidepid, or a ptrace access check)`, e.code, e.syscall ?? 'open', path);
    }
    throw e;
  }
  if (text.length === 0) throw noSuchProcess(pid, path, 'read');
  return text;
}
