/** Where the pagewise package is installed. @internal */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The folder of pagewise's own package.json (the published package has no
 * binding.gyp at its root, so the manifest's name is what identifies it), or
 * `null`. `onError` sees each failed read other than a missing or non-JSON
 * manifest's (it may throw, as the loader does for a permission refusal).
 */
export function packageRoot(onError?: (err: unknown) => void): string | null {
  let dir = __dirname;
  for (;;) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'pagewise') return dir;
    } catch (err) {
      // no package.json here (ENOENT) or not JSON: look further up
      onError?.(err);
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}
