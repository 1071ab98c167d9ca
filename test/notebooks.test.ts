/**
 * Executes every notebooks/*.ipynb headless (Jupyter nbconvert + the project-local tslab kernelspec in
 * .jupyter/, docs/notebooks.md) at FSRGAN_SCALE=quick, into a temporary folder, and checks that no cell
 * failed and that each notebook shows at least one vega-lite chart with its SVG fallback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileSpec, VEGALITE_MIME, type ChartSpec } from '../src/report/render.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const NOTEBOOKS = readdirSync(join(ROOT, 'notebooks'))
  .filter((f) => f.endsWith('.ipynb'))
  .sort();
const APT = 'apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client';
const SKIP = process.env.FSRGAN_SKIP_NOTEBOOKS === '1';
/** Per notebook; a quick-scale notebook takes 10-30 s here (most of it tslab compiling the imports). */
const NOTEBOOK_TIMEOUT_S = 300;

function jupyterProblem(): string | null {
  const r = spawnSync('jupyter', ['nbconvert', '--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return (
      'The notebook tests need Jupyter nbconvert, and `jupyter nbconvert --version` failed' +
      (r.error
        ? (r.error as NodeJS.ErrnoException).code === 'ENOENT'
          ? ' (no `jupyter` on PATH)'
          : ` (${r.error.message})`
        : ` (exit ${r.status}: ${(r.stderr ?? '').trim().split('\n').pop()})`) +
      `. Install it with \`.ci/run\` (installs what CI needs, then runs the tests) or \`sudo ${APT}\` (Debian/Ubuntu),` +
      ' or set FSRGAN_SKIP_NOTEBOOKS=1 to skip the notebook tests.'
    );
  }
  if (!existsSync(join(ROOT, 'node_modules', '.bin', 'tslab'))) return 'node_modules/.bin/tslab is missing: run `npm ci` first.';
  return null;
}

interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}
interface Notebook {
  metadata: { kernelspec?: { name?: string } };
  cells: { cell_type: string; source: string | string[]; outputs?: Output[] }[];
}

/**
 * Why a cell failed. tslab reports compile and runtime errors as a stderr stream with an empty error reply,
 * so nbconvert's own message shows only the cell's source: run again with --allow-errors and collect the
 * stderr streams (tslab aborts the cells after the failing one, so they come from that cell).
 */
async function failureReport(nb: string, outDir: string, log: string): Promise<string> {
  const at = log.indexOf('An error occurred while executing the following cell');
  const cell = at >= 0 ? log.slice(at, at + 1500) : log.slice(-1500);
  const again = join(outDir, 'allow-errors');
  await execute(nb, again, true);
  let streams = '(no stderr output recorded)';
  try {
    const doc = JSON.parse(await readFile(join(again, nb), 'utf8')) as Notebook;
    const err = doc.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === 'stream' && o.name === 'stderr');
    if (err.length) streams = err.map((o) => (Array.isArray(o.text) ? o.text.join('') : (o.text ?? ''))).join('').slice(0, 4000);
  } catch {
    // No notebook written: the kernel did not start; nbconvert's log says why.
  }
  return `${cell}\n--- the cell's stderr (tslab errors) ---\n${streams}`;
}

function execute(nb: string, outDir: string, allowErrors = false): Promise<{ code: number; log: string }> {
  const env = {
    ...process.env,
    JUPYTER_PATH: [join(ROOT, '.jupyter'), process.env.JUPYTER_PATH].filter(Boolean).join(delimiter),
    JUPYTER_RUNTIME_DIR: join(outDir, 'runtime'),
    FSRGAN_SCALE: 'quick',
  };
  const args = ['nbconvert', '--to', 'notebook', '--execute', `--ExecutePreprocessor.timeout=${NOTEBOOK_TIMEOUT_S}`, '--output-dir', outDir, join(ROOT, 'notebooks', nb)];
  if (allowErrors) args.splice(3, 0, '--allow-errors');
  return new Promise((done) => {
    execFile('jupyter', args, { cwd: ROOT, env, maxBuffer: 64 << 20, timeout: (NOTEBOOK_TIMEOUT_S + 60) * 1000 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, log: `${stdout}\n${stderr}` });
    });
  });
}

if (SKIP) {
  describe('notebooks', () => {
    it.skip(`SKIPPED: FSRGAN_SKIP_NOTEBOOKS=1 is set, so ${NOTEBOOKS.length} notebook(s) were not executed`, () => {});
  });
  console.warn(`[notebooks.test] FSRGAN_SKIP_NOTEBOOKS=1: not executing ${NOTEBOOKS.join(', ')}`);
} else {
  describe('notebooks execute headless (FSRGAN_SCALE=quick)', () => {
    let outDir = '';
    let problem: string | null = null;
    beforeAll(async () => {
      problem = jupyterProblem();
      outDir = await mkdtemp(join(tmpdir(), 'fsrgan-notebooks-'));
    });
    afterAll(async () => {
      if (outDir) await rm(outDir, { recursive: true, force: true });
    });

    it('there is at least one notebook, and each uses the project kernel "fsrgan"', async () => {
      expect(NOTEBOOKS.length).toBeGreaterThan(0);
      for (const nb of NOTEBOOKS) {
        const doc = JSON.parse(await readFile(join(ROOT, 'notebooks', nb), 'utf8')) as Notebook;
        expect(doc.metadata.kernelspec?.name, `${nb}: set the kernel to "TypeScript (fsrgan)" (.jupyter/kernels/fsrgan)`).toBe('fsrgan');
      }
      expect(existsSync(join(ROOT, '.jupyter', 'kernels', 'fsrgan', 'kernel.json'))).toBe(true);
    });

    for (const nb of NOTEBOOKS) {
      it(
        `${nb} runs without a cell error and shows a vega-lite chart with an SVG fallback`,
        async () => {
          if (problem) throw new Error(problem);
          const run = await execute(nb, outDir);
          // nbconvert exits non-zero on the first failing cell; its log names the cell and tslab's error.
          if (run.code !== 0) throw new Error(`${nb} failed (exit ${run.code}):\n${await failureReport(nb, outDir, run.log)}`);
          const doc = JSON.parse(await readFile(join(outDir, nb), 'utf8')) as Notebook;
          const outputs = doc.cells.flatMap((c) => c.outputs ?? []);
          const errors = outputs.filter((o) => o.output_type === 'error');
          expect(errors.map((e) => `${e.ename}: ${e.evalue}`)).toEqual([]);
          const charts = outputs.filter((o) => o.data && VEGALITE_MIME in o.data);
          expect(charts.length, `${nb} must show at least one ${VEGALITE_MIME} output`).toBeGreaterThan(0);
          for (const c of charts) {
            expect(() => compileSpec(c.data![VEGALITE_MIME] as ChartSpec)).not.toThrow();
            const svg = c.data!['image/svg+xml'];
            expect(Array.isArray(svg) ? svg.join('') : String(svg)).toMatch(/^<svg/);
          }
        },
        (NOTEBOOK_TIMEOUT_S + 90) * 1000,
      );
    }
  });
}
