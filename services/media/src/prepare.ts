/**
 * One-shot: prepares media's universe and its publication (or finds both reusable) in
 * CLEANROOM_STATE_DIR from CLEANROOM_DATA, then exits — the Kubernetes Job / init container
 * that runs before the media node (deploy/k8s/media/), so the node starts on a prepared
 * universe and is ready at once. Same settings and same on-disk format as the node
 * (universe-store.ts, publication-store.ts): the node that starts afterwards reuses both.
 * Needs no PKI and opens no port.
 *
 * Sharded (a Kubernetes Indexed Job, or N local processes): `--shard I --shards N` (I may come
 * from JOB_COMPLETION_INDEX, which an Indexed Job sets) prepares only shard I of N into the
 * shared state directory, under the epoch's one key, and skips the publication: the node
 * (or a later unsharded run) merges the complete shard set into the universe and publishes it.
 * Sharding needs CLEANROOM_UNIVERSE_EPOCH (every shard must name the same epoch). From a split
 * source (`{shard}` in CLEANROOM_DATA: universe-source.ts) shard I reads file I alone, and the
 * source must have exactly N files; from one CSV every shard reads it whole.
 * With CLEANROOM_SHARD_STORE (s3://bucket/prefix) the shards share no volume: each uploads what it
 * prepared, sealed, and removes it locally; the node downloads a complete set and merges it
 * (shard-store.ts). Every shard and the node then read the epoch's key from
 * CLEANROOM_UNIVERSE_KEY_FILE.
 * Exit codes: 0 prepared or reused, 2 configuration or input error.
 */
import { ConfigError, loadConfig } from '@cleanroom/shared/service/config.ts';
import { createLogger } from '@cleanroom/shared/service/log.ts';
import { openUniverse, prepareShard } from './universe-store.ts';
import { openPublication } from './publication-store.ts';
import { preparationInputs } from './shard-store.ts';

let config;
try {
  // This one-shot opens no admin port: the admin address (and its token rule) does not apply.
  config = loadConfig('media', { ...process.env, CLEANROOM_ADMIN_LISTEN: '127.0.0.1:0' });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`cleanroom media prepare: ${err.message}\n`);
  process.exit(2);
}
const log = createLogger('media', config.logLevel).child({ component: 'prepare' });

/** --shard I --shards N (I defaults to JOB_COMPLETION_INDEX); undefined when unsharded. */
function shardArgs(argv: string[], epoch: string | undefined): { index: number; count: number } | undefined {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const shards = flag('--shards');
  const shard = flag('--shard') ?? process.env.JOB_COMPLETION_INDEX;
  if (shards === undefined && flag('--shard') === undefined) return undefined;
  const count = Number(shards);
  const index = Number(shard);
  if (!Number.isInteger(count) || count < 1 || count > 65_536) throw new RangeError(`--shards: expected an integer in [1, 65536], got '${shards ?? ''}'`);
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`--shard: expected an integer in [0, ${count}), got '${shard ?? ''}'`);
  if (epoch === undefined) throw new RangeError('sharded preparation needs CLEANROOM_UNIVERSE_EPOCH: every shard must name the same epoch');
  return { index, count };
}

let shard;
try {
  shard = shardArgs(process.argv.slice(2), config.universeEpoch);
} catch (err) {
  process.stderr.write(`cleanroom media prepare: ${(err as Error).message}\n`);
  process.exit(2);
}
let inputs;
try {
  inputs = await preparationInputs(config);
} catch (err) {
  process.stderr.write(`cleanroom media prepare: ${(err as Error).message}\n`);
  process.exit(2);
}
if (shard) {
  try {
    const r = await prepareShard({ stateDir: config.stateDir, data: config.data!, idTypes: config.idTypes, epoch: config.universeEpoch!, log, threads: config.evalThreads, ...shard, ...inputs });
    const uploaded = r.uploaded ? { uploaded: { to: inputs.store!.address(`${config.universeEpoch}/shard-${shard.index}-of-${shard.count}`), files: r.uploaded.files, bytes: r.uploaded.bytes, seconds: Math.round(r.uploaded.seconds * 100) / 100 } } : {};
    process.stdout.write(`${JSON.stringify({ epoch: config.universeEpoch, shard: `${shard.index}/${shard.count}`, users: r.users, computed: r.computed, reused: r.reused, seconds: Math.round(r.seconds * 100) / 100, ...(r.unchanged ? { unchanged: true } : {}), ...uploaded })}\n`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`cleanroom media prepare: cannot prepare shard ${shard.index} of ${shard.count} from CLEANROOM_DATA=${config.data}${inputs.store ? ` into ${inputs.store.url}` : ''}: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
try {
  const opened = await openUniverse({
    stateDir: config.stateDir, data: config.data!, idTypes: config.idTypes, epoch: config.universeEpoch, log, threads: config.evalThreads, storePollMs: config.shardStorePollSeconds * 1000, ...inputs,
  });
  inputs.store?.close();
  const published = await openPublication({ stateDir: config.stateDir, universe: opened.universe, log, threads: config.evalThreads });
  const status = { ...opened.status, publication: { version: published.publication.version, reused: published.reused, ciphertexts: published.publication.ciphertexts.count } };
  process.stdout.write(`${JSON.stringify(status)}\n`);
  process.exit(0);
} catch (err) {
  log.fatal({ err: (err as Error).message }, 'cannot prepare the universe');
  process.stderr.write(`cleanroom media prepare: cannot prepare the universe from CLEANROOM_DATA=${config.data}: ${(err as Error).message}\n`);
  process.exit(2);
}
