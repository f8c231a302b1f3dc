# ruff: noqa: E501  (the JavaScript templates keep their own line lengths)
"""The offline app's modules beside the shell: DOM helpers, the views, stats, theme, shortcuts."""

from __future__ import annotations

from phasefarm.pipelines.app.offline_text import AppFacts, fill, js_literal

__all__ = [
    "agenda_view",
    "generic_view",
    "list_view",
    "shortcuts_js",
    "stats_js",
    "summary_view",
    "theme_js",
    "ui_js",
]


def ui_js(f: AppFacts, planned: set[str]) -> str:
    js = """// Small DOM helpers shared by the views.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else if (value !== false && value != null) node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child != null));
  return node;
}

export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(`${iso}T00:00:00`);
  return date.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
}

export function emptyState(text) {
  return el("p", { class: "empty" }, text);
}
"""
    if "js/views/agenda.js" in planned:
        js += """
export function groupBy(items, key) {
  const groups = new Map();
  for (const item of items) {
    const name = key(item);
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(item);
  }
  return groups;
}

export function searchTerm() {
  const box = document.getElementById("search");
  return box ? box.value.trim().toLowerCase() : "";
}

export function matches(item, term) {
  return !term || `${item.title} ${item.category}`.toLowerCase().includes(term);
}
"""
    return js


def list_view(f: AppFacts, planned: set[str]) -> str:
    options = ", ".join(js_literal(c) for c in f.categories)
    return fill(
        """// The main view: add {{plural}}, tick them off, remove them.
import * as store from "../store.js";
import { el, emptyState, formatDate } from "../ui.js";

const CATEGORIES = [{{options}}];

export function render(root) {
  const title = el("input", { name: "title", required: true, placeholder: {{placeholder}}, "aria-label": {{noun_label}} });
  const category = el("select", { name: "category", "aria-label": "Category" },
    ...CATEGORIES.map((name) => el("option", { value: name }, name)));
  const date = el("input", { name: "date", type: "date", "aria-label": {{date_label}} });
  const form = el("form", { class: "add-form card", onsubmit: (event) => {
    event.preventDefault();
    if (!title.value.trim()) return;
    store.add({ title: title.value, category: category.value, date: date.value });
    form.reset();
    title.focus();
  } }, title, category, date, el("button", { type: "submit" }, {{add_label}}));
  const list = el("ul", { class: "items", id: "items" });
  const panel = el("section", { class: "card" }, el("h2", {}, {{heading}}), list);

  function draw(items) {
    list.replaceChildren(...items.map((item) => el("li", { class: item.done ? "done" : "" },
      el("input", { type: "checkbox", checked: item.done, "aria-label": `Done: ${item.title}`,
        onchange: () => store.toggle(item.id) }),
      el("span", { class: "item-title" }, item.title),
      el("span", { class: "item-meta" }, [item.category, formatDate(item.date)].filter(Boolean).join(" · ")),
      el("button", { class: "link", type: "button", onclick: () => store.remove(item.id) }, "Remove"))));
    if (!items.length) list.append(emptyState({{empty}}));
  }

  root.append(form, panel);
  draw(store.all());
  return store.subscribe(draw);
}
""",
        plural=f.plural,
        options=options,
        placeholder=js_literal(f"New {f.noun}"),
        noun_label=js_literal(f"{f.noun.capitalize()} title"),
        date_label=js_literal(f.date_label),
        add_label=js_literal(f"Add {f.noun}"),
        heading=js_literal(f"Your {f.plural}"),
        empty=js_literal(f"No {f.plural} yet: add the first one above."),
    )


def agenda_view(f: AppFacts, planned: set[str]) -> str:
    return fill(
        """// The agenda: {{plural}} grouped by day, filtered by the search box.
import * as store from "../store.js";
import { el, emptyState, formatDate, groupBy, matches, searchTerm } from "../ui.js";

export function render(root) {
  const body = el("section", { class: "card" });
  root.append(el("h2", {}, "Agenda"), body);

  function draw() {
    const term = searchTerm();
    const items = store.all().filter((item) => matches(item, term))
      .sort((a, b) => (a.date || "9999").localeCompare(b.date || "9999"));
    const groups = groupBy(items, (item) => item.date || "");
    body.replaceChildren(...[...groups].map(([day, dayItems]) => el("div", { class: "agenda-day" },
      el("h3", {}, day ? formatDate(day) : {{undated}}),
      el("ul", { class: "items" }, ...dayItems.map((item) => el("li", { class: item.done ? "done" : "" },
        el("span", { class: "item-title" }, item.title),
        el("span", { class: "item-meta" }, item.category)))))));
    if (!items.length) body.append(emptyState(term ? "Nothing matches your search." : {{empty}}));
  }

  const box = document.getElementById("search");
  if (box) box.addEventListener("input", draw);
  const stop = store.subscribe(draw);
  draw();
  return () => {
    stop();
    if (box) box.removeEventListener("input", draw);
  };
}
""",
        plural=f.plural,
        undated=js_literal(f"No {f.date_label.lower()} set"),
        empty=js_literal(f"No {f.plural} planned."),
    )


