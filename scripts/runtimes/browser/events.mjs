/* global EventTarget -- this module runs only in the browser bundle */
// node:events' getEventListeners for the browser bundle: browsers cannot list an EventTarget's listeners, so this
// module, when loaded (before the tests run), counts the registrations made through EventTarget.prototype's
// addEventListener/removeEventListener from then on, with the DOM's rules (the same listener and capture flag
// register once). Listeners added with `once` or `signal` would leave on their own, unseen: counting a target that
// has one throws, rather than give a wrong count.
const registry = new WeakMap(); // target → type → Map<listener, Set<capture>>
const unsure = new WeakMap(); // target → Set<type>: a once/signal listener was added

const capture = (options) => (typeof options === "boolean" ? options : Boolean(options?.capture));

const add = EventTarget.prototype.addEventListener;
const remove = EventTarget.prototype.removeEventListener;

EventTarget.prototype.addEventListener = function addEventListener(type, listener, options) {
  add.call(this, type, listener, options);
  if (listener == null) return;
  if (typeof options === "object" && options !== null && (options.once || options.signal !== undefined)) {
    if (!unsure.has(this)) unsure.set(this, new Set());
    unsure.get(this).add(type);
  }
  if (!registry.has(this)) registry.set(this, new Map());
  const byType = registry.get(this);
  if (!byType.has(type)) byType.set(type, new Map());
  const byListener = byType.get(type);
  if (!byListener.has(listener)) byListener.set(listener, new Set());
  byListener.get(listener).add(capture(options));
};

EventTarget.prototype.removeEventListener = function removeEventListener(type, listener, options) {
  remove.call(this, type, listener, options);
  const byListener = registry.get(this)?.get(type);
  const captures = byListener?.get(listener);
  if (captures === undefined) return;
  captures.delete(capture(options));
  if (captures.size === 0) byListener.delete(listener);
};

/** getEventListeners returns the listeners of `type` on `target` added since this module loaded. */
export function getEventListeners(target, type) {
  if (unsure.get(target)?.has(type)) {
    throw new Error(`getEventListeners (browser shim): a "${type}" listener was added with once or signal; cannot count`);
  }
  const out = [];
  for (const [listener, captures] of registry.get(target)?.get(type) ?? []) for (let i = 0; i < captures.size; i++) out.push(listener);
  return out;
}
