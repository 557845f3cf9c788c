import { cause, withCancelCause, type Context } from "@lifeline/core";
import { ExitError, MaxBufferError } from "./errors.js";
import { checkCommand, spawn, type SpawnOptions } from "./spawn.js";

/** ExecOptions are {@link SpawnOptions} (stdio aside) plus how to collect the output. */
export type ExecOptions = Omit<SpawnOptions, "stdio"> & {
  /** maxBuffer is the most bytes kept from stdout and from stderr each; more stops the command. Default: 16 MiB. */
  readonly maxBuffer?: number;
  /** encoding of stdout and stderr in the result: "utf8" (default) or "buffer" for the raw bytes. */
  readonly encoding?: "utf8" | "buffer";
  /** input is written to the command's stdin, which is then closed. Without it, stdin is empty. */
  readonly input?: string | Uint8Array;
};

/** ExecResult is what a command that exited with code 0 wrote, and its exit code. */
export interface ExecResult<T extends string | Buffer = string> {
  readonly stdout: T;
  readonly stderr: T;
  /** exitCode is always 0 here: any other exit rejects with ExitError. */
  readonly exitCode: number;
  /**
   * pipesClosed is true when the command's stdio was still held open `waitDelayMs` after it exited (by a
   * process it left behind): that process's group was killed and the pipes closed, so its output may be cut.
   */
  readonly pipesClosed: boolean;
}

const TAIL_BYTES = 4096;

/**
 * exec runs `command` with `args` through {@link spawn} (its own process group, the same stop ladder) and
 * returns a promise of its output once it exited with code 0 and its stdio closed (or `waitDelayMs` passed).
 *
 * It rejects with `ctx.err()` when the context stopped the command — after the group is gone (SIGTERM, then
 * SIGKILL after `graceMs`); with {@link ExitError} (exit code, signal, the tail of stderr) when it exited
 * otherwise; with {@link MaxBufferError} when it wrote more than `maxBuffer` bytes to one stream (it is
 * stopped through the same ladder); with the spawn error (ENOENT…) when it could not start. It does not
 * retry and does not run a shell unless `shell` is set (then the whole command line is `command`).
 *
 * @throws TypeError for bad input (see spawn), synchronously.
 */
export function exec(ctx: Context, command: string, args?: readonly string[], options?: ExecOptions & { readonly encoding?: "utf8" }): Promise<ExecResult<string>>;
export function exec(ctx: Context, command: string, args: readonly string[], options: ExecOptions & { readonly encoding: "buffer" }): Promise<ExecResult<Buffer>>;
export function exec(ctx: Context, command: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult<string | Buffer>> {
  checkCommand("exec", ctx, command, args, options);
  const { maxBuffer = 16 << 20, encoding = "utf8", input, ...rest } = options;
  if (typeof maxBuffer !== "number" || !(maxBuffer >= 0)) throw new TypeError(`exec: options.maxBuffer must be a number ≥ 0, got \`${String(maxBuffer)}\``);
  if (encoding !== "utf8" && encoding !== "buffer") throw new TypeError(`exec: options.encoding must be "utf8" or "buffer", got \`${String(encoding)}\``);
  if (input !== undefined && typeof input !== "string" && !(input instanceof Uint8Array)) {
    throw new TypeError(`exec: options.input must be a string or a Uint8Array, got \`${String(input)}\``);
  }
  const err = ctx.err();
  if (err !== undefined) return Promise.reject(err);
  return run(ctx, command, args, rest, maxBuffer, encoding, input);
}

async function run(
  ctx: Context,
  command: string,
  args: readonly string[],
  options: Omit<SpawnOptions, "stdio">,
  maxBuffer: number,
  encoding: "utf8" | "buffer",
  input: string | Uint8Array | undefined,
): Promise<ExecResult<string | Buffer>> {
  // A context of our own: going over maxBuffer stops the command through the same ladder as the caller's ctx.
  const [own, stop] = withCancelCause(ctx);
  try {
    const child = spawn(own, command, args, { ...options, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    const sizes = { stdout: 0, stderr: 0 };
    const collect = (stream: "stdout" | "stderr", into: Buffer[]) => (chunk: Buffer) => {
      sizes[stream] += chunk.length;
      if (sizes[stream] > maxBuffer) {
        stop(new MaxBufferError(command, stream, maxBuffer));
        return;
      }
      into.push(chunk);
    };
    child.stdout!.on("data", collect("stdout", out));
    child.stderr!.on("data", collect("stderr", errOut));
    child.stdin!.on("error", () => {}); // EPIPE when the command does not read its input
    child.stdin!.end(input);
    let result;
    try {
      result = await child.wait();
    } catch (error) {
      if (ctx.err() !== undefined) throw ctx.err();
      const why = cause(own);
      if (own.err() !== undefined && why instanceof MaxBufferError) throw why;
      throw error;
    }
    // Over the limit once the command had exited by itself: nothing was left to stop, but the output is cut.
    const why = cause(own);
    if (why instanceof MaxBufferError) throw why;
    const stderrBytes = Buffer.concat(errOut);
    if (result.exitCode !== 0) {
      throw new ExitError(command, result.exitCode, result.signal, stderrBytes.subarray(-TAIL_BYTES).toString("utf8"));
    }
    const stdoutBytes = Buffer.concat(out);
    return encoding === "buffer"
      ? { stdout: stdoutBytes, stderr: stderrBytes, exitCode: 0, pipesClosed: result.pipesClosed }
      : { stdout: stdoutBytes.toString("utf8"), stderr: stderrBytes.toString("utf8"), exitCode: 0, pipesClosed: result.pipesClosed };
  } finally {
    stop();
  }
}
