/** The layerwise trainer (docs/training.md): config, training, resume, and reading runs back. */
export { DEFAULT_CONFIG, MODES, PRESETS, configProblems, loadConfigFile, readConfigFile, resolveConfig, stepsForLevel, type TrainConfig, type TrainMode, type ResolveOptions } from './config.js';
export { OBJECTIVES, objectives, r1Penalty, gradientPenalty, gradSqNorm, type Objective, type ObjectiveName } from './objectives.js';
export { Adam } from './adam.js';
export { buildSchedule, allGNames, tensorHash, hashVars, type Stage, type StageRecord } from './stages.js';
export { train, resumeTraining, writeSamples, type TrainHook, type HookContext, type TrainOptions, type TrainResult, type ProgressEvent } from './trainer.js';
export {
  runPaths,
  stageRecordPath,
  samplesPath,
  hasRunConfig,
  readRunConfig,
  writeRunConfig,
  readMetrics,
  readStageRecord,
  listStageRecords,
  writeStageRecord,
  analysisKey,
  analysisCachePath,
  cachedAnalyses,
  type RunPaths,
  type MetricsLine,
  type AnalysisSubject,
  type CachedRun,
} from './rundir.js';
export { loadRun, sampleRun, type LoadedRun, type LoadRunOptions, type SampleOptions } from './run.js';
export { openTrainData, isTeacherData, type TrainData } from './data.js';
export { saveCheckpoint, loadLatestCheckpoint, listCheckpoints, findCheckpoint, verifyCheckpoint, type CheckpointState, type LoadedCheckpoint, type GuardState } from './checkpoint.js';
export { acquireRunLock, withRunLock, type RunLock, type LockInfo } from './lock.js';
export { DivergenceError, GUARD_ACTIONS, type GuardAction, type DivergenceReport, type NonFiniteUpdate } from './guard.js';
