/** The measurements of docs/theory.md section 3 (docs/analysis.md): one module per measurement, one registry of them. */
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
export { schemaProblems, type Schema } from './schema.js';
export { defineMeasurement, pick, type Measurement, type Results } from './measurement.js';
export { BUILTIN, registerMeasurement, findMeasurement, measurement, measurementNames, defaultWhat } from './registry.js';
export { latents, randomInit, type RunContext, type TeacherContext, type CalibrationInit } from './context.js';
export { fmt, table } from './table.js';
