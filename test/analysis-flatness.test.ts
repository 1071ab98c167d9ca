/**
 * The flat fraction (src/analysis/flatness.ts) on planted images whose answer is counted by hand: a flat
 * square on white, a checkerboard, the same square painted with noise, and a background-only image.
 */
import { describe, expect, it } from 'vitest';
import { flatFraction } from '../src/analysis/flatness.js';
import type { ImageArray } from '../src/analysis/common.js';

/** A 4x4 RGB image on white (1) with pixel (y, x) of the 2x2 centre square given by `inner`. */
function square(inner: (y: number, x: number) => [number, number, number], bg = 1): ImageArray {
  const data = new Float32Array(4 * 4 * 3).fill(bg);
  for (let y = 1; y < 3; y++) for (let x = 1; x < 3; x++) data.set(inner(y, x), (y * 4 + x) * 3);
  return { data, n: 1, h: 4, w: 4, c: 3 };
}

describe('flatFraction', () => {
  it('counts same-colour neighbour pairs among the pairs that touch the drawing', () => {
    // A flat red 2x2 square: 4 pairs inside (all flat) and 8 pairs from its border to the white (not flat),
    // white-white pairs skipped: 4 / 12.
    expect(flatFraction(square(() => [1, -1, -1]))).toBeCloseTo(4 / 12, 12);
    // The same square mottled (every pixel a different red): no flat pair left.
    expect(flatFraction(square((y, x) => [1, -0.9 + 0.2 * (2 * (y - 1) + (x - 1)), -1]))).toBe(0);
    // Within the tolerance (0.1) is still flat; on black the same square counts the same.
    expect(flatFraction(square((y, x) => [1, -0.95 + 0.02 * (y + x), -1]))).toBeCloseTo(4 / 12, 12);
    expect(flatFraction(square(() => [0, 0.5, 0], -1))).toBeCloseTo(4 / 12, 12);
    expect(flatFraction(square(() => [0, 0.5, 0], -1), { tol: 0 })).toBe(0);
  });

  it('a checkerboard of two colours has no flat pair; an all-background image has no pairs (NaN)', () => {
    const data = new Float32Array(3 * 3 * 3);
    for (let i = 0; i < 9; i++) data.set((i % 2) ? [0.5, 0, 0] : [0, 0.5, 0], i * 3);
    expect(flatFraction({ data, n: 1, h: 3, w: 3, c: 3 })).toBe(0);
    expect(flatFraction({ data: new Float32Array(12).fill(1), n: 1, h: 2, w: 2, c: 3 })).toBeNaN();
  });
});