def stats_js(f: AppFacts, planned: set[str]) -> str:
    return fill(
        """// Counts over the {{plural}}; also keeps the footer's status line current.
import * as store from "./store.js";

export function summarize(items) {
  const byCategory = {};
  for (const item of items) byCategory[item.category] = (byCategory[item.category] || 0) + 1;
  const done = items.filter((item) => item.done).length;
  return { total: items.length, done, open: items.length - done, byCategory };
}

const status = document.getElementById("status");
if (status) {
  const update = (items) => {
    const { total, done } = summarize(items);
    status.textContent = `${done} of ${total} {{plural}} done`;
  };
  store.load();
  store.subscribe(update);
  update(store.all());
}
""",
        plural=f.plural,
    )


def summary_view(f: AppFacts, planned: set[str]) -> str:
    return fill(
        """// The summary: how many {{plural}} are open and done, per category.
import * as store from "../store.js";
import { summarize } from "../stats.js";
import { el } from "../ui.js";

export function render(root) {
  const body = el("section", { class: "card" });
  root.append(el("h2", {}, "Summary"), body);

  function draw(items) {
    const { total, done, open, byCategory } = summarize(items);
    body.replaceChildren(
      el("p", {}, `${open} open, ${done} done, ${total} in all.`),
      el("ul", { class: "items" }, ...Object.entries(byCategory).map(([name, count]) =>
        el("li", {}, el("span", { class: "item-title" }, name), el("span", { class: "item-meta" }, String(count))))),
      el("button", { type: "button", onclick: () => store.clearDone(), disabled: done === 0 }, "Clear done"),
    );
  }

  draw(store.all());
  return store.subscribe(draw);
}
""",
        plural=f.plural,
    )


def theme_js(f: AppFacts, planned: set[str]) -> str:
    return fill(
        """// Light and dark themes; the choice is remembered.
const KEY = {{key}};

export function initTheme(header) {
  const saved = localStorage.getItem(KEY);
  const prefersDark = window.matchMedia("(prefers-color-scheme: dark)").matches;
  apply(saved || (prefersDark ? "dark" : "light"));
  const button = document.createElement("button");
  button.type = "button";
  button.className = "theme-toggle";
  button.textContent = "Toggle theme";
  button.addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    localStorage.setItem(KEY, next);
    apply(next);
  });
  if (header) header.append(button);
}

function apply(theme) {
  document.documentElement.dataset.theme = theme;
}
""",
        key=js_literal(f"{f.slug}-theme"),
    )


def shortcuts_js(f: AppFacts, planned: set[str]) -> str:
    return """// Keyboard shortcuts: 1-9 switch views, "n" starts a new entry, "/" searches.
export function initShortcuts(routes) {
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.metaKey || event.ctrlKey || event.altKey) return;
    if (target instanceof HTMLElement && target.closest("input, select, textarea")) return;
    const index = Number.parseInt(event.key, 10);
    if (index >= 1 && index <= routes.length) {
      location.hash = `#/${routes[index - 1].id}`;
    } else if (event.key === "n") {
      const title = document.querySelector('input[name="title"]');
      if (title) {
        event.preventDefault();
        title.focus();
      }
    } else if (event.key === "/") {
      const search = document.getElementById("search");
      if (search) {
        event.preventDefault();
        search.focus();
      }
    }
  });
}
"""


def generic_view(f: AppFacts, view_id: str, planned: set[str]) -> str:
    title = dict(f.views).get(view_id, view_id.capitalize())
    return fill(
        """// {{title}}: the {{plural}} seen from one more angle.
import * as store from "../store.js";

export function render(root) {
  const heading = document.createElement("h2");
  heading.textContent = {{title_js}};
  const list = document.createElement("ol");
  list.className = "items";
  root.append(heading, list);

  function draw(items) {
    list.replaceChildren(...items.map((item) => {
      const row = document.createElement("li");
      row.textContent = `${item.title} (${item.category})`;
      return row;
    }));
  }

  draw(store.all());
  return store.subscribe(draw);
}
""",
        title=title,
        title_js=js_literal(title),
        plural=f.plural,
    )
