/**
 * ExitError is the error {@link exec} rejects with when the command exited with a non-zero code, or was
 * killed by a signal lifeline did not send. It carries the exit code or signal and the tail of stderr.
 */
export class ExitError extends Error {
  declare readonly name: "ExitError";
  /** command is the command that was run. */
  readonly command: string;
  /** exitCode is the exit code, or null when a signal ended the process. */
  readonly exitCode: number | null;
  /** signal is the signal that ended the process, or null. */
  readonly signal: NodeJS.Signals | null;
  /** stderrTail is the last few KiB of what the command wrote to stderr (decoded as UTF-8). */
  readonly stderrTail: string;
  constructor(command: string, exitCode: number | null, signal: NodeJS.Signals | null, stderrTail: string) {
    const how = exitCode !== null ? `exited with code ${exitCode}` : `was killed by ${signal ?? "a signal"}`;
    const tail = stderrTail.trimEnd();
    super(`${command} ${how}${tail ? `: ${tail.length > 300 ? `…${tail.slice(-300)}` : tail}` : ""}`);
    Object.defineProperty(this, "name", { value: "ExitError", writable: false, enumerable: false, configurable: true });
    this.command = command;
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderrTail = stderrTail;
  }
}

/**
 * MaxBufferError is the error {@link exec} rejects with when the command wrote more than `maxBuffer` bytes
 * to stdout or stderr; the command was stopped (its group killed) at that point.
 */
export class MaxBufferError extends Error {
  declare readonly name: "MaxBufferError";
  /** stream is the stream that went over the limit. */
  readonly stream: "stdout" | "stderr";
  /** maxBuffer is the limit, in bytes. */
  readonly maxBuffer: number;
  constructor(command: string, stream: "stdout" | "stderr", maxBuffer: number) {
    super(`${command} wrote more than ${maxBuffer} bytes to ${stream}; it was stopped`);
    Object.defineProperty(this, "name", { value: "MaxBufferError", writable: false, enumerable: false, configurable: true });
    this.stream = stream;
    this.maxBuffer = maxBuffer;
  }
}
