/**
 * This process's memory at a stage boundary, for the log: resident set (now and peak), the
 * JS heap, memory held outside it (ArrayBuffers, Buffers) and the SEAL WebAssembly heap, in
 * MiB; on Linux also the resident set split into anonymous memory (heap, malloc, worker stacks:
 * what the process really holds) and file-backed pages (mapped files, the binary: clean page
 * cache the kernel reclaims under pressure), from /proc/self/status. Nodes log it after each start-up stage (universe, publication, labels, sync) so that
 * an operator sees which stage holds memory, and bench/memory.ts reports it per stage.
 */
import { sealHeapBytes } from '../crypto/bfv.ts';
import { readFileSync } from 'node:fs';
import type { Logger } from './log.ts';

export interface MemoryFigures {
  rssMiB: number;
  peakRssMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
  sealHeapMiB: number;
  /** Anonymous / file-backed / shared-memory resident pages (Linux only). */
  rssAnonMiB?: number;
  rssFileMiB?: number;
  rssShmemMiB?: number;
}

/** RssAnon, RssFile and RssShmem of /proc/<pid>/status in bytes; undefined off Linux or for a gone process. */
export function residentSplit(pid: number | 'self' = 'self'): { anon: number; file: number; shmem: number; rss: number; hwm: number } | undefined {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return undefined; }
  const kb = (k: string): number => Number(/^(\S+):\s+(\d+) kB$/m.exec(text.split('\n').find((l) => l.startsWith(`${k}:`)) ?? '')?.[2] ?? NaN) * 1024;
  const r = { anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem'), rss: kb('VmRSS'), hwm: kb('VmHWM') };
  return Object.values(r).every(Number.isFinite) ? r : undefined;
}

/**
 * V8 options every node process runs with (NODE_OPTIONS: deploy/Dockerfile, cli/src/cluster.ts;
 * a test keeps them equal). On a host with many GB of RAM V8 sizes each isolate's young
 * generation from the machine, up to 2 × 64 MiB semi-spaces per isolate (the main thread and
 * every worker thread), and grows it whenever a stage allocates fast — media's preparation and
 * label publication, the broker's sync: about 130 MiB of resident memory per isolate that a
 * node never gives back, more on a loaded machine. 16 MiB semi-spaces bound that at 32 MiB per
 * isolate; at 200,000 users the preparation and label publication take the same CPU with it
 * (bench/memory.ts; docs/operations.md "Sizing").
 */
export const NODE_HEAP_OPTIONS = '--max-semi-space-size=16';

/** `env`'s NODE_OPTIONS with NODE_HEAP_OPTIONS added (kept when an operator set their own --max-semi-space-size). */
export function withNodeHeapOptions(nodeOptions: string | undefined): string {
  const own = (nodeOptions ?? '').trim();
  return own.includes('--max-semi-space-size') ? own : `${own} ${NODE_HEAP_OPTIONS}`.trim();
}

const mib = (b: number): number => Math.round(b / 2 ** 20);

export function memoryFigures(): MemoryFigures {
  const m = process.memoryUsage();
  const split = residentSplit();
  return {
    rssMiB: mib(m.rss), peakRssMiB: mib(process.resourceUsage().maxRSS * 1024), heapUsedMiB: mib(m.heapUsed),
    externalMiB: mib(m.external), arrayBuffersMiB: mib(m.arrayBuffers), sealHeapMiB: mib(sealHeapBytes()),
    ...(split ? { rssAnonMiB: mib(split.anon), rssFileMiB: mib(split.file), rssShmemMiB: mib(split.shmem) } : {}),
  };
}

/** Logs memoryFigures() with `stage` (msg 'memory'). */
export function logMemory(log: Logger, stage: string): void {
  log.info({ stage, memory: memoryFigures() }, 'memory');
}
