// @lifeline/node: lifeline for Node.js processes.
export { notifyContext, SignalReceivedError, type NotifyOptions } from "./signal.js";
export { taskDump, formatTaskDump, installDumpSignal, dumpHandler, type TaskDumpEntry } from "./dump.js";
