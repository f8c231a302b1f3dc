"use strict";
// The run's phases as a Gantt: a model fed with events in seq order, and its drawing.
// One bar per phase; map items (`images[3]`) and template phases (`implement[src/app.js]`)
// grouped under their map/template; retries and rate-limit waits drawn on the bar; wave
// dividers in waves mode; the critical path marked.
(() => {
  const { el } = window.pf;
  const TERMINAL = new Set(["succeeded", "failed", "skipped", "cancelled"]);

  function groupOf(key) {
    const at = key.indexOf("[");
    return at > 0 ? key.slice(0, at) : key;
  }

  // a row of time ticks at a readable step (at most about 8 of them)
  function axis(span, pct) {
    const steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600];
    const step = steps.find((s) => span / s <= 8) || 3600;
    const ticks = [];
    for (let t = 0; t <= span; t += step) {
      const tick = el("div", { class: "tick", text: `${+t.toFixed(2)} s` });
      tick.style.left = pct(t);
      ticks.push(tick);
    }
    return el("div", { class: "lane axis" }, el("div", { class: "name", text: "" }),
      el("div", { class: "track" }, ...ticks));
  }

  class Gantt {
    constructor() {
      this.phases = new Map(); // key -> phase, in first-seen order
      this.graph = { waves: [], critical_path: [] };
      this.mode = null;
      this.total = 0;
      this.end = 0; // latest t seen
    }

    phase(key) {
      let p = this.phases.get(key);
      if (!p) {
        p = { key, group: groupOf(key), status: "pending", start: null, end: null,
              attempts: 0, retries: [], waits: [], restored: false };
        this.phases.set(key, p);
      }
      return p;
    }

    apply(e) {
      this.end = Math.max(this.end, e.t);
      const d = e.data || {};
      switch (e.kind) {
        case "run.started":
          this.mode = d.mode;
          this.total = Math.max(this.total, d.total || 0);
          return;
        case "progress":
          this.total = d.total;
          return;
        case "phase.added":
          this.phase(e.phase);
          return;
        case "phase.started": {
          const p = this.phase(e.phase);
          if (p.start === null) p.start = e.t;
          p.status = "running";
          p.end = null;
          p.attempts = d.attempt || p.attempts + 1;
          return;
        }
        case "phase.retrying":
          this.phase(e.phase).retries.push(e.t);
          return;
        case "limiter.wait": {
          const p = this.phase(e.phase);
          p.waits.push([Math.max(0, e.t - (d.seconds || 0)), e.t]);
          return;
        }
        case "llm.retry":
          this.phase(e.phase).retries.push(e.t);
          return;
        default:
          if (e.phase && e.kind.startsWith("phase.")) {
            const status = e.kind.slice(6);
            if (!TERMINAL.has(status)) return;
            const p = this.phase(e.phase);
            p.status = status;
            p.end = e.t;
            if (p.start === null) p.start = e.t;
            if (d.restored) p.restored = true;
            if (d.attempts) p.attempts = d.attempts;
          }
      }
    }

    counts() {
      const c = { succeeded: 0, failed: 0, skipped: 0, cancelled: 0, running: 0 };
      for (const p of this.phases.values()) if (p.status in c) c[p.status] += 1;
      return c;
    }

    // what a test compares between two clients: everything but wall-clock details
    snapshot() {
      return [...this.phases.values()].map((p) => ({
        key: p.key, status: p.status, start: p.start, end: p.end, attempts: p.attempts,
        retries: p.retries.length, waits: p.waits.length,
      }));
    }

    // rows: each group's own phase first (a map's node), then its items, in first-seen order
    rows() {
      const groups = new Map();
      for (const p of this.phases.values()) {
        if (!groups.has(p.group)) groups.set(p.group, []);
        groups.get(p.group).push(p);
      }
      const rows = [];
      for (const [group, members] of groups) {
        members.sort((a, b) => (a.key === group ? -1 : b.key === group ? 1 : 0));
        members.forEach((p, i) => rows.push({ p, item: p.key !== group, first: i === 0,
                                               size: members.length }));
      }
      return rows;
    }

    render(container, now) {
      const span = Math.max(now, this.end, 0.001);
      const pct = (t) => `${((100 * t) / span).toFixed(3)}%`;
      const critical = new Set(this.graph.critical_path || []);
      const level = new Map();
      (this.graph.waves || []).forEach((names, i) => names.forEach((n) => level.set(n, i)));
      const lanes = [axis(span, pct)];
      for (const { p, item, first, size } of this.rows()) {
        const end = p.end === null ? now : p.end;
        const start = p.start === null ? end : p.start;
        const bar = el("div", {
          class: `bar ${p.status}${critical.has(p.group) ? " critical" : ""}`,
          "data-key": p.key, "data-status": p.status,
          title: `${p.key}: ${p.status}, ${(end - start).toFixed(2)} s, attempt ${p.attempts}` +
                 (p.waits.length ? `, ${p.waits.length} rate-limit waits` : "") +
                 (p.retries.length ? `, ${p.retries.length} retries` : ""),
        });
        bar.style.left = pct(start);
        bar.style.width = `max(2px, ${pct(Math.max(0, end - start))})`;
        const track = el("div", { class: "track" }, bar);
        for (const [a, b] of p.waits) {
          const wait = el("div", { class: "wait", title: `waited ${(b - a).toFixed(2)} s` });
          wait.style.left = pct(a);
          wait.style.width = `max(2px, ${pct(b - a)})`;
          track.append(wait);
        }
        for (const t of p.retries) {
          const mark = el("div", { class: "retry", title: "retry" });
          mark.style.left = pct(t);
          track.append(mark);
        }
        const label = item ? `  ${p.key.slice(p.group.length)}` : p.key + (size > 1 ? ` (${size - 1})` : "");
        lanes.push(el("div", { class: `lane${item ? " item" : ""}${first && !item ? " group" : ""}` },
          el("div", { class: "name", title: p.key, text: label }), track));
      }
      const dividers = [];
      if (this.mode === "waves" && level.size) {
        const starts = new Map();
        for (const p of this.phases.values()) {
          const l = level.get(p.group);
          if (l === undefined || p.start === null || p.restored) continue;
          starts.set(l, Math.min(starts.has(l) ? starts.get(l) : Infinity, p.start));
        }
        for (const [l, t] of starts) {
          if (l === 0) continue;
          const line = el("div", { class: "divider", title: `wave ${l + 1}`, text: `wave ${l + 1}` });
          line.style.left = pct(t);
          dividers.push(line);
        }
      }
      const overlay = el("div", { class: "dividers" }, ...dividers);
      container.replaceChildren(...lanes, overlay);
    }
  }

  window.Gantt = Gantt;
})();
