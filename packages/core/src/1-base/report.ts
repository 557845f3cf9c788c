/**
 * report hands a failure that nobody is waiting for to the runtime's unhandled-rejection path, so it is
 * seen (logged, or fatal under Node's default `--unhandled-rejections=throw`) instead of dropped.
 */
export function report(error: unknown): void {
  void Promise.reject(error);
}
