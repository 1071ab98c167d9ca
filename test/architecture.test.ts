/**
 * The import rules of src/ (issue 18), read from the source text of every src/**\/*.ts: static
 * `import ... from '...'` and `export ... from '...'` (type-only ones too), side-effect `import '...'`, and
 * `import('...')` with a literal path.
 *
 * (a) The lower layers (ops, models, data, teacher, metrics, train, analysis, and util, backend, parallel) import
 *     nothing from report, experiments, sweep, cli or bench; report (pure renderers) imports nothing from
 *     experiments, sweep, train, cli or bench; experiments nothing from sweep, cli or bench; sweep nothing
 *     from cli or bench.
 * (b) The graph of top-level folders of src/ has no cycle.
 * (c) No file is over MAX_LINES lines, except the few listed in BIG_FILES.
 * The helpers are tested on planted input first, so a rule that could never fail would show.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SRC = join(ROOT, 'src');

const LOWER = ['util', 'backend', 'ops', 'models', 'teacher', 'data', 'metrics', 'analysis', 'train', 'parallel', 'toy'];
const UPPER = ['report', 'experiments', 'sweep', 'cli', 'bench'];
/** What each folder must not import from (rule a). */
const FORBIDDEN: Record<string, string[]> = {
  ...Object.fromEntries(LOWER.map((f) => [f, UPPER])),
  report: ['experiments', 'sweep', 'train', 'cli', 'bench'],
  experiments: ['sweep', 'cli', 'bench'],
  // Sweeps (src/sweep) build on experiments, train, analysis and report; only the CLI sits above them.
  sweep: ['cli', 'bench'],
};

/**
 * Folder cycles accepted for now, each as its sorted folder list with the reason. Empty: there is none.
 * An entry that no longer matches a cycle fails the test, so the list cannot go stale.
 */
const KNOWN_CYCLES: { folders: string[]; why: string }[] = [];

const MAX_LINES = 400;
/**
 * Files over MAX_LINES, with the reason they are not split yet. An entry that is back under the limit (or
 * gone) fails the test: remove it from this list.
 */
const BIG_FILES: Record<string, string> = {};

/** Import specifiers of a TypeScript source text (comment lines are skipped). */
export function importSpecifiers(text: string): string[] {
  const code = text
    .split('\n')
    .filter((l) => !/^\s*(\/\/|\/\*|\*)/.test(l))
    .join('\n');
  const out: string[] = [];
  const patterns = [
    /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    /^[ \t]*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]);
  return out;
}

/** The top-level folder of src/ a path (relative to src/) lies in; '.' for a file directly in src/. */
function folderOf(srcRelative: string): string {
  const parts = srcRelative.split(/[\\/]/);
  return parts.length > 1 ? parts[0] : '.';
}

interface Edge {
  /** Importing file, relative to the repo root. */
  file: string;
  spec: string;
  from: string;
  to: string;
}

/** Folder-to-folder edges of the relative imports of `files` (paths relative to src/, with their text); imports leaving src/ are left out. */
export function folderEdges(files: { path: string; text: string }[]): Edge[] {
  const edges: Edge[] = [];
  for (const f of files) {
    for (const spec of importSpecifiers(f.text)) {
      if (!spec.startsWith('.')) continue;
      const target = relative(SRC, resolve(SRC, dirname(f.path), spec));
      if (target.startsWith('..')) continue;
      const [from, to] = [folderOf(f.path), folderOf(target)];
      if (from !== to) edges.push({ file: `src/${f.path}`, spec, from, to });
    }
  }
  return edges;
}

/** Strongly connected components of more than one folder (Tarjan), each sorted. */
export function folderCycles(edges: { from: string; to: string }[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, new Set());
    if (!next.has(e.to)) next.set(e.to, new Set());
    next.get(e.from)!.add(e.to);
  }
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return out.sort((a, b) => a.join().localeCompare(b.join()));
}

