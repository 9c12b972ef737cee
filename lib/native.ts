/**
 * The one place the binary is loaded: `prebuilds/<platform>-<arch>/` first
 * (prebuildify, Node-API: one binary serves every Node version), else the
 * node-gyp build found by `bindings`. A node-gyp build newer than the
 * prebuilds wins (you just compiled it). Setting `PAGEWISE_FROM_SOURCE=1`
 * skips the prebuilds (the test suite does, so it tests what it just
 * compiled); `PAGEWISE_BINARY=/path/file.node` loads exactly that file.
 * @internal
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import bindings from 'bindings';

declare const regionBrand: unique symbol;
/** Opaque handle of a native Region (one mmap'd range). @internal */
export interface RegionHandle {
  readonly [regionBrand]: true;
}

/** The native syscall layer; see native/pagewise.h for its contract. @internal */
export interface Native {
  mmap(length: number, prot: number, flags: number, fd: number, offset: number, hint: bigint, report: number): RegionHandle;
  munmap(r: RegionHandle): number;
  regionBuffer(r: RegionHandle, offset: number, length: number): ArrayBuffer;
  regionDetach(r: RegionHandle, offset: number, length: number): number;
  detachArrayBuffer(ab: ArrayBuffer): void;
  regionAddress(r: RegionHandle): bigint;
  regionRemap(r: RegionHandle, offset: number, length: number, prot: number, flags: number): void;
  unsafeMmapFixed(addr: bigint, length: number, prot: number, flags: number, fd: number, offset: number): RegionHandle;
  mprotect(r: RegionHandle, offset: number, length: number, prot: number): void;
  madvise(r: RegionHandle, offset: number, length: number, advice: number): void;
  madviseProbe(advice: number): number;
  mincore(r: RegionHandle, offset: number, length: number, vec: Uint8Array | null): number;
  mlock(r: RegionHandle, offset: number, length: number, onFault: number): void;
  munlock(r: RegionHandle, offset: number, length: number): void;
  msync(r: RegionHandle, offset: number, length: number, flags: number): void;
  prctlSetVmaAnonName(r: RegionHandle, offset: number, length: number, name: string | null): void;
  sbrk0(): bigint;
  sbrk(increment: number): bigint;
  brk(addr: bigint): void;
  getrusage(who: number, out: Float64Array): void;
  pageSize(): number;
  gettid(): number;
  constants: Record<string, number>;
  // Other concerns (measure.cc, probe.cc, cbench.cc) add their functions;
  // their lib/ modules declare the types they use.
  [name: string]: unknown;
}

function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'binding.gyp')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`pagewise: cannot find the package root above ${__dirname}`);
    dir = up;
  }
}

/** `PAGEWISE_FROM_SOURCE` set to anything but '', '0' or 'false'. */
function fromSourceRequested(): boolean {
  const v = process.env.PAGEWISE_FROM_SOURCE;
  return v !== undefined && v !== '' && v !== '0' && v !== 'false';
}

/** Which file the addon was loaded from. @internal */
export interface NativeOrigin {
  /** Absolute path of the loaded `.node` file. */
  file: string;
  /** `prebuild` (shipped under `prebuilds/`) or `build` (node-gyp, `build/`). */
  kind: 'prebuild' | 'build';
}

function mtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Whether `built` exists and is newer than every `.node` file in `dir`. */
function newerThanPrebuilds(built: string, dir: string): boolean {
  const t = mtime(built);
  if (!t) return false;
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.node'));
  } catch {
    return false;
  }
  return files.length > 0 && files.every((f) => mtime(path.join(dir, f)) < t);
}

function loadNative(): { binding: Native; origin: NativeOrigin } {
  const tag = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') {
    throw new Error(`pagewise: Linux only (x86-64, arm64); this is ${tag}`);
  }
  const root = packageRoot();
  const requireNative = createRequire(__filename);
  // PAGEWISE_BINARY=/path/to/pagewise.node loads exactly that file (the
  // sanitizer build of `npm run test:asan`).
  const explicit = process.env.PAGEWISE_BINARY;
  if (explicit) {
    const file = path.resolve(explicit);
    return { binding: requireNative(file) as Native, origin: { file, kind: 'build' } };
  }
  const prebuildDir = path.join(root, 'prebuilds', tag);
  const tried: string[] = [];
  const built = path.join(root, 'build', 'Release', 'pagewise.node');
  type Loaded = { binding: Native; origin: NativeOrigin };
  const fromPrebuilds = (): Loaded | null => {
    if (!fs.existsSync(prebuildDir)) {
      let shipped: string[] = [];
      try {
        shipped = fs.readdirSync(path.join(root, 'prebuilds'));
      } catch {
        // no prebuilds/ at all: a development checkout
      }
      tried.push(`prebuilds/${tag}: none shipped${shipped.length ? ` (this package has: ${shipped.join(', ')})` : ''}`);
      return null;
    }
    const files = fs.readdirSync(prebuildDir).filter((f) => f.endsWith('.node'));
    files.sort((a, b) => Number(b.includes('napi')) - Number(a.includes('napi')));
    for (const f of files) {
      const file = path.join(prebuildDir, f);
      try {
        return { binding: requireNative(file) as Native, origin: { file, kind: 'prebuild' } };
      } catch (err) {
        tried.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    if (!files.length) tried.push(`${prebuildDir}: no .node file`);
    return null;
  };
  const fromBuild = (): Loaded | null => {
    try {
      const binding = bindings({ bindings: 'pagewise.node', module_root: root }) as Native;
      return { binding, origin: { file: fs.existsSync(built) ? built : path.join(root, 'build'), kind: 'build' } };
    } catch (err) {
      const msg = (err as Error).message;
      tried.push(`build/Release/pagewise.node: ${msg.startsWith('Could not locate the bindings file') ? 'not built' : msg.split('\n')[0]}`);
      return null;
    }
  };
  let found: Loaded | null;
  if (fromSourceRequested()) {
    tried.push(`prebuilds/${tag}: skipped (PAGEWISE_FROM_SOURCE=${process.env.PAGEWISE_FROM_SOURCE})`);
    found = fromBuild();
  } else if (newerThanPrebuilds(built, prebuildDir)) {
    // A local node-gyp build made after the prebuilds is tried first: it is
    // what the user just compiled (in a checkout, stale prebuilds would
    // otherwise shadow every native change). When it does not load (built
    // for another architecture, a broken build), the prebuilds still serve.
    found = fromBuild() ?? fromPrebuilds();
  } else {
    found = fromPrebuilds() ?? fromBuild();
  }
  if (found) return found;
  const e = new Error(
    `pagewise: no usable binary for ${tag} (Node ${process.version}, needs Node-API ${NAPI_VERSION}).\n` +
      `Tried:\n  ${tried.join('\n  ')}\n` +
      `Build it from source (needs python3, make and a C++ compiler, e.g. apt-get install python3 make g++):\n` +
      `  cd ${root} && npx --yes node-gyp rebuild\n` +
      `or let npm run the package's install script, which builds when no prebuild loads:\n` +
      `  npm install-scripts approve pagewise && npm rebuild pagewise`,
  );
  (e as Error & { code: string }).code = 'ERR_PAGEWISE_NO_BINARY';
  throw e;
}

/** The Node-API version the binary is built for (binding.gyp NAPI_VERSION, package.json binary.napi_versions). @internal */
export const NAPI_VERSION = 8;

const loaded = loadNative();

/** Where the addon was loaded from. @internal */
export const nativeOrigin: NativeOrigin = loaded.origin;

/** The loaded addon. @internal */
export const native: Native = loaded.binding;
