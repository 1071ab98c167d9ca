/**
 * Every document the project cites lies inside the repository (issue 18, acceptance): scans src/**\/*.ts,
 * notebooks/*.ipynb (cell sources), README.md and docs/*.md, and also bench/, scripts/, experiments/ and
 * test/ (this file aside: it holds the planted bad citations), for
 *
 * - markdown links `[text](target)` in .md files and notebooks: the target (any kind of file, the #anchor
 *   dropped; URLs and bare anchors skipped) must exist relative to the citing file;
 * - `.md` paths in prose, comments and strings: `docs/theory.md` (with a folder: from the repository root),
 *   `./x.md` or `../x.md` (from the citing file), a bare `findings.md` inside a .md file (from its folder), a
 *   bare upper-case `THEORY.md` anywhere else (at the root or in docs/); bare lower-case names outside .md
 *   files are file names the code writes (`quality.md`), not citations, and placeholder paths
 *   (`<run>/x.md`, `${dir}/x.md`) are skipped;
 * - `../shared/...` (the workspace folder beside the checkout) and absolute paths: outside the repository.
 *
 * The scanner is tested on planted input first, so a rule that could never fail would show.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SELF = 'test/docs-links.test.ts';

/** Folders scanned recursively, with the file kinds read in each. */
const SCANNED: { dir: string; exts: string[] }[] = [
  { dir: 'src', exts: ['.ts'] },
  { dir: 'notebooks', exts: ['.ipynb'] },
  { dir: 'docs', exts: ['.md'] },
  { dir: 'bench', exts: ['.ts', '.py', '.sh', '.json', '.md'] },
  { dir: 'scripts', exts: ['.sh', '.ts', '.md'] },
  { dir: 'experiments', exts: ['.json', '.md'] },
  { dir: 'test', exts: ['.ts', '.md'] },
];

export interface ScannedFile {
  /** Path relative to the repository root, with '/'. */
  path: string;
  /** Text, as sections each with the label used in messages (a notebook has one per cell). */
  sections: { where: string; text: string }[];
}

export interface BadCitation {
  /** e.g. 'src/x.ts:12' or 'notebooks/a.ipynb cell 3, line 2'. */
  where: string;
  cited: string;
  why: 'missing' | 'outside the repository';
}

const URL_RE = /\b[a-z][a-z0-9+.-]*:\/\/[^\s)'"`>\]]+/gi;
/** A markdown link target: `](target)` or `](<target> "title")`. */
const LINK_RE = /\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
/** A path ending in .md, not continuing a longer path, placeholder or expression (lookbehind) or name (lookahead). */
const MD_RE = /(?<![\w./<>{}$\\@%-])[\w./-]*[\w-]\.md(?![\w-])/g;
const SHARED_RE = /(?<![\w.-])(?:\.\.\/)+shared\/[\w./-]*/g;

/** Blanks URLs out (same length, so columns and lines stay), so that `https://.../README.md` is not a path. */
const withoutUrls = (text: string) => text.replace(URL_RE, (u) => ' '.repeat(u.length));

/**
 * The citations of one file that do not resolve to an existing path inside the repository. `exists` takes
 * a path relative to the root.
 */
export function badCitations(file: ScannedFile, exists: (rootRelative: string) => boolean = (p) => existsSync(join(ROOT, p))): BadCitation[] {
  const out: BadCitation[] = [];
  // One report per (place, cited text), however many rules the text fails.
  const reported = new Set<string>();
  const flag = (where: string, cited: string, why: BadCitation['why']): void => {
    if (reported.has(`${where}\n${cited}`)) return;
    reported.add(`${where}\n${cited}`);
    out.push({ where, cited, why });
  };
  const dir = dirname(file.path);
  const isMd = file.path.endsWith('.md');
  const isNotebook = file.path.endsWith('.ipynb');
  /** Checks `target`, resolved from the root-relative folder `from`. */
  const check = (where: string, cited: string, target: string, from: string): void => {
    if (isAbsolute(target)) return flag(where, cited, 'outside the repository');
    const rel = relative(ROOT, resolve(ROOT, from, target));
    if (rel.startsWith('..') || isAbsolute(rel)) flag(where, cited, 'outside the repository');
    else if (!exists(rel)) flag(where, cited, 'missing');
  };
  for (const s of file.sections) {
    withoutUrls(s.text)
      .split('\n')
      .forEach((line, k) => {
        const where = isNotebook ? `${s.where}, line ${k + 1}` : `${s.where}:${k + 1}`;
        if (isMd || isNotebook) {
          for (const m of line.matchAll(LINK_RE)) {
            const target = m[1].replace(/#.*$/, '');
            if (target !== '' && !/^[a-z][a-z0-9+.-]*:/i.test(target)) check(where, m[1], target, dir);
          }
        }
        for (const m of line.matchAll(SHARED_RE)) flag(where, m[0], 'outside the repository');
        for (const m of line.matchAll(MD_RE)) {
          const cited = m[0];
          if (cited.startsWith('/') || cited.startsWith('./') || cited.startsWith('../')) check(where, cited, cited, dir);
          else if (cited.includes('/')) check(where, cited, cited, '.');
          else if (isMd) check(where, cited, cited, dir);
          // A bare upper-case document name (THEORY.md) outside a .md file: the root or docs/ must hold it.
          else if (/^[A-Z0-9_-]+\.md$/.test(cited) && !exists(cited) && !exists(`docs/${cited}`)) flag(where, cited, 'missing');
        }
      });
  }
  return out;
}

/** A repository file as a ScannedFile: a notebook's cells (sources only, outputs left out), any other file whole. */
export function scannedFile(path: string, text: string): ScannedFile {
  if (!path.endsWith('.ipynb')) return { path, sections: [{ where: path, text }] };
  const nb = JSON.parse(text) as { cells: { source: string | string[] }[] };
  return { path, sections: nb.cells.map((c, k) => ({ where: `${path} cell ${k + 1}`, text: Array.isArray(c.source) ? c.source.join('') : c.source })) };
}

function walk(dir: string, exts: string[]): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  const out: string[] = [];
  for (const d of readdirSync(abs, { withFileTypes: true })) {
    const p = `${dir}/${d.name}`;
    if (d.isDirectory()) {
      if (d.name !== 'node_modules' && !d.name.startsWith('.')) out.push(...walk(p, exts));
    } else if (exts.includes(extname(d.name))) out.push(p);
  }
  return out;
}

