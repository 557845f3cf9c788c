import { afterFunc, type Context } from "@lifeline/core";

/**
 * @internal race settles with `p`, or rejects with `ctx.err()` as soon as ctx ends. A Redis command already
 * sent cannot be taken back (redis/ioredis#2074): the caller documents what happens to it.
 */
export function race<T>(ctx: Context, p: Promise<T>): Promise<T> {
  const err = ctx.err();
  if (err !== undefined) {
    p.catch(() => {}); // the command's own outcome no longer has a reader
    return Promise.reject(err);
  }
  return new Promise<T>((resolve, reject) => {
    const stop = afterFunc(ctx, () => {
      p.catch(() => {});
      reject(ctx.err());
    });
    p.then(
      (v) => {
        stop();
        resolve(v);
      },
      (e: unknown) => {
        stop();
        reject(e as Error);
      },
    );
  });
}
