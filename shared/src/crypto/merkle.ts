/**
 * RFC 6962 §2.1 Merkle trees (the Certificate Transparency hashing), SHA-256.
 *
 * leaf hash = SHA-256(0x00 || data), node hash = SHA-256(0x01 || left || right); the empty
 * tree's root is SHA-256(""). A tree of n > 1 leaves splits at k, the largest power of two
 * smaller than n. Inclusion proofs are RFC 6962 §2.1.1 audit paths and consistency proofs are
 * §2.1.2 proofs; both verifiers follow RFC 9162 §2.1.3.2 / §2.1.4.2 and return `false` (never
 * throw) on any malformed proof, index or size.
 *
 * Checkpoints in cleanroom transcripts carry `merkleRoot(statement bytes of the session's
 * messages)`; an auditor recomputes it from the transcript lines alone.
 * All inputs are leaf *data* (not hashes) except where a parameter is named `...Root`/`proof`.
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** A 32-byte SHA-256 digest. */
export type Hash32 = Uint8Array;

function assertBytes(x: unknown, what: string): Uint8Array {
  if (!(x instanceof Uint8Array)) throw new Error(`expected ${what} to be a Uint8Array, got ${x === null ? 'null' : typeof x}`);
  return x;
}

function assertLeaves(leaves: unknown): Uint8Array[] {
  if (!Array.isArray(leaves)) throw new Error(`expected leaves to be an array, got ${typeof leaves}`);
  leaves.forEach((l, i) => assertBytes(l, `leaves[${i}]`));
  return leaves as Uint8Array[];
}

function assertSize(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new Error(`expected ${what} to be a non-negative integer, got ${String(n)}`);
  return n;
}

export function leafHash(data: Uint8Array): Hash32 {
  assertBytes(data, 'leaf data');
  const buf = new Uint8Array(1 + data.length);
  buf[0] = 0x00;
  buf.set(data, 1);
  return sha256(buf);
}

export function nodeHash(left: Hash32, right: Hash32): Hash32 {
  assertBytes(left, 'left');
  assertBytes(right, 'right');
  const buf = new Uint8Array(1 + left.length + right.length);
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return sha256(buf);
}

/** Largest power of two strictly smaller than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function rootOfHashes(h: Hash32[], lo: number, hi: number): Hash32 {
  const n = hi - lo;
  if (n === 1) return h[lo] as Hash32;
  const k = splitPoint(n);
  return nodeHash(rootOfHashes(h, lo, lo + k), rootOfHashes(h, lo + k, hi));
}

/** Merkle Tree Hash of the leaf data. */
export function merkleRoot(leaves: Uint8Array[]): Hash32 {
  assertLeaves(leaves);
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  return rootOfHashes(leaves.map(leafHash), 0, leaves.length);
}

function path(m: number, h: Hash32[], lo: number, hi: number): Hash32[] {
  const n = hi - lo;
  if (n <= 1) return [];
  const k = splitPoint(n);
  if (m < k) return [...path(m, h, lo, lo + k), rootOfHashes(h, lo + k, hi)];
  return [...path(m - k, h, lo + k, hi), rootOfHashes(h, lo, lo + k)];
}

/** Audit path of leaf `index` in the tree of `leaves` (RFC 6962 §2.1.1), leaf-to-root order. */
export function inclusionProof(index: number, leaves: Uint8Array[]): Hash32[] {
  assertLeaves(leaves);
  assertSize(index, 'index');
  if (index >= leaves.length) throw new Error(`expected index < tree size ${leaves.length}, got ${index}`);
  return path(index, leaves.map(leafHash), 0, leaves.length);
}

/** Whether `proof` shows `leafData` at `index` in the tree of `treeSize` leaves with `root`. */
export function verifyInclusion(leafData: Uint8Array, index: number, treeSize: number, proof: Hash32[], root: Hash32): boolean {
  try {
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) return false;
    if (!Array.isArray(proof) || !proof.every((p) => p instanceof Uint8Array && p.length === 32)) return false;
    if (!(root instanceof Uint8Array) || root.length !== 32) return false;
    // RFC 9162 §2.1.3.2
    let fn = index;
    let sn = treeSize - 1;
    let r = leafHash(leafData);
    for (const p of proof) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        r = nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(r, root);
  } catch {
    return false;
  }
}

function subproof(m: number, h: Hash32[], lo: number, hi: number, complete: boolean): Hash32[] {
  const n = hi - lo;
  if (m === n) return complete ? [] : [rootOfHashes(h, lo, hi)];
  const k = splitPoint(n);
  if (m <= k) return [...subproof(m, h, lo, lo + k, complete), rootOfHashes(h, lo + k, hi)];
  return [...subproof(m - k, h, lo + k, hi, false), rootOfHashes(h, lo, lo + k)];
}

/** Consistency proof between the first `oldSize` leaves and all `leaves` (RFC 6962 §2.1.2). */
export function consistencyProof(oldSize: number, leaves: Uint8Array[]): Hash32[] {
  assertLeaves(leaves);
  assertSize(oldSize, 'oldSize');
  if (oldSize > leaves.length) throw new Error(`expected oldSize <= tree size ${leaves.length}, got ${oldSize}`);
  if (oldSize === 0 || oldSize === leaves.length) return [];
  return subproof(oldSize, leaves.map(leafHash), 0, leaves.length, true);
}

/** Whether `proof` shows the tree (`oldSize`, `oldRoot`) is a prefix of (`newSize`, `newRoot`). */
export function verifyConsistency(oldSize: number, newSize: number, oldRoot: Hash32, newRoot: Hash32, proof: Hash32[]): boolean {
  try {
    if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize) || oldSize < 0 || oldSize > newSize) return false;
    if (!Array.isArray(proof) || !proof.every((p) => p instanceof Uint8Array && p.length === 32)) return false;
    if (!(oldRoot instanceof Uint8Array) || !(newRoot instanceof Uint8Array) || oldRoot.length !== 32 || newRoot.length !== 32) return false;
    // RFC 6962 §2.1.2 defines PROOF(m, D[n]) only for 0 < m <= n; RFC 9162 and
    // transparency-dev reject a check from the empty tree, which would prove nothing.
    if (oldSize === 0) return false;
    if (oldSize === newSize) return proof.length === 0 && equal(oldRoot, newRoot);
    // RFC 9162 §2.1.4.2
    let path = proof;
    if ((oldSize & (oldSize - 1)) === 0) path = [oldRoot, ...proof]; // exact power of two
    if (path.length === 0) return false;
    let fn = oldSize - 1;
    let sn = newSize - 1;
    while (fn % 2 === 1) {
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    let fr = path[0] as Hash32;
    let sr = path[0] as Hash32;
    for (const c of path.slice(1)) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
          }
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(fr, oldRoot) && equal(sr, newRoot);
  } catch {
    return false;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}
