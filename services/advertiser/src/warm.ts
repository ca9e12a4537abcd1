/**
 * The advertiser node's start-up warm-up: the code of its sessions' token rounds run once on
 * synthetic data before the first session, so that the first session of a node (the bench's
 * W1) and the first of each kind (the lookup) do not pay, in their blind and tokens phases,
 * for running it unoptimised and for V8 compiling it on background threads (that CPU is the
 * process's, charged to whatever phase is running).
 *
 * What runs: the per-ID token path (protocol/token-rounds.ts warmTokenPath: hash to group,
 * blind, unblind, finalise), the lookup's label keys and box opening on the same elements,
 * and the message path of the BLIND, TOKENS and LOOKUP rounds — their batches encoded,
 * signed and sealed, then opened and decoded (SessionChannel, BlindedBatch, TokenBatch,
 * LabelBatch), between two throwaway channels under a throwaway signing key, with no
 * transcript — plus the encoders and decoders of the rounds' other payload types.
 *
 * Guarantees: runs before the node serves anything (no session exists yet); keeps nothing;
 * uses no key of the node (its identity, its transcripts and its store are untouched); it runs
 * uncounted (common/op-counts.ts): no primitive and no wire byte is tallied, so the warm-up is
 * no session's work and no traffic. Returns its CPU (all threads), which the entry point logs.
 */
import { randomElements } from '@cleanroom/shared/crypto/group.ts';
import { SigningKey } from '@cleanroom/shared/crypto/dsse.ts';
import { labelAd, labelKey, openLabel, randomLabelBox } from '@cleanroom/shared/crypto/label-box.ts';
import { uncounted } from '@cleanroom/shared/common/op-counts.ts';
import { utf8, warmTokenPath, WARM_IDS } from '@cleanroom/shared/protocol/token-rounds.ts';
import type { Party } from '@cleanroom/shared/protocol/messages.ts';
import {
  AbortCodec, BATCH_BYTES, BATCH_ITEMS, BlindedBatchCodec, joinBatches, LabelBatchCodec, OpenSessionCodec, SessionAcceptedCodec, SessionResultCodec, splitBatches, TokenBatchCodec,
} from '@cleanroom/shared/rpc/codec.ts';
import { SessionChannel } from '@cleanroom/shared/rpc/channel.ts';
import { warmPayloadTypes } from '@cleanroom/shared/rpc/proto.ts';
import { TOKEN_BYTES } from '@cleanroom/shared/common/token-set.ts';

/** Runs the warm-up (module header); returns its CPU in ms (process, all threads). */
export function warmAdvertiserPath(ids: number = WARM_IDS): number {
  const cpu0 = process.cpuUsage();
  uncounted(() => {
    warmTokenPath(ids);
    warmMessages(ids);
  });
  const used = process.cpuUsage(cpu0);
  return (used.user + used.system) / 1000;
}

function warmMessages(n: number): void {
  const key = SigningKey.generate(); // throwaway: both ends of the warm-up sign with it
  const peerKey = (_p: Party): Uint8Array => key.publicKey;
  const a = new SessionChannel({ party: 'advertiser', key, peerKey }, 'warm-up');
  const c = new SessionChannel({ party: 'broker', key, peerKey }, 'warm-up');
  warmPayloadTypes([OpenSessionCodec, SessionAcceptedCodec, SessionResultCodec, AbortCodec].map((x) => x.type));
  // BLIND: A's blinded elements out, the evaluations back
  const elements = randomElements(n);
  const blinded = joinBatches(c.openChunks(a.sealChunks('broker', 'BLIND', BlindedBatchCodec, splitBatches(elements, BATCH_ITEMS, BATCH_BYTES)), 'advertiser', ['BLIND'], BlindedBatchCodec), 'warm-up');
  const evaluated = joinBatches(a.openChunks(c.sealChunks('advertiser', 'BLIND', BlindedBatchCodec, splitBatches(blinded, BATCH_ITEMS, BATCH_BYTES)), 'broker', ['BLIND'], BlindedBatchCodec), 'warm-up');
  // TOKENS: the tokens out
  const tokens = evaluated.map((e) => e.subarray(0, TOKEN_BYTES));
  joinBatches(c.openChunks(a.sealChunks('broker', 'TOKENS', TokenBatchCodec, splitBatches(tokens, BATCH_ITEMS, BATCH_BYTES)), 'advertiser', ['TOKENS'], TokenBatchCodec), 'warm-up');
  // LOOKUP: label boxes back, opened with each ID's label key (random boxes: none opens)
  const boxes = tokens.map(() => randomLabelBox());
  const got = joinBatches(a.openChunks(c.sealChunks('advertiser', 'LOOKUP', LabelBatchCodec, splitBatches(boxes, BATCH_ITEMS, BATCH_BYTES)), 'broker', ['LOOKUP'], LabelBatchCodec), 'warm-up');
  got.forEach((box, i) => openLabel(labelKey(utf8(`warm-up-${i}`), evaluated[i]!), box, labelAd('warm-up', 'phone', tokens[i]!)));
}