/** Edges that break rule (a). */
export function forbiddenEdges(edges: Edge[], rules: Record<string, string[]> = FORBIDDEN): Edge[] {
  return edges.filter((e) => rules[e.from]?.includes(e.to));
}

function sourceFiles(dir = SRC): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...sourceFiles(p));
    else if (d.name.endsWith('.ts')) out.push({ path: relative(SRC, p), text: readFileSync(p, 'utf8') });
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

const lineCount = (text: string) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
const show = (es: Edge[]) => es.map((e) => `${e.file} imports '${e.spec}' (${e.from} -> ${e.to})`).join('\n');

describe('the checker itself, on planted input', () => {
  it('reads static, type-only, multi-line, re-export, side-effect and dynamic imports, and skips comments', () => {
    const text = [
      "import * as tf from '@tensorflow/tfjs';",
      "import type { A } from '../a/x.js';",
      'import {',
      '  b,',
      '  c,',
      "} from '../b/y.js';",
      "export { d } from './d.js';",
      "import '../e/side.js';",
      "const m = () => import('../f/lazy.js');",
      "// load: () => import('../g/comment.js')",
      " * import { h } from '../h/doc.js';",
      "const s = `import(${JSON.stringify('x')})`;",
    ].join('\n');
    expect(importSpecifiers(text).sort()).toEqual(['../a/x.js', '../b/y.js', '../e/side.js', '../f/lazy.js', './d.js', '@tensorflow/tfjs'].sort());
  });

  it('finds a planted folder cycle and a planted upward import', () => {
    const edges = folderEdges([
      { path: 'data/a.ts', text: "import { t } from '../teacher/t.js';" },
      { path: 'teacher/t.ts', text: "import { a } from '../data/a.js';\nimport { c } from '../report/c.js';" },
      { path: 'report/c.ts', text: "import x from '../../bench/outside.js';" },
    ]);
    expect(edges.map((e) => `${e.from}->${e.to}`).sort()).toEqual(['data->teacher', 'teacher->data', 'teacher->report']);
    expect(folderCycles(edges)).toEqual([['data', 'teacher']]);
    expect(forbiddenEdges(edges).map((e) => e.file)).toEqual(['src/teacher/t.ts']);
  });
});

describe('import rules of src/', () => {
  const files = sourceFiles();
  const edges = folderEdges(files);

  it('sees the source tree', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(edges.length).toBeGreaterThan(50);
  });

  it('(a) lower layers import nothing from report, experiments, cli or bench; report nothing from experiments, train, cli or bench; experiments nothing from cli or bench', () => {
    const bad = forbiddenEdges(edges);
    expect(bad, `upward imports:\n${show(bad)}`).toEqual([]);
  });

  it('(b) the top-level folders of src/ import each other without a cycle', () => {
    const cycles = folderCycles(edges);
    const known = KNOWN_CYCLES.map((k) => k.folders.join());
    const fresh = cycles.filter((c) => !known.includes(c.join()));
    const detail = fresh.map((c) => `cycle ${c.join(' <-> ')}:\n${show(edges.filter((e) => c.includes(e.from) && c.includes(e.to)))}`).join('\n');
    expect(fresh, detail).toEqual([]);
    const stale = known.filter((k) => !cycles.some((c) => c.join() === k));
    expect(stale, 'KNOWN_CYCLES entries that are no longer cycles: remove them').toEqual([]);
  });

  it(`(c) no file over ${MAX_LINES} lines beyond the listed exceptions`, () => {
    const big = files.map((f) => ({ path: `src/${f.path}`, lines: lineCount(f.text) })).filter((f) => f.lines > MAX_LINES);
    const unlisted = big.filter((f) => !(f.path in BIG_FILES)).map((f) => `${f.path}: ${f.lines} lines`);
    expect(unlisted, `split these files (or, with a reason, list them in BIG_FILES)`).toEqual([]);
    const stale = Object.keys(BIG_FILES).filter((p) => !big.some((f) => f.path === p));
    expect(stale, `BIG_FILES entries now at most ${MAX_LINES} lines (or gone): remove them`).toEqual([]);
  });
});
