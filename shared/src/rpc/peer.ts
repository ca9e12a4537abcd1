/**
 * Peer: the one interface a node uses to call another node — `call(method, envelopes)`.
 * PeerClient (grpc.ts) implements it over gRPC; `inMemoryPeer` calls a node's handlers
 * directly (tests run the three nodes in one process with exactly the same envelopes).
 */
import type { Envelope } from '../transcript/statement.ts';
import type { Party } from '../protocol/messages.ts';
import { callersOf, type Handler, type Handlers } from './grpc.ts';
import type { MethodName, ServiceName } from '../common/methods.ts';
import { ProtocolError } from '../protocol/messages.ts';

/** A peer serving service S; `call` takes only S's methods (a misspelt method does not compile). */
export interface Peer<S extends ServiceName = ServiceName> {
  call(method: MethodName<S>, request: Envelope[], deadlineMs?: number): Promise<Envelope[]>;
  /**
   * The same call, its reply handed to `each` one envelope at a time as it arrives (a
   * server-streamed reply is then never held whole; the broker's universe sync pages). An
   * error `each` throws ends the call and is what this rejects with. Optional: callEach()
   * below falls back to `call` for a peer without it.
   */
  callEach?(method: MethodName<S>, request: Envelope[], each: (env: Envelope) => void, deadlineMs?: number): Promise<void>;
}

/** `peer.callEach` where the peer has it; else `call`, then `each` on every envelope of the reply in order. */
export async function callEach<S extends ServiceName>(peer: Peer<S>, method: MethodName<S>, request: Envelope[], each: (env: Envelope) => void, deadlineMs?: number): Promise<void> {
  if (peer.callEach) return peer.callEach(method, request, each, deadlineMs);
  for (const env of await peer.call(method, request, deadlineMs)) each(env);
}

export function inMemoryPeer<S extends ServiceName>(service: S, caller: Party, handlers: () => Partial<Handlers<S>>): Peer<S> {
  return {
    async call(method, request) {
      const allowed = callersOf(service, method);
      if (!allowed.includes(caller)) throw new ProtocolError('PERMISSION_DENIED', `${service}.${method} may be called by ${allowed.join(' or ')}, not by ${caller}`);
      const byName: Readonly<Partial<Record<string, Handler>>> = handlers();
      const h = byName[method];
      if (!h) throw new ProtocolError('NOT_FOUND', `no handler for ${service}.${method}`);
      // Copy the bytes, as a wire would: no shared buffers between nodes.
      const copy = (e: Envelope): Envelope => ({
        statement: e.statement.slice(), payload: e.payload.slice(), signatures: e.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig.slice() })),
      });
      return (await h(caller, request.map(copy))).map(copy);
    },
  };
}
