/**
 * The simulator's checkers: each reads a run's history (../history.ts) and returns its violations.
 * @example
 * const violations = [...checkLinearizable(history), ...checkSessions(history)];
 */
export { checkLinearizable, DEFAULT_STEP_BUDGET, type LinearizabilityOptions } from "./linearizability.ts";
export { checkSessions } from "./sessions.ts";
export { describeCall } from "./describe.ts";
