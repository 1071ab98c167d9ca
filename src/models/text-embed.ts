/**
 * A fixed text encoder for text-to-emoji (docs/conditional.md): a hashed bag of words and character
 * trigrams (the "hashing trick", Weinberger et al. 2009). Nothing is learned or downloaded, so the same
 * text gives the same vector in every process, and a name never seen in training still lands near the
 * names it shares words or letter runs with ("red heart" near "heart" and "red apple"):
 *
 *   tokens(t) = words of lower(t) (runs of letters/digits)  +  trigrams of " w " for each word w
 *   e(t)[j]   = sum over tokens k with h(k) mod D = j of  sign(k) * weight(k),   e <- e / ||e||
 *
 * with h the 32-bit FNV-1a hash, sign(k) = +-1 from a second hash (so collisions cancel on average), word
 * tokens weighted 1 and trigrams 1/2. An empty text embeds to the zero vector.
 */

/** FNV-1a, 32 bit, over the UTF-16 code units of s, salted. */
function fnv1a(s: string, salt: number): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The weighted tokens of a text: its words (weight 1) and the character trigrams of each (weight 1/2). */
export function textTokens(text: string): [string, number][] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const out: [string, number][] = [];
  for (const w of words) {
    out.push([`w:${w}`, 1]);
    const padded = ` ${w} `;
    for (let i = 0; i + 3 <= padded.length; i++) out.push([`c:${padded.slice(i, i + 3)}`, 0.5]);
  }
  return out;
}

/** The unit-norm hashed embedding [dim] of a text (zeros for a text with no word). */
export function embedText(text: string, dim: number): Float32Array {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`embedText: dim must be a positive integer, got ${dim}`);
  const e = new Float64Array(dim);
  for (const [tok, w] of textTokens(text)) {
    const j = fnv1a(tok, 0) % dim;
    const sign = fnv1a(tok, 0x5bd1e995) & 1 ? 1 : -1;
    e[j] += sign * w;
  }
  const norm = Math.sqrt(e.reduce((a, v) => a + v * v, 0));
  return Float32Array.from(e, (v) => (norm > 0 ? v / norm : 0));
}

/** Embeddings of many texts as one row-major [texts.length, dim] array. */
export function embedTexts(texts: readonly string[], dim: number): Float32Array {
  const out = new Float32Array(texts.length * dim);
  texts.forEach((t, i) => out.set(embedText(t, dim), i * dim));
  return out;
}
