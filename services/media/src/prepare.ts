/**
 * One-shot: prepares media's universe and its publication (or finds both reusable) in
 * CLEANROOM_STATE_DIR from CLEANROOM_DATA, then exits — the Kubernetes Job / init container
 * that runs before the media node (deploy/k8s/media/), so the node starts on a prepared
 * universe and is ready at once. Same settings and same on-disk format as the node
 * (universe-store.ts, publication-store.ts): the node that starts afterwards reuses both.
 * Needs no PKI and opens no port.
 * Exit codes: 0 prepared or reused, 2 configuration or input error.
 */
import { ConfigError, loadConfig } from '@cleanroom/shared/service/config.ts';
import { createLogger } from '@cleanroom/shared/service/log.ts';
import { openUniverse } from './universe-store.ts';
import { openPublication } from './publication-store.ts';

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
try {
  const opened = await openUniverse({
    stateDir: config.stateDir, data: config.data!, idTypes: config.idTypes, epoch: config.universeEpoch, log, threads: config.evalThreads,
  });
  const published = await openPublication({ stateDir: config.stateDir, universe: opened.universe, log });
  const status = { ...opened.status, publication: { version: published.publication.version, reused: published.reused, ciphertexts: published.publication.ciphertexts.count } };
  process.stdout.write(`${JSON.stringify(status)}\n`);
  process.exit(0);
} catch (err) {
  log.fatal({ err: (err as Error).message }, 'cannot prepare the universe');
  process.stderr.write(`cleanroom media prepare: cannot prepare the universe from CLEANROOM_DATA=${config.data}: ${(err as Error).message}\n`);
  process.exit(2);
}
