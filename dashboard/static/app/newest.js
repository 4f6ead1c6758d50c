// Newest answer wins. Answers to requests can come back in another order than they were asked
// (a slow network, a busy server, two connections): a screen that draws each answer as it comes
// would then show the older one last. Each request takes a turn; only the newest turn may draw.
//
//   const current = this.turns.take();
//   const found = await api(...);
//   if (!current()) return; // a newer request was made meanwhile: its answer is the one to show
//
// or, for a list that is simply drawn: `const rules = await this.turns.latest("/api/alarm-rules");`

import { api } from "./api.js";
import { notify } from "./dom.js";

export class Turns {
  constructor() {
    this.count = 0;
  }

  /** Begin a request; returns a function telling whether it is still the newest one. */
  take() {
    const mine = ++this.count;
    return () => mine === this.count;
  }

  /** api(path, options) as a turn: its answer, or undefined when a newer turn was taken
   * meanwhile or the request failed (the failure is said only while this turn is the newest). */
  async latest(path, options) {
    const current = this.take();
    try {
      const answer = await api(path, options);
      return current() ? answer : undefined;
    } catch (error) {
      if (current()) notify(error.message, "error");
      return undefined;
    }
  }

  /** Make every request begun so far stale (what they were for is gone: the form was closed...). */
  drop() {
    this.count += 1;
  }
}
