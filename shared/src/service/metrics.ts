/**
 * The node's Prometheus metrics (prom-client), served as `GET /metrics` by the admin API
 * under the same bearer-token rule as every other admin route.
 *
 * One registry per process (`nodeMetrics`): in a deployment a process is one party's node,
 * and `initNodeMetrics(party)` labels every series with `party` and adds prom-client's
 * default process metrics. What is measured, and where it is hooked:
 * - sessions started / ended by kind and outcome, phase wall-time histograms: the
 *   SessionRegistry (create, phase change, finish) calls `sessionStarted`, `phaseEnded`,
 *   `sessionEnded`;
 * - OPRF evaluations, BFV operations, wire bytes per direction, peer and round: plain
 *   tallies kept by the crypto and rpc layers (common/op-counts.ts), read at scrape time;
 * - universe size, epoch and preparation progress: set by media (preparation) and the
 *   broker (universe sync) through `universe`;
 * - the privacy budget spent and left per (advertiser, media, epoch): the broker's ledger,
 *   read at scrape time through `privacyBudgets`;
 * - the bytes available on the state volume (statfs at scrape time, `stateVolume`) and the
 *   broker's failed universe syncs by status code (`universeSyncFailed`).
 * Metric names and meanings are listed in docs/operations.md ("Metrics").
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { opCounts, wireBytes, type BfvOp, type Direction } from '../common/op-counts.ts';
import { availableBytes } from './volume.ts';

/**
 * How often the event-loop lag histogram (`cleanroom_nodejs_eventloop_lag_*`) samples, ms.
 * prom-client's default, 10 ms, wakes the process 100 times a second: ≈4-5 ms of CPU per
 * second on an idle node (measured on the 2-core bench machine with a bare process: 4.4 ms/s
 * at 10 ms, 1.1 ms/s at 100 ms), which `make bench` charged to whatever session phase was
 * waiting (21× the advertiser's floor in a retargeting session waiting 48 s). At 100 ms every
 * stall of 100 ms or more is still seen.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** Phase durations from 10 ms to 30 min (a session on 10^8 users runs for minutes). */
const PHASE_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

export interface PrivacyBudget {
  advertiser: string;
  media: string;
  epoch: string;
  epsilonSpent: number;
  epsilonRemaining: number;
}

export type UniversePreparation = 'idle' | 'preparing' | 'prepared' | 'reused' | 'failed';

export class NodeMetrics {
  readonly registry = new Registry();
  private processMetrics = false;
  private readonly started: Counter<'kind'>;
  private readonly ended: Counter<'kind' | 'outcome'>;
  private readonly phases: Histogram<'phase'>;
  private universeInUse: (() => { epoch: string; users: number } | undefined) | undefined;
  private budgets: (() => Promise<PrivacyBudget[]>) | undefined;
  private readonly prepRows: Gauge;
  private readonly prepSeconds: Gauge;
  private prepState: UniversePreparation = 'idle';
  private readonly syncFailures: Counter<'code'>;
  private stateDir: string | undefined;

