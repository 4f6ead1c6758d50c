// Newest answer wins. Answers to requests can come back in another order than they were asked
// (a slow network, a busy server, two connections): a screen that draws each answer as it comes
// would then show the older one last. Each request takes a turn; only the newest turn may draw.
//
//   const current = this.turns.take();
//   const found = await api(...);
//   if (!current()) return; // a newer request was made meanwhile: its answer is the one to show

export class Turns {
  constructor() {
    this.count = 0;
  }

  /** Begin a request; returns a function telling whether it is still the newest one. */
  take() {
    const mine = ++this.count;
    return () => mine === this.count;
  }

  /** Make every request begun so far stale (what they were for is gone: the form was closed...). */
  drop() {
    this.count += 1;
  }
}
