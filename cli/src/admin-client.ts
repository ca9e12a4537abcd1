/**
 * A small client of a node's admin API (used by `cleanroom session …` and `simulate`):
 * start a session at the advertiser, poll its status until it ends, fetch its result.
 * Problem+json errors become exceptions carrying the server's detail.
 */
export class AdminError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** How long one status long poll may be held by the node (below its 30 s cap and the client's request timeout). */
const LONG_POLL_MS = 10_000;

export class AdminClient {
  readonly base: string;
  private readonly token: string | undefined;
  constructor(base: string, token?: string) {
    this.base = base.replace(/\/$/, '');
    this.token = token;
  }

  /** One admin call; `timeoutMs` (default 30 s) bounds it (a bench on a loaded machine may allow more). */
  async request<T>(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new AdminError(0, `cannot reach ${this.base}: ${(err as Error).cause ? String((err as Error & { cause: Error }).cause.message) : (err as Error).message}`);
    }
    const text = await res.text();
    const json = text ? JSON.parse(text) : undefined;
    if (!res.ok) throw new AdminError(res.status, `${method} ${path}: ${res.status} ${json?.detail ?? json?.title ?? text}`);
    return json as T;
  }

  /** GET a non-JSON document (a lookup's CSV); errors are problem+json as everywhere. */
  async text(path: string): Promise<{ contentType: string; body: string }> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {}, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new AdminError(0, `cannot reach ${this.base}: ${(err as Error).message}`);
    }
    const body = await res.text();
    if (!res.ok) {
      let detail = body;
      try {
        detail = (JSON.parse(body) as { detail?: string }).detail ?? body;
      } catch {
        // not JSON
      }
      throw new AdminError(res.status, `GET ${path}: ${res.status} ${detail}`);
    }
    return { contentType: res.headers.get('content-type') ?? '', body };
  }

  async waitReady(timeoutMs: number): Promise<Record<string, unknown>> {
    const end = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < end) {
      try {
        const res = await fetch(`${this.base}/readyz`, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {}, signal: AbortSignal.timeout(5000) });
        const body = (await res.json()) as Record<string, unknown>;
        if (res.ok) return body;
        last = JSON.stringify(body);
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new AdminError(0, `${this.base} not ready after ${timeoutMs} ms (${last})`);
  }

  async waitSession(id: string, timeoutMs: number, onPhase?: (s: SessionStatus) => void): Promise<SessionStatus> {
    const end = Date.now() + timeoutMs;
    let phase = '';
    for (;;) {
      // A long poll: the node answers when the session leaves `phase` (at once the first time),
      // so watching costs it one request per phase, not five a second.
      const wait = phase ? `?phase=${encodeURIComponent(phase)}&waitMs=${Math.max(0, Math.min(LONG_POLL_MS, end - Date.now()))}` : '';
      const s = await this.request<SessionStatus>('GET', `/v1/sessions/${id}${wait}`);
      if (s.phase !== phase) {
        phase = s.phase;
        onPhase?.(s);
      }
      if (s.status !== 'running') return s;
      if (Date.now() > end) throw new AdminError(0, `session ${id} still running after ${timeoutMs} ms (phase ${s.phase})`);
    }
  }
}

export interface SessionStatus {
  sessionId: string;
  phase: string;
  status: 'running' | 'completed' | 'cohort-too-small' | 'failed';
  progress: Record<string, number>;
  error?: string;
}
