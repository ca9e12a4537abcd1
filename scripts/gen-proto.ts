// Regenerates the TypeScript types of proto/ into shared/src/rpc/generated (committed).
// Run: make proto
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'shared/src/rpc/generated');
rmSync(out, { recursive: true, force: true });
const protos = readdirSync(join(root, 'proto/cleanroom/v1')).map((f) => `cleanroom/v1/${f}`);
execFileSync(
  join(root, 'node_modules/.bin/proto-loader-gen-types'),
  [
    '--longs=String', '--enums=String', '--defaults', '--oneofs', '--bytes=Buffer',
    '--keepCase=false', '--grpcLib=@grpc/grpc-js', '--targetFileExtension=.ts', '--importFileExtension=.ts',
    `--includeDirs=${join(root, 'proto')}`, `--outDir=${out}`, ...protos,
  ],
  { stdio: 'inherit', cwd: join(root, 'proto') },
);
// The generator names each source by its absolute path: make it relative, so the output does
// not depend on where the repository is checked out.
const rewrite = (dir: string): void => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) rewrite(p);
    else writeFileSync(p, readFileSync(p, 'utf8').replace(/^\/\/ Original file: .*?\/(proto\/cleanroom\/)/m, '// Original file: $1'));
  }
};
rewrite(out);
console.log(`generated types for ${protos.length} proto files into ${out}`);
