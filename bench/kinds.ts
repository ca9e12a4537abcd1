/**
 * The hook for per-kind bench figures. A session kind adds `bench/<kind>.bench.ts` whose
 * default export is a KindBench: it runs ONE session of its kind on the running cluster (the
 * three node processes of `make bench`, the benchmark world in `worldDir`) and returns the
 * session id, its end-to-end seconds and any figures of its own. bench.ts then reads every
 * party's per-phase metrics of that session (partyMetrics) and adds each phase's floor and
 * floorRatio, exactly as for the W1 look-alike session. Register it with one line in
 * bench.ts's KIND_BENCHES.
 */
import type { Cluster } from '../cli/src/cluster.ts';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';
import type { Primitive } from '@cleanroom/shared/common/op-counts.ts';

export interface KindBenchContext {
  cluster: Cluster;
  worldDir: string;
  say: (line: string) => void;
}

export interface KindBenchResult {
  sessionId: string;
  seconds: number;
  /** Figures of this kind (counts, sizes, quality), stored as they are in results.json. */
  figures?: Record<string, unknown>;
}

export type KindBench = (ctx: KindBenchContext) => Promise<KindBenchResult>;

export interface PhaseMetrics {
  wallMs: number;
  cpuMs: number;
  /** CPU of the node's main thread alone (cpuMs − this: V8's background GC and compiler threads, worker threads). */
  mainThreadCpuMs?: number;
  /** Primitives counted in the phase (common/op-counts.ts). */
  ops: Partial<Record<Primitive, number>>;
}

export interface PartyMetrics {
  phases: Record<string, PhaseMetrics>;
  wallMs: number;
  cpuMs: number;
  bytesSent: Record<string, number>;
  bytesSentTotal: number;
  bytesReceivedTotal: number;
  peakRssBytes: number;
}

/** Every party's view of one session, summed per party. */
export async function partyMetrics(cluster: Cluster, sessionId: string): Promise<Record<Party, PartyMetrics>> {
  const out = {} as Record<Party, PartyMetrics>;
  for (const party of ['advertiser', 'broker', 'media'] as const) {
    const view = await cluster.nodes[party].admin.request<{ metrics: { phases: Record<string, PhaseMetrics>; bytes: { sent: Record<string, number>; received: Record<string, number> }; peakRssBytes: number } }>('GET', `/v1/sessions/${sessionId}`);
    const m = view.metrics;
    const phases = Object.fromEntries(Object.entries(m.phases).map(([k, v]) => [k, { wallMs: v.wallMs, cpuMs: v.cpuMs, ...(v.mainThreadCpuMs === undefined ? {} : { mainThreadCpuMs: v.mainThreadCpuMs }), ops: v.ops ?? {} }]));
    out[party] = {
      phases,
      wallMs: Object.values(phases).reduce((s, x) => s + x.wallMs, 0),
      cpuMs: Object.values(phases).reduce((s, x) => s + x.cpuMs, 0),
      bytesSent: m.bytes.sent,
      bytesSentTotal: Object.values(m.bytes.sent).reduce((s, x) => s + x, 0),
      bytesReceivedTotal: Object.values(m.bytes.received).reduce((s, x) => s + x, 0),
      peakRssBytes: m.peakRssBytes,
    };
  }
  return out;
}
