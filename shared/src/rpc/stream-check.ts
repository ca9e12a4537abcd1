/**
 * The checks a node can make on each message of a streamed request as it arrives, before the
 * stream has ended and before the session's channel sees it: the signature under the
 * authenticated caller's pinned key, the addressing (sender = caller, receiver = this node),
 * and the shape of the stream — one session, one round, one payload type, chunk i at
 * position i, consecutive sequence numbers, nothing after the chunk marked last. A stream
 * failing any of them is refused at that message (the precise EnvelopeError /
 * INVALID_ARGUMENT), so unsigned or misaddressed junk is never buffered. The channel still
 * checks everything again in order (this does not consume sequence numbers).
 */
import { ProtocolError, type Party } from '../protocol/messages.ts';
import { openEnvelope, type Envelope, type Statement } from '../transcript/statement.ts';

/** Checks message `index` of one streamed call; keeps the state of that call. */
export type StreamCheck = (env: Envelope, index: number) => void;

/** A fresh checker for one streamed call from `caller` (its pinned key) to `me`. */
export function streamChecker(caller: Party, callerKey: Uint8Array, me: Party): StreamCheck {
  let first: Statement | undefined;
  let ended = false;
  return (env, index) => {
    if (ended) throw new ProtocolError('INVALID_ARGUMENT', `message ${index} of the stream follows the chunk marked last`);
    const s = openEnvelope(env, callerKey, { sender: caller, receiver: me });
    first ??= s;
    const where = `message ${index} of the stream`;
    if (s.sessionId !== first.sessionId) throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected session ${first.sessionId}, got ${s.sessionId}`);
    if (s.round !== first.round || s.payloadType !== first.payloadType) {
      throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected ${first.round} ${first.payloadType}, got ${s.round} ${s.payloadType}`);
    }
    if (s.chunk !== index) throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected chunk ${index}, got ${s.chunk}`);
    if (s.seq !== first.seq + index) throw new ProtocolError('INVALID_ARGUMENT', `${where}: expected sequence number ${first.seq + index}, got ${s.seq}`);
    ended = s.last;
  };
}
