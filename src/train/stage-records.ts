/**
 * The stage records of a run (stages/<level>/stage.json, read and written by rundir.ts) as the trainer
 * keeps them: opened with the hashes of the stage's frozen and trained tensors when a stage starts, read
 * back (or rebuilt) when a run resumes inside a stage.
 */
import { hashVars, type Stage, type StageRecord } from './stages.js';
import type { Session } from './session.js';
import { readStageRecord, stageRecordPath, writeStageRecord } from './rundir.js';

/**
 * The record of the stage a resume continues. A missing or damaged one (deleted by hand, a disk error) is
 * rebuilt from the checkpoint with a warning: freezing is then verified from the resume step on
 * (`rebuiltAtStep`), since the hashes from the stage start are lost.
 */
export async function resumeStageRecord(runDir: string, s: Session, stage: Stage, say: (m: string) => void): Promise<StageRecord> {
  const read = await readStageRecord(runDir, stage.level);
  if ('record' in read) return read.record;
  say(`${stageRecordPath(runDir, stage.level)}: ${read.problem}; rebuilt from the checkpoint at step ${s.step}, so freezing is verified from this step on.`);
  const rec: StageRecord = { ...openStageRecord(s, stage), rebuiltAtStep: s.step };
  await writeStageRecord(runDir, rec);
  return rec;
}

/** A stage's record as it starts (or, rebuilt, from now): the hashes of its frozen and trained tensors. */
export function openStageRecord(s: Session, stage: Stage): StageRecord {
  return {
    level: stage.level,
    resolution: stage.resolution,
    mode: s.config.train.mode,
    discInput: stage.discInput,
    trainedLayers: stage.trained,
    frozenLayers: stage.frozen,
    frozenHashesStart: hashVars(s.learner.vars, stage.frozen),
    frozenHashesEnd: null,
    trainedHashesStart: hashVars(s.learner.vars, stage.trained),
    trainedHashesEnd: null,
    unchangedTrained: null,
    startStep: s.step - s.stageStep,
    endStep: null,
  };
}