const show = (bad: BadCitation[]) => bad.map((b) => `${b.where}: '${b.cited}' (${b.why})`).join('\n');

describe('the citation scanner itself, on planted input', () => {
  // Assembled from parts, so that this file's own text does not cite them.
  const md = (stem: string) => `${stem}.md`;

  it('flags missing and outside citations in source comments and strings, and passes good ones', () => {
    const text = [
      `/** The model of ${md('THEORY')} section 2 and ${md('../shared/ENGINE')} (see ${md('docs/theory')} too). */`,
      `// DATASETS: ../shared/${md('DATASETS')}; ${md('docs/nonexistent-doc')}; ${md('/work/shared/THEORY')}`,
      `const a = join(out, '${md('quality')}'); const b = \`\${dir}/${md('summary')}\`; const c = '<run>/${md('x')}';`,
      `// https://example.org/a/${md('MISSING')} and ${md('README')} and ${md('docs/figures')}#how-a-claim-is-judged`,
      `// ../shared/teacher-weights.bin`,
    ].join('\n');
    const bad = badCitations(scannedFile('src/x/planted.ts', text));
    expect(bad.map((b) => `${b.where} ${b.cited} ${b.why}`).sort()).toEqual(
      [
        `src/x/planted.ts:1 ${md('THEORY')} missing`,
        `src/x/planted.ts:1 ${md('../shared/ENGINE')} outside the repository`,
        `src/x/planted.ts:2 ../shared/${md('DATASETS')} outside the repository`,
        `src/x/planted.ts:2 ${md('docs/nonexistent-doc')} missing`,
        `src/x/planted.ts:2 ${md('/work/shared/THEORY')} outside the repository`,
        `src/x/planted.ts:5 ../shared/teacher-weights.bin outside the repository`,
      ].sort(),
    );
  });

  it('resolves links and bare names in docs from the citing file, and scans notebook cells', () => {
    const doc = [
      `See [the theory](${md('theory')}#3-what-fsrgan-measures) (${md('theory')} section 3) and [x](${md('missing-doc')}).`,
      `Also [up](../${md('README')}), [out](../../${md('outside')}), ![img](findings-samples.png), [web](https://a.org/${md('b')}), [here](#anchor).`,
      `Wrong base: [t](${md('docs/theory')}); prose \`${md('docs/theory')}\` is from the root.`,
    ].join('\n');
    const bad = badCitations(scannedFile('docs/planted.md', doc));
    expect(bad.map((b) => `${b.where} ${b.cited} ${b.why}`)).toEqual([
      `docs/planted.md:1 ${md('missing-doc')} missing`,
      `docs/planted.md:2 ../../${md('outside')} outside the repository`,
      `docs/planted.md:3 ${md('docs/theory')} missing`,
    ]);
    const nb = JSON.stringify({ cells: [{ source: ['# A\n', `See ${md('docs/theory')}.\n`] }, { source: [`x\n`, `See [e](../docs/${md('engine')}) and [f](${md('ENGINE')}).\n`] }] });
    expect(show(badCitations(scannedFile('notebooks/planted.ipynb', nb)))).toBe(`notebooks/planted.ipynb cell 2, line 2: '${md('ENGINE')}' (missing)`);
  });
});

describe('document citations of the repository', () => {
  const paths = SCANNED.flatMap((s) => walk(s.dir, s.exts)).filter((p) => p !== SELF);
  paths.push('README.md');

  it('sees the files', () => {
    expect(paths.filter((p) => p.startsWith('src/')).length).toBeGreaterThan(50);
    expect(paths.filter((p) => p.startsWith('docs/')).length).toBeGreaterThan(5);
    expect(paths.filter((p) => p.startsWith('notebooks/')).length).toBeGreaterThan(3);
  });

  it('every cited document exists inside the repository', () => {
    const bad = paths.flatMap((p) => badCitations(scannedFile(p, readFileSync(join(ROOT, p), 'utf8'))));
    expect(bad, `citations of documents that are missing or outside the repository:\n${show(bad)}`).toEqual([]);
  });
});
