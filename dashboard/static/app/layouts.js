// Named wall layouts, saved per user through /api/layouts, and tours that cycle through them.
// These are methods of the wall (wall.js mixes them in): `this` is the wall.

import { api } from "./api.js";
import { notify, numberProblem, syncOptions } from "./dom.js";
import { t, translate } from "./i18n.js";
import { Turns } from "./newest.js";

const layoutLists = new Turns();

export const layoutMethods = {
  async refreshLayouts() {
    // Two layouts saved in a row (or a save while the wall opens): the list asked before the
    // second save, answered last, left the new layout out of the list until the next visit.
    const layouts = await layoutLists.latest("/api/layouts");
    if (!layouts) return;
    this.layouts = layouts;
    syncOptions(this.layoutSelect, [["", "", "wall.choose_layout"],
      ...this.layouts.map((layout) => [String(layout.id), `${layout.name} (${layout.tiles})`])]);
  },

  loadLayout(id) {
    const layout = this.layouts.find((l) => String(l.id) === String(id));
    if (!layout) return;
    this.cells = layout.cameras.slice();
    this.layoutName.value = layout.name;
    this.build(layout.tiles);
  },

  async saveLayout() {
    const name = this.layoutName.value.trim();
    if (!name) {
      notify(t("wall.layout_name_needed"), "error");
      this.layoutName.focus();
      return;
    }
    try {
      const saved = await api("/api/layouts", { method: "PUT",
        body: { name, tiles: this.size, cameras: this.cells.slice(0, this.size).map((c) => c || null) } });
      await this.refreshLayouts();
      this.layoutSelect.value = String(saved.id);
      notify(t("wall.layout_saved", { name }));
    } catch (error) {
      notify(error.message, "error");
    }
  },

  async deleteLayout() {
    const id = this.layoutSelect.value;
    if (!id) return;
    try {
      await api(`/api/layouts/${encodeURIComponent(id)}`, { method: "DELETE" });
      await this.refreshLayouts();
    } catch (error) {
      notify(error.message, "error");
    }
  },

  toggleTour() {
    if (this.tour) {
      clearInterval(this.tour.timer);
      this.tour = null;
      translate(this.tourButton, "wall.tour_start");
      this.tourButton.classList.remove("active");
      return;
    }
    // Refused, not silently raised to the minimum: the operator would think the tour runs at 2 s.
    const problem = numberProblem(this.tourSeconds, "wall.tour_seconds");
    if (problem) {
      notify(problem, "error");
      this.tourSeconds.focus();
      return;
    }
    if (this.layouts.length < 1) {
      notify(t("wall.tour_needs_layouts"), "error");
      return;
    }
    const seconds = Number(this.tourSeconds.value) || 30;
    this.tour = { position: 0, timer: null };
    const step = () => {
      if (!this.layouts.length) return;
      const layout = this.layouts[this.tour.position % this.layouts.length];
      this.tour.position += 1;
      this.loadLayout(layout.id);
      this.layoutSelect.value = String(layout.id);
    };
    step();
    this.tour.timer = setInterval(step, seconds * 1000);
    translate(this.tourButton, "wall.tour_stop");
    this.tourButton.classList.add("active");
  },
};
