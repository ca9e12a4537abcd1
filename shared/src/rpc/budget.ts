/**
 * ByteBudget: how many bytes of streamed requests a node may hold at once, over all calls.
 *
 * Each streaming call takes bytes from the budget as its messages arrive and gives them back
 * when its handler has finished with them; a call that would overdraw it is refused at
 * once (RESOURCE_EXHAUSTED, for that call only), so many peers streaming together can never
 * buffer more than `limit` bytes in total. Single-threaded (one event loop); not shared
 * between worker threads.
 */
import { ProtocolError } from '../protocol/messages.ts';

export class ByteBudget {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit <= 0) throw new Error(`expected a positive byte limit, got ${limit}`);
    this.limit = limit;
  }

  /** Bytes currently taken by calls in progress. */
  get used(): number {
    return this.#used;
  }

  /** Takes `n` bytes for `what`, or throws RESOURCE_EXHAUSTED (taking nothing). */
  take(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`expected a byte count, got ${n}`);
    if (this.#used + n > this.limit) {
      throw new ProtocolError('RESOURCE_EXHAUSTED', `${what}: the node already buffers ${this.#used} bytes of streamed requests (limit ${this.limit} for all calls together); retry later`);
    }
    this.#used += n;
  }

  /** Gives back `n` bytes taken earlier. */
  release(n: number): void {
    this.#used = Math.max(0, this.#used - n);
  }
}
