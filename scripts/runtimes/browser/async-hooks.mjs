// node:async_hooks' AsyncLocalStorage for the browser bundle (@lifeline/testing's tracker uses it to attribute what
// a test makes to that test). Browsers have no async context yet, so the store holds only during run()'s
// synchronous part: what is made after an await belongs to no test. The core's tests check leaks per file
// (`after(() => assertNoLeaks())`), which looks at everything regardless of the store, so they lose nothing.
export class AsyncLocalStorage {
  #store = undefined;
  getStore() {
    return this.#store;
  }
  run(store, fn, ...args) {
    const previous = this.#store;
    this.#store = store;
    try {
      return fn(...args);
    } finally {
      this.#store = previous;
    }
  }
}
