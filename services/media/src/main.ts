/** Entry point of the media node (B): prepare or reuse the universe, then serve the broker. */
import { boot, serve } from '@cleanroom/shared/service/main.ts';
import { openUniverse, type UniverseStatus } from './universe-store.ts';
import { MediaNode } from './node.ts';
import { closeOprfWorkers, prepareOprfWorkers } from '@cleanroom/shared/crypto/oprf.ts';

const b = boot('media');
let status: UniverseStatus | undefined;
let node: MediaNode | undefined;
try {
  const opened = await openUniverse({ stateDir: b.config.stateDir, data: b.config.data!, idTypes: b.config.idTypes, epoch: b.config.universeEpoch, log: b.log, threads: b.config.evalThreads });
  status = opened.status;
  node = new MediaNode({
    identity: b.identity, universe: opened.universe, stateDir: b.config.stateDir, transcriptDir: b.config.transcriptDir,
    deadlineMs: b.config.deadlineMs, maxPaddedCount: b.config.maxPaddedCount, evalThreads: b.config.evalThreads, log: b.log,
  });
} catch (err) {
  b.log.fatal({ err: (err as Error).message }, 'cannot prepare the universe');
  process.stderr.write(`cleanroom media: cannot prepare the universe from CLEANROOM_DATA=${b.config.data}: ${(err as Error).message}\n`);
  process.exit(2);
}
await prepareOprfWorkers(b.config.evalThreads);
await serve(b, 'Media', node.handlers(), {
  sessions: node.sessions as never,
  ready: () => ({ ready: status !== undefined, detail: { universe: status } }),
}, undefined, () => {
  node?.close();
  void closeOprfWorkers();
});
