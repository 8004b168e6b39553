import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { dataError } from '@parascan/core';

/**
 * The folder of an installed package. Resolves its entry point and walks up to the package.json that
 * names it (`pkg/package.json` cannot be resolved directly when the package's `exports` omit it).
 */
export function packageRoot(pkg: string): string {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch (err) {
    throw dataError('createDataset', pkg, 'the package is not installed', 'Install @parascan/train with its dependencies, or give a file with `path`.', err);
  }
  for (let dir = dirname(entry); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === pkg) return dir;
      } catch {
        /* not this one */
      }
    }
    if (dirname(dir) === dir) break;
  }
  throw dataError('createDataset', pkg, `no package.json naming it above ${entry}`, 'Reinstall the package.');
}
