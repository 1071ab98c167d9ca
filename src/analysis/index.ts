/** The measurements of docs/theory.md section 3 (docs/analysis.md): one module per measurement. */
export * from './common.js';
export * from './hungarian.js';
export * from './sparsity.js';
export * from './moments.js';
export * from './alignment.js';
export * from './recovery.js';
export * from './locality.js';
export * from './swd.js';
export * from './validate.js';
export * from './pipeline.js';
export * from './format.js';
