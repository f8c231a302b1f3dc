"use strict";
// The runs page: the start form and the list of runs (refreshed every second).
(() => {
  const { el, api, seconds, tokens, cost, cut } = window.pf;
  const form = document.getElementById("start");
  const jobSelect = document.getElementById("job");
  const errorLine = document.getElementById("form-error");
  let jobs = [];

  function showSize() {
    const job = jobs.find((j) => j.name === jobSelect.value);
    const label = document.getElementById("size-label");
    const input = document.getElementById("size");
    if (!job || !job.size) {
      label.hidden = true;
      input.disabled = true;
      return;
    }
    label.hidden = false;
    input.disabled = false;
    document.getElementById("size-name").textContent = job.size.label;
    input.min = job.size.min;
    input.max = job.size.max;
    input.value = job.size.default;
  }

  function fillJobs(found) {
    if (jobs.length) return;
    jobs = found;
    for (const job of jobs) jobSelect.append(el("option", { value: job.name, text: job.name }));
    if (jobs.some((j) => j.name === "website")) jobSelect.value = "website";
    showSize();
  }

  async function cancel(runId, button) {
    button.disabled = true;
    try {
      await api(`/api/runs/${encodeURIComponent(runId)}/cancel`, { method: "POST" });
    } catch (e) {
      errorLine.textContent = e.message;
    }
  }

  function row(run) {
    const link = el("a", { href: `/runs/${encodeURIComponent(run.run_id)}`, text: run.run_id });
    let action = null;
    if (run.status === "running" && run.live) {
      action = el("button", { type: "button", class: "small", text: "Cancel" });
      action.addEventListener("click", () => cancel(run.run_id, action));
    }
    return el(
      "tr",
      { "data-run": run.run_id, "data-status": run.status },
      el("td", {}, link),
      el("td", { text: run.job || run.flow }),
      el("td", { text: cut(run.brief, 60), title: run.brief || "" }),
      el("td", {}, el("span", { class: `pill ${run.status}`, text: run.status })),
      el("td", { class: "num", text: `${run.done}/${run.total}` }),
      el("td", { class: "num", text: seconds(run.elapsed_s) }),
      el("td", { class: "num", text: tokens(run.tokens) }),
      el("td", { class: "num", text: cost(run.cost) }),
      el("td", { class: "path", text: run.out || "" }),
      el("td", {}, action),
    );
  }

  async function refresh() {
    try {
      const data = await api("/api/runs");
      fillJobs(data.jobs);
      const body = document.querySelector("#runs tbody");
      body.replaceChildren(...data.runs.map(row));
      document.getElementById("runs-empty").hidden = data.runs.length > 0;
    } catch (e) {
      errorLine.textContent = e.message;
    }
  }

  jobSelect.addEventListener("change", showSize);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorLine.textContent = "";
    const fields = {};
    for (const [name, value] of new FormData(form)) fields[name] = String(value);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const started = await api("/api/runs", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(fields),
      });
      window.location.assign(started.url);
    } catch (e) {
      errorLine.textContent = e.message;
      button.disabled = false;
    }
  });

  refresh();
  setInterval(refresh, 1000);
})();
