/** The synthetic forward super-resolution teacher G* (docs/theory.md section 1; docs/teacher.md). */
export { defaultTeacherConfig, resolveTeacherConfig, teacherConfigFromFile, teacherShape, type TeacherConfig } from './config.js';
export { coherence, welchBound, edgeColorAtoms, decorrelate, makeDictionary, type Atoms } from './dictionary.js';
export {
  buildTeacher,
  sampleTeacher,
  disposeTeacher,
  blockAtoms,
  type Teacher,
  type TeacherLayerInfo,
  type TeacherSample,
} from './build.js';
export { teacherStats, type TeacherStats, type TeacherLayerStats } from './stats.js';
export { saveTeacher, loadTeacher, TEACHER_FORMAT, TEACHER_VERSION } from './io.js';
export { writeTeacherSamples, formatTeacherStats, type TeacherSampleOptions, type TeacherSampleReport } from './report.js';
