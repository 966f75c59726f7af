// A device reports its failure exactly once (Device.onError): to the handler if one is
// set, otherwise kept and handed to the handler when it is registered (in a microtask).

export class ErrorOnce {
  private handler: ((err: Error) => void) | undefined;
  private pending: Error | undefined;
  private done = false;

  /** True once the error has reached a handler. */
  get reported(): boolean {
    return this.done;
  }

  setHandler(handler: (err: Error) => void): void {
    this.handler = handler;
    const pending = this.pending;
    if (pending !== undefined && !this.done) {
      this.pending = undefined;
      this.done = true;
      queueMicrotask(() => handler(pending));
    }
  }

  report(err: Error): void {
    if (this.done) return;
    const handler = this.handler;
    if (handler === undefined) {
      this.pending = err;
      return;
    }
    this.done = true;
    handler(err);
  }
}
