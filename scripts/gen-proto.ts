// Regenerates the TypeScript types of proto/ into shared/src/rpc/generated (committed).
// Run: npm run proto  (or: make proto)
import { execFileSync } from 'node:child_process';
import { rmSync, readdirSync } from 'node:fs';
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
console.log(`generated types for ${protos.length} proto files into ${out}`);
