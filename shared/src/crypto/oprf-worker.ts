/**
 * Worker-thread body for oprf-pool.ts `evaluateBatchParallel`: a long-lived pool worker that, for each
 * job, evaluates X25519(key, e) over one packed slice of elements and posts the packed results
 * back (transferred, not copied).
 *
 * A job (WorkerJob) carries an id, the 32 key bytes (a structured-clone copy, zeroed as soon as
 * the job ends), a transferred ArrayBuffer of count × 32 element bytes, and count. Every element
 * is validated again here (defence in depth; the caller has already validated the whole batch)
 * before the key touches it. Each job gets exactly one WorkerReply with the same id.
 *
 * Thread-safety: jobs run one at a time on this thread; nothing is shared with other threads.
 */
import { parentPort } from 'node:worker_threads';
import { ELEMENT_BYTES, InvalidElementError, isClamped, sodium, validateElement, x25519 } from './group.ts';
import type { WorkerJob, WorkerReply } from './oprf-pool.ts';

function run(job: WorkerJob): WorkerReply {
  const { id, key, packed, count } = job;
  try {
    if (!isClamped(key)) return { id, ok: false, message: 'expected a clamped 32-byte key, got something else' };
    if (!(packed instanceof ArrayBuffer) || !Number.isInteger(count) || packed.byteLength !== count * ELEMENT_BYTES) {
      return { id, ok: false, message: `expected ${count} packed elements, got ${packed?.byteLength} bytes` };
    }
    const inView = new Uint8Array(packed);
    const out = new ArrayBuffer(count * ELEMENT_BYTES);
    const outView = new Uint8Array(out);
    for (let i = 0; i < count; i++) {
      const e = inView.subarray(i * ELEMENT_BYTES, (i + 1) * ELEMENT_BYTES);
      validateElement(e, i);
      x25519(outView.subarray(i * ELEMENT_BYTES, (i + 1) * ELEMENT_BYTES), key, e, i);
    }
    return { id, ok: true, out };
  } catch (err) {
    if (err instanceof InvalidElementError) {
      const reply: WorkerReply = { id, ok: false, message: err.detail, reason: err.reason };
      if (err.index !== undefined) reply.index = err.index;
      return reply;
    }
    return { id, ok: false, message: err instanceof Error ? err.message : String(err) };
  } finally {
    if (key instanceof Uint8Array) sodium.sodium_memzero(key);
  }
}

if (parentPort === null) throw new Error('expected to run as a worker thread, got the main thread');
const port = parentPort;
port.on('message', (job: WorkerJob) => {
  const reply = run(job);
  port.postMessage(reply, reply.ok ? [reply.out] : []);
});
