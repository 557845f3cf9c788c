// What a browser cannot do (child processes, files, sockets): each stands in for a Node API and throws a
// NodeOnlyError when called, so a test that needs one fails loudly; scripts/runtimes/exclusions.mjs lists, with
// reasons, the tests that are not run in the browser for that.
export class NodeOnlyError extends Error {
  constructor(api) {
    super(`${api} is Node-only: not available in the browser (list the test in scripts/runtimes/exclusions.mjs)`);
    this.name = "NodeOnlyError";
  }
}

/** nodeOnly returns a function that throws a NodeOnlyError naming `api`. */
export function nodeOnly(api) {
  return () => {
    throw new NodeOnlyError(api);
  };
}
