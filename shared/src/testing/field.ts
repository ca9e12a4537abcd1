/** Tests' field arithmetic over BigInt: the checks of field properties (quadratic characters). */

/** b^e mod m (square and multiply), e ≥ 0. */
export function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}
