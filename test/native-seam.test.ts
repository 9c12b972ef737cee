/**
 * The one typed native seam: the keys of lib/native/binding.ts's `Native` interface
 * are exactly what the binary exports, so adding (or renaming) a system call
 * on one side without the other fails here rather than at a user's call.
 * The interface is read with the TypeScript compiler, not a regex.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { native, nativeOrigin } from '../lib/native/binding';

function interfaceKeys(file: string, name: string): string[] {
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  let keys: string[] | null = null;
  src.forEachChild((n) => {
    if (ts.isInterfaceDeclaration(n) && n.name.text === name) keys = n.members.map((m) => m.name!.getText(src));
  });
  if (!keys) throw new Error(`no interface ${name} in ${file}`);
  return keys;
}

describe('the native seam', () => {
  it("the Native interface's keys equal the binary's exports", () => {
    const declared = interfaceKeys(path.join(__dirname, '..', 'lib', 'native', 'binding.ts'), 'Native').sort();
    // `bindings` (the build/ fallback loader) adds the file it loaded as `path`.
    const exported = Object.keys(native).filter((k) => !(k === 'path' && nativeOrigin.kind === 'build')).sort();
    expect({ onlyInInterface: declared.filter((k) => !exported.includes(k)), onlyInBinary: exported.filter((k) => !declared.includes(k)) }).toEqual({ onlyInInterface: [], onlyInBinary: [] });
    expect(declared.length).toBeGreaterThan(20);
  });
});
