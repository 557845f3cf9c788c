// @lifeline/process: child processes that stop, with their whole process group, when the context ends.
export { spawn, type Child, type SpawnOptions, type LadderOptions, type StopReport, type StoppedBy, type WaitResult } from "./spawn.js";
export { exec, type ExecOptions, type ExecResult } from "./exec.js";
export { ExitError, MaxBufferError } from "./errors.js";
