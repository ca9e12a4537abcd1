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
 *
 * SHA-256 is node:crypto's (native: the broker's checkpoints run a few times per session, mostly
 * before the JIT has optimised anything). A tree's leaf hashes and subtree roots are computed
 * once per call (TreeHashes), so `merkleProofs` gives the root, every inclusion proof a
 * checkpoint proposal needs and its consistency proof from one pass: n leaf hashes and at most
 * n − 1 node hashes, where one inclusionProof call per leaf re-hashed every leaf each time.
 */
import { createHash } from 'node:crypto';

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

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

function digest(h: ReturnType<typeof createHash>): Hash32 {
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

export function leafHash(data: Uint8Array): Hash32 {
  assertBytes(data, 'leaf data');
  return digest(createHash('sha256').update(LEAF_PREFIX).update(data));
}

export function nodeHash(left: Hash32, right: Hash32): Hash32 {
  assertBytes(left, 'left');
  assertBytes(right, 'right');
  return digest(createHash('sha256').update(NODE_PREFIX).update(left).update(right));
}

/** Largest power of two strictly smaller than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The leaf hashes of one tree and its subtree roots, each computed once (by [lo, hi)). */
class TreeHashes {
  private readonly roots = new Map<number, Hash32>();
  private readonly h: Hash32[];
  constructor(h: Hash32[]) {
    this.h = h;
  }

  root(lo: number, hi: number): Hash32 {
    const n = hi - lo;
    if (n === 1) return this.h[lo] as Hash32;
    const key = lo * (this.h.length + 1) + hi;
    let r = this.roots.get(key);
    if (r === undefined) {
      const k = splitPoint(n);
      r = nodeHash(this.root(lo, lo + k), this.root(lo + k, hi));
      this.roots.set(key, r);
    }
    return r;
  }
}

function rootOfHashes(h: TreeHashes, lo: number, hi: number): Hash32 {
  return h.root(lo, hi);
}

function treeOf(leaves: Uint8Array[]): TreeHashes {
  return new TreeHashes(leaves.map(leafHash));
}

const EMPTY_ROOT: Hash32 = digest(createHash('sha256'));

/** Merkle Tree Hash of the leaf data. */
export function merkleRoot(leaves: Uint8Array[]): Hash32 {
  assertLeaves(leaves);
  if (leaves.length === 0) return EMPTY_ROOT.slice();
  return rootOfHashes(treeOf(leaves), 0, leaves.length);
}

/**
 * The root of `leaves`, the inclusion proof of each leaf in `indices` (as inclusionProof gives
 * it) and the consistency proof from the first `oldSize` leaves (as consistencyProof; none for
 * oldSize 0), from one pass over the tree.
 */
export function merkleProofs(leaves: Uint8Array[], indices: readonly number[], oldSize = 0): { root: Hash32; inclusion: Hash32[][]; consistency: Hash32[] } {
  assertLeaves(leaves);
  assertSize(oldSize, 'oldSize');
  if (oldSize > leaves.length) throw new Error(`expected oldSize <= tree size ${leaves.length}, got ${oldSize}`);
  for (const index of indices) {
    assertSize(index, 'index');
    if (index >= leaves.length) throw new Error(`expected index < tree size ${leaves.length}, got ${index}`);
  }
  if (leaves.length === 0) return { root: EMPTY_ROOT.slice(), inclusion: [], consistency: [] };
  const t = treeOf(leaves);
  return {
    root: rootOfHashes(t, 0, leaves.length),
    inclusion: indices.map((index) => path(index, t, 0, leaves.length)),
    consistency: oldSize === 0 || oldSize === leaves.length ? [] : subproof(oldSize, t, 0, leaves.length, true),
  };
}

function path(m: number, h: TreeHashes, lo: number, hi: number): Hash32[] {
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
  return path(index, treeOf(leaves), 0, leaves.length);
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

function subproof(m: number, h: TreeHashes, lo: number, hi: number, complete: boolean): Hash32[] {
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
  return subproof(oldSize, treeOf(leaves), 0, leaves.length, true);
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
