/** Change events: the model emits, the views subscribe and redraw what they show. */

export type Listener = () => void;

export class Emitter {
  private readonly listeners = new Set<Listener>();
  private scheduled = false;

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells every listener, once per turn of the event loop however many changes there were. */
  emit(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const l of [...this.listeners]) l();
    });
  }
}
