/**
 * This process's memory at a stage boundary, for the log: resident set (now and peak), the
 * JS heap, memory held outside it (ArrayBuffers, Buffers) and the SEAL WebAssembly heap, in
 * MiB. Nodes log it after each start-up stage (universe, publication, labels, sync) so that
 * an operator sees which stage holds memory, and bench/memory.ts reports it per stage.
 */
import { sealHeapBytes } from '../crypto/bfv.ts';
import type { Logger } from './log.ts';

export interface MemoryFigures {
  rssMiB: number;
  peakRssMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
  sealHeapMiB: number;
}

const mib = (b: number): number => Math.round(b / 2 ** 20);

export function memoryFigures(): MemoryFigures {
  const m = process.memoryUsage();
  return {
    rssMiB: mib(m.rss), peakRssMiB: mib(process.resourceUsage().maxRSS * 1024), heapUsedMiB: mib(m.heapUsed),
    externalMiB: mib(m.external), arrayBuffersMiB: mib(m.arrayBuffers), sealHeapMiB: mib(sealHeapBytes()),
  };
}

/** Logs memoryFigures() with `stage` (msg 'memory'). */
export function logMemory(log: Logger, stage: string): void {
  log.info({ stage, memory: memoryFigures() }, 'memory');
}
