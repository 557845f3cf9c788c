// node:path, node:url and node:module for the browser bundle, as far as @lifeline/testing and the core's tests use
// them (POSIX paths only). A page's modules have http: URLs, not file: ones: fileURLToPath takes any URL and
// returns its path, so that a test comparing a stack with its own "file name" compares with the URL's path.
export const sep = "/";

export function dirname(path) {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return i === -1 ? "." : i === 0 ? "/" : path.slice(0, i);
}

export function join(...parts) {
  const joined = parts.filter((p) => p !== "").join("/").replace(/\/{2,}/g, "/");
  const out = [];
  for (const segment of joined.split("/")) {
    if (segment === "..") out.pop();
    else if (segment !== ".") out.push(segment);
  }
  return out.join("/") || ".";
}

export function fileURLToPath(url) {
  return decodeURIComponent(new URL(String(url)).pathname);
}

export function pathToFileURL(path) {
  return new URL(`file://${encodeURI(path)}`);
}

// createRequire(...).resolve throws: @lifeline/testing catches that and recognises its own frames by pattern.
export function createRequire() {
  return {
    resolve(id) {
      throw new Error(`require.resolve(${JSON.stringify(id)}) is not available in the browser`);
    },
  };
}