  constructor() {
    const registers = [this.registry];
    this.started = new Counter({ name: 'cleanroom_sessions_started_total', help: 'Sessions this node took part in, by kind', labelNames: ['kind'], registers });
    this.ended = new Counter({
      name: 'cleanroom_sessions_ended_total', help: 'Sessions ended, by kind and outcome (completed, cohort-too-small, failed)', labelNames: ['kind', 'outcome'], registers,
    });
    this.phases = new Histogram({
      name: 'cleanroom_session_phase_seconds', help: 'Wall time this node spent in each session phase', labelNames: ['phase'], buckets: PHASE_BUCKETS, registers,
    });
    new Counter({
      name: 'cleanroom_oprf_evaluations_total', help: 'Blinded elements evaluated under the universe OPRF key in sessions (media)', registers,
      collect() {
        this.reset();
        this.inc(opCounts.oprfEvaluations);
      },
    });
    new Counter<'op'>({
      name: 'cleanroom_bfv_ciphertexts_total', help: 'BFV ciphertexts handled, by operation (encrypt, decrypt, aggregate)', labelNames: ['op'], registers,
      collect() {
        this.reset();
        for (const [op, n] of Object.entries(opCounts.bfv) as [BfvOp, number][]) this.inc({ op }, n);
      },
    });
    new Counter<'direction' | 'peer' | 'round'>({
      name: 'cleanroom_session_bytes_total', help: 'Signed session message bytes (statement + payload + signatures), by direction, peer and round',
      labelNames: ['direction', 'peer', 'round'], registers,
      collect() {
        this.reset();
        for (const [k, n] of wireBytes) {
          const [direction, peer, round] = k.split('|') as [Direction, string, string];
          this.inc({ direction, peer, round }, n);
        }
      },
    });
    const current = () => this.prepState;
    const inUse = () => this.universeInUse?.();
    new Gauge({
      name: 'cleanroom_universe_users', help: 'Users in the prepared universe (media) or tokens in the synced universe table (broker)', registers,
      collect() {
        const u = inUse();
        if (u) this.set(u.users);
        else this.reset();
      },
    });
    new Gauge<'epoch'>({
      name: 'cleanroom_universe_epoch_info', help: 'Universe key epoch in use (value 1, epoch as label)', labelNames: ['epoch'], registers,
      collect() {
        this.reset();
        const u = inUse();
        if (u) this.set({ epoch: u.epoch }, 1);
      },
    });
    new Gauge<'state'>({
      name: 'cleanroom_universe_preparation_state', help: 'Media universe preparation: 1 for the current state (idle, preparing, prepared, reused, failed)', labelNames: ['state'], registers,
      collect() {
        for (const s of ['idle', 'preparing', 'prepared', 'reused', 'failed'] as const) this.set({ state: s }, s === current() ? 1 : 0);
      },
    });
    const readBudgets = () => this.budgets?.() ?? Promise.resolve([]);
    new Gauge<'advertiser' | 'media' | 'epoch'>({
      name: 'cleanroom_privacy_epsilon_remaining', help: 'Broker: privacy budget (epsilon) left per advertiser, media and universe epoch, from the ledger', labelNames: ['advertiser', 'media', 'epoch'], registers,
      async collect() {
        this.reset();
        for (const b of await readBudgets()) this.set({ advertiser: b.advertiser, media: b.media, epoch: b.epoch }, b.epsilonRemaining);
      },
    });
    new Gauge<'advertiser' | 'media' | 'epoch'>({
      name: 'cleanroom_privacy_epsilon_spent', help: 'Broker: privacy budget (epsilon) spent in the current window per advertiser, media and universe epoch', labelNames: ['advertiser', 'media', 'epoch'], registers,
      async collect() {
        this.reset();
        for (const b of await readBudgets()) this.set({ advertiser: b.advertiser, media: b.media, epoch: b.epoch }, b.epsilonSpent);
      },
    });
    this.prepRows = new Gauge({ name: 'cleanroom_universe_preparation_rows', help: 'Universe CSV rows read so far by the current or last preparation (media)', registers });
    this.prepSeconds = new Gauge({ name: 'cleanroom_universe_preparation_seconds', help: 'Duration of the last universe preparation (0 when reused)', registers });
    this.syncFailures = new Counter({ name: 'cleanroom_universe_sync_failures_total', help: 'Broker: universe syncs that failed, by status code (RESOURCE_EXHAUSTED: a full state volume)', labelNames: ['code'], registers });
    const stateDir = () => this.stateDir;
    new Gauge({
      name: 'cleanroom_state_volume_available_bytes', help: 'Bytes available to the node on its state volume (CLEANROOM_STATE_DIR), read at scrape time', registers,
      collect() {
        const dir = stateDir();
        try {
          if (dir) this.set(availableBytes(dir));
          else this.reset();
        } catch {
          this.reset(); // a volume that cannot be read (gone, no permission): no value, the scrape goes on
        }
      },
    });
  }

  /** The node's state directory, whose volume's available bytes are read at scrape time. */
  stateVolume(dir: string): void {
    this.stateDir = dir;
  }

  /** A failed universe sync (broker), by status code ('UNKNOWN' for an error without one). */
  universeSyncFailed(code: string): void {
    this.syncFailures.inc({ code });
  }

  /** Labels every series with the node's party and adds the default process metrics (once). */
  init(party: string): void {
    this.registry.setDefaultLabels({ party });
    if (!this.processMetrics) {
      collectDefaultMetrics({ register: this.registry, prefix: 'cleanroom_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
      this.processMetrics = true;
    }
  }

  sessionStarted(kind: string): void {
    this.started.inc({ kind });
  }

  sessionEnded(kind: string, outcome: string): void {
    this.ended.inc({ kind, outcome });
  }

  phaseEnded(phase: string, wallMs: number): void {
    this.phases.observe({ phase }, wallMs / 1000);
  }

  /** Universe preparation progress (media) and the universe in use (media and broker). */
  readonly universe = {
    preparing: (): void => {
      this.prepState = 'preparing';
      this.prepRows.set(0);
    },
    rowsRead: (rows: number): void => {
      this.prepRows.set(rows);
    },
    failed: (): void => {
      this.prepState = 'failed';
    },
    prepared: (p: { reused: boolean; preparedSeconds: number }): void => {
      this.prepState = p.reused ? 'reused' : 'prepared';
      this.prepSeconds.set(p.preparedSeconds);
    },
    /** Where the universe in use is read at scrape time (undefined while there is none). */
    inUse: (read: () => { epoch: string; users: number } | undefined): void => {
      this.universeInUse = read;
    },
  };

  /** Where the privacy ledger's standing is read at scrape time (the broker). */
  privacyBudgets(read: () => Promise<PrivacyBudget[]>): void {
    this.budgets = read;
  }

  /** The Prometheus text exposition of every metric. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** This process's metrics. */
export const nodeMetrics = new NodeMetrics();
