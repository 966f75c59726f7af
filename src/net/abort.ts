// One 'abort' listener per AbortSignal, however many operations share it. Each connect
// that takes a signal registers its callback here and unregisters it when it settles, so a
// signal shared by thousands of concurrent connects carries exactly one listener while any
// is pending (no MaxListenersExceededWarning) and none once they have all settled.

const watched = new WeakMap<AbortSignal, { callbacks: Set<() => void>; listener: () => void }>();

/**
 * Calls `callback` when `signal` aborts (in a microtask if it already has). Returns the
 * function that unregisters it; call it when the operation settles.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  if (signal.aborted) {
    let live = true;
    queueMicrotask(() => live && callback());
    return () => {
      live = false;
    };
  }
  let entry = watched.get(signal);
  if (!entry) {
    const callbacks = new Set<() => void>();
    const listener = () => {
      watched.delete(signal);
      for (const cb of [...callbacks]) cb();
      callbacks.clear();
    };
    entry = { callbacks, listener };
    watched.set(signal, entry);
    signal.addEventListener("abort", listener, { once: true });
  }
  const e = entry;
  e.callbacks.add(callback);
  return () => {
    if (!e.callbacks.delete(callback) || e.callbacks.size > 0) return;
    if (watched.get(signal) === e) {
      watched.delete(signal);
      signal.removeEventListener("abort", e.listener);
    }
  };
}
