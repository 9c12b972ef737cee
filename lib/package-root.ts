/** Where the pagewise package is installed. @internal */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The package's root folder (its package.json is named pagewise: the published package has no root binding.gyp), or `null`. */
export function packageRoot(): string | null {
  let dir = __dirname;
  for (;;) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'pagewise') return dir;
    } catch {
      // no package.json here
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}
