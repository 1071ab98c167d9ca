/**
 * The figure experiments (docs/figures.md): above train, analysis and the renderers of src/report, below
 * the CLI. Planning (plan.ts: figure specs and the runs they need), running (run.ts: train, analyse,
 * cache), claims (claims.ts: the one table of claim rules, their thresholds and verdicts), summaries
 * (summary.ts: each figure's output and summary.json), and `reproduce` / `notebookFigure` (reproduce.ts).
 */
export { SCALES, configKey, cutConfig, loadCatalogue, loadFigureSpecs, parseCatalogue, parseFigureSpec, planFigures, runSteps, shortHash, type Catalogue, type FigureSpec, type Plan, type PlannedFigure, type PlannedRun, type RunEntry, type Scale } from './plan.js';
export { DataCache, ensureRun, measureRun, type RunStatus } from './run.js';
export { ALIGN_RATIO, ALIGN_SIGMAS, CLAIM_RULES, SPARSE_FRACTION, judgeFigure, budgetPoints, judgeClaim, type Claim, type ClaimBudget, type ClaimRule } from './claims.js';
export { combineVerdicts, INTERVAL_METHOD, judgeTest, tailChange, tInterval, type TestInput, type TestResult, type VerdictWord } from './verdict.js';
export { buildFigure, readSummary, writeFigureFiles, writeSummaryPages, type FigureOutput, type FigureSummary, type ReproduceSummary, type RunSummary } from './summary.js';
export { notebookFigure, reproduce, type NotebookFigure, type NotebookFigureOptions, type ReproduceOptions, type ReproduceResult } from './reproduce.js';
