"use strict";
// The run page: a WebSocket subscription that resumes after the last seq seen, the Gantt,
// k/N, tokens and cost, the event log. Message format: docs/web.md.
(() => {
  const { el, api, seconds, tokens, cost } = window.pf;
  const runId = decodeURIComponent(window.location.pathname.split("/").pop());
  const gantt = new window.Gantt();
  const LOG_MAX = 400;
  const state = {
    lastSeq: -1, events: 0, duplicates: 0, gaps: 0, reconnects: 0, finished: false,
    paused: false, tokens: 0, cost: 0, status: "running", live: false, socket: null,
    seenT: 0, seenAt: 0, delay: 250, summary: null,
  };
  const $ = (id) => document.getElementById(id);
  $("run-id").textContent = runId;
  document.title = `phasefarm · ${runId}`;

  // now, in run seconds: the last event's t plus what passed since it arrived
  function now() {
    if (state.finished || state.status !== "running") return gantt.end;
    return state.seenT + (performance.now() - state.seenAt) / 1000;
  }

  function logLine(e) {
    const d = e.data || {};
    let text = e.kind;
    if (e.phase) text += ` ${e.phase}`;
    if (e.kind === "progress") text += ` ${d.done}/${d.total}`;
    else if (d.error) text += `: ${d.error}`;
    else if (e.kind === "limiter.wait") text += ` waited ${d.seconds} s`;
    else if (e.kind === "usage") text += ` ${d.tokens || 0} tokens`;
    else if (e.kind === "run.finished") text += ` ${d.status}`;
    return el("li", { class: e.kind.replace(".", "-") },
      el("span", { class: "t", text: `#${e.seq} ${e.t.toFixed(3)}` }), ` ${text}`);
  }

  function apply(events) {
    const lines = [];
    for (const e of events) {
      if (e.seq <= state.lastSeq) { state.duplicates += 1; continue; }
      if (state.lastSeq >= 0 && e.seq !== state.lastSeq + 1) state.gaps += 1;
      state.lastSeq = e.seq;
      state.events += 1;
      gantt.apply(e);
      if (e.kind === "usage") {
        state.tokens += (e.data && e.data.tokens) || 0;
        state.cost += (e.data && e.data.cost) || 0;
      } else if (e.kind === "run.started") {
        state.status = "running";
      } else if (e.kind === "run.finished") {
        state.status = e.data.status;
      }
      lines.push(logLine(e));
    }
    state.seenT = gantt.end;
    state.seenAt = performance.now();
    const log = $("log");
    log.append(...lines);
    while (log.childElementCount > LOG_MAX) log.firstElementChild.remove();
    draw();
  }

  function showSummary(run) {
    state.summary = run;
    state.live = Boolean(run.live);
    if (run.brief) $("brief").textContent = `${run.job}: ${run.brief}`;
    const links = [];
    const base = `/runs/${encodeURIComponent(runId)}/files/`;
    if (run.site) links.push(el("a", { href: base, target: "_blank", rel: "noopener", text: "generated site" }));
    if (run.preview) links.push(el("a", { href: `${base}preview/`, target: "_blank", rel: "noopener", text: "app preview" }));
    if (run.out) links.push(el("span", { class: "path", text: run.out }));
    $("links").replaceChildren(...links.flatMap((l, i) => (i ? [" · ", l] : [l])));
    if (run.graph) gantt.graph = run.graph;
  }

  function draw() {
    const c = gantt.counts();
    $("kn").textContent = `${c.succeeded}/${gantt.total}`;
    const bad = [];
    if (c.failed) bad.push(`${c.failed} failed`);
    if (c.skipped) bad.push(`${c.skipped} skipped`);
    if (c.cancelled) bad.push(`${c.cancelled} cancelled`);
    if (c.running) bad.push(`${c.running} running`);
    $("bad").textContent = bad.join(" · ");
    $("status").textContent = state.status;
    $("status").className = `pill ${state.status}`;
    $("elapsed").textContent = seconds(now());
    $("tokens").textContent = tokens(state.tokens);
    $("cost").textContent = cost(state.cost);
    $("cancel").hidden = !(state.live && state.status === "running");
    gantt.render($("gantt"), now());
  }

  function setConnection(text) {
    $("connection").textContent = text;
    $("connection").className = `pill ${text}`;
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(
      `${scheme}://${window.location.host}/api/runs/${encodeURIComponent(runId)}/events`);
    state.socket = socket;
    socket.addEventListener("open", () => {
      setConnection("live");
      socket.send(JSON.stringify({ type: "subscribe", after: state.lastSeq }));
    });
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "events") {
        state.delay = 250;
        apply(data.events);
      } else if (data.type === "hello") {
        showSummary(data.run);
        draw();
      } else if (data.type === "end") {
        state.finished = true;
        showSummary(data.run);
        state.live = false;
        draw();
        setConnection("finished");
      } else if (data.type === "error") {
        $("run-error").textContent = data.error;
      }
    });
    socket.addEventListener("close", () => {
      if (state.socket !== socket) return;
      state.socket = null;
      if (state.finished) return;
      if (state.paused) { setConnection("paused"); return; }
      setConnection("reconnecting");
      state.reconnects += 1;
      setTimeout(connect, state.delay);
      state.delay = Math.min(5000, state.delay * 2);
    });
  }

  $("cancel").addEventListener("click", async () => {
    $("cancel").disabled = true;
    try {
      await api(`/api/runs/${encodeURIComponent(runId)}/cancel`, { method: "POST" });
    } catch (e) {
      $("run-error").textContent = e.message;
      $("cancel").disabled = false;
    }
  });

  function tick() {
    if (!state.finished && state.status === "running") draw();
    setTimeout(() => requestAnimationFrame(tick), 100);
  }

  // for tests and curious people: the model, and a way to cut the connection and resume it
  window.phasefarmRun = {
    state, gantt,
    pause() { state.paused = true; if (state.socket) state.socket.close(); },
    resume() { state.paused = false; state.reconnects += 1; connect(); },
  };
  connect();
  tick();
})();
