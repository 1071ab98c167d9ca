/**
 * The published 2-D numbers F-modes puts next to ours: the papers' own, under their protocol (400k steps,
 * width-400 G with batch norm, maxout D; docs/recipes.md), not reproduced here. Modes covered of 8
 * (ring) and 25 (grid), percentage of high-quality samples.
 */
export interface PublishedRow {
  model: string;
  /** The lab's recipe name it compares with. */
  recipe: string;
  ring: { modes: number; modesSe?: number; hq: number };
  grid: { modes: number; modesSe?: number; hq: number };
  source: string;
}

export const PUBLISHED: PublishedRow[] = [
  { model: 'GAN', recipe: 'gan', ring: { modes: 1, hq: 99.3 }, grid: { modes: 3.3, hq: 0.5 }, source: 'VEEGAN (Srivastava et al. 2017), Table 1' },
  { model: 'unrolled GAN', recipe: 'unrolled', ring: { modes: 7.6, hq: 35.6 }, grid: { modes: 23.6, hq: 16 }, source: 'VEEGAN (Srivastava et al. 2017), Table 1' },
  { model: 'VEEGAN', recipe: '', ring: { modes: 8, hq: 52.9 }, grid: { modes: 24.6, hq: 40 }, source: 'VEEGAN (Srivastava et al. 2017), Table 1' },
  { model: 'GAN', recipe: 'gan', ring: { modes: 6.3, modesSe: 0.5, hq: 98.2 }, grid: { modes: 17.3, modesSe: 0.8, hq: 94.8 }, source: 'PacGAN (Lin et al. 2018), Table 1' },
  { model: 'PacGAN2', recipe: 'pacgan2', ring: { modes: 7.9, modesSe: 0.1, hq: 95.6 }, grid: { modes: 23.8, modesSe: 0.7, hq: 91.3 }, source: 'PacGAN (Lin et al. 2018), Table 1' },
  { model: 'PacGAN3', recipe: '', ring: { modes: 7.8, modesSe: 0.1, hq: 97.7 }, grid: { modes: 24.6, modesSe: 0.4, hq: 94.2 }, source: 'PacGAN (Lin et al. 2018), Table 1' },
  { model: 'PacGAN4', recipe: 'pacgan4', ring: { modes: 7.8, modesSe: 0.1, hq: 95.9 }, grid: { modes: 24.8, modesSe: 0.2, hq: 93.6 }, source: 'PacGAN (Lin et al. 2018), Table 1' },
];
