/** A seeded xorshift32 generator of uniform numbers in [0, 1), for fixtures. */
export function xorshift(seed = 1): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}
