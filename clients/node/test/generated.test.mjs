// The committed generated types match the .proto (as `make check-protos` does for Python).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));

function files(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
}

test('src/generated matches protos/ (run `npm run gen` after a proto change)', () => {
  const out = mkdtempSync(join(tmpdir(), 'avatar-bridge-gen-'));
  try {
    const gen = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')).scripts.gen;
    const args = gen
      .split(' ')
      .slice(1)
      .map((arg) => (arg.startsWith('--outDir=') ? `--outDir=${out}` : arg));
    execFileSync(join(PACKAGE, 'node_modules', '.bin', 'proto-loader-gen-types'), args, {
      cwd: PACKAGE,
    });
    const committed = join(PACKAGE, 'src', 'generated');
    assert.deepEqual(files(out), files(committed));
    for (const file of files(out)) {
      assert.equal(
        readFileSync(join(out, file), 'utf8'),
        readFileSync(join(committed, file), 'utf8'),
        file,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
