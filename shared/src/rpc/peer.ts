/**
 * Peer: the one interface a node uses to call another node — `call(method, envelopes)`.
 * PeerClient (grpc.ts) implements it over gRPC; `inMemoryPeer` calls a node's handlers
 * directly (tests run the three nodes in one process with exactly the same envelopes).
 */
import type { Envelope } from '../transcript/statement.ts';
import type { Party } from '../protocol/messages.ts';
import type { Handler } from './grpc.ts';
import { ROLE_TABLE, type ServiceName } from './grpc.ts';
import { ProtocolError } from '../protocol/messages.ts';

export interface Peer {
  call(method: string, request: Envelope[], deadlineMs?: number): Promise<Envelope[]>;
}

export function inMemoryPeer(service: ServiceName, caller: Party, handlers: () => Record<string, Handler>): Peer {
  return {
    async call(method, request) {
      const allowed = ROLE_TABLE[service][method] ?? [];
      if (!allowed.includes(caller)) throw new ProtocolError('PERMISSION_DENIED', `${service}.${method} may be called by ${allowed.join(' or ')}, not by ${caller}`);
      const h = handlers()[method];
      if (!h) throw new ProtocolError('NOT_FOUND', `no handler for ${service}.${method}`);
      // Copy the bytes, as a wire would: no shared buffers between nodes.
      const copy = (e: Envelope): Envelope => ({
        statement: e.statement.slice(), payload: e.payload.slice(), signatures: e.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig.slice() })),
      });
      return (await h(caller, request.map(copy))).map(copy);
    },
  };
}
