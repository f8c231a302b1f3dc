# ruff: noqa: E501  (the JavaScript, CSS and HTML templates keep their own line lengths)
"""The files the offline provider writes: a small working static app, phase by phase.

`render_file(path, facts, planned)` gives a file as it stands once the phases that planned the
paths in `planned` are done: the shell and store of phase 1, then the main list view, the agenda
with search, the summary, the theme and shortcuts. The code is what a careful engineer writes
by hand (ES modules, no build step, no network), and it passes `validate.py`'s tools.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["AppFacts", "render_file"]


@dataclass(frozen=True)
class AppFacts:
    title: str
    description: str
    slug: str
    noun: str
    plural: str
    categories: tuple[str, ...]
    date_label: str
    views: tuple[tuple[str, str], ...]  # (id, title)
    palette: dict[str, str]
    samples: tuple[str, ...]


def _fill(text: str, **values: str) -> str:
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)


def _js(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _html_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _index_html(f: AppFacts, planned: set[str]) -> str:
    nav = "\n".join(
        f'        <a href="#/{vid}" data-view="{vid}">{_html_escape(title)}</a>'
        for vid, title in f.views
    )
    search = (
        '\n      <input type="search" id="search" placeholder="Search '
        f'{_html_escape(f.plural)}" aria-label="Search {_html_escape(f.plural)}">'
        if "js/views/agenda.js" in planned
        else ""
    )
    status = (
        '\n      <p id="status" aria-live="polite"></p>\n'
        '      <script type="module" src="js/stats.js"></script>'
        if "js/stats.js" in planned
        else ""
    )
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="description" content="{_html_escape(f.description)}">
    <title>{_html_escape(f.title)}</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="css/style.css">
    <script type="module" src="js/app.js"></script>
  </head>
  <body>
    <header class="app-header">
      <h1 class="app-title">{_html_escape(f.title)}</h1>
      <nav class="app-nav" aria-label="Views">
{nav}
      </nav>{search}
    </header>
    <main id="view" class="app-view" tabindex="-1"></main>
    <footer class="app-footer">
      <p>{_html_escape(f.description)}</p>{status}
    </footer>
  </body>
</html>
"""


def _style_css(f: AppFacts, planned: set[str]) -> str:
    p = f.palette
    css = f""":root {{
  --bg: {p["background"]};
  --surface: {p["surface"]};
  --text: {p["text"]};
  --muted: {p["muted"]};
  --accent: {p["accent"]};
  --radius: 10px;
  --gap: 1rem;
  font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
}}

* {{ box-sizing: border-box; }}

body {{
  margin: 0;
  background: var(--bg);
  color: var(--text);
  line-height: 1.5;
}}

.app-header {{
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: var(--gap);
  padding: 1rem 1.5rem;
  background: var(--surface);
  border-bottom: 3px solid var(--accent);
}}

.app-title {{ margin: 0; font-size: 1.4rem; }}

.app-nav {{ display: flex; gap: 0.5rem; }}

.app-nav a {{
  color: var(--text);
  text-decoration: none;
  padding: 0.35rem 0.75rem;
  border-radius: var(--radius);
}}

.app-nav a[aria-current="page"] {{ background: var(--accent); color: var(--surface); }}

.app-view {{ max-width: 52rem; margin: 0 auto; padding: 1.5rem; }}

.app-footer {{ color: var(--muted); text-align: center; padding: 2rem 1rem; font-size: 0.9rem; }}

.card {{
  background: var(--surface);
  border-radius: var(--radius);
  padding: 1rem 1.25rem;
  margin-bottom: var(--gap);
  box-shadow: 0 1px 3px rgba(0, 0, 0, 0.08);
}}

form.add-form {{ display: grid; grid-template-columns: 2fr 1fr 1fr auto; gap: 0.5rem; }}

input, select, button {{ font: inherit; padding: 0.45rem 0.6rem; border-radius: 6px; }}

input, select {{ border: 1px solid var(--muted); background: var(--bg); color: var(--text); }}

button {{ border: 0; background: var(--accent); color: var(--surface); cursor: pointer; }}

button.link {{ background: none; color: var(--muted); text-decoration: underline; }}

.items {{ list-style: none; margin: 0; padding: 0; }}

.items li {{
  display: flex;
  align-items: center;
  gap: 0.75rem;
  padding: 0.6rem 0;
  border-bottom: 1px solid rgba(0, 0, 0, 0.08);
}}

.items li.done .item-title {{ text-decoration: line-through; color: var(--muted); }}

.item-meta {{ margin-left: auto; color: var(--muted); font-size: 0.85rem; }}

.empty {{ color: var(--muted); font-style: italic; }}

@media (max-width: 40rem) {{
  form.add-form {{ grid-template-columns: 1fr; }}
}}
"""
    if "js/views/agenda.js" in planned:
        css += """
#search { margin-left: auto; min-width: 12rem; }

.agenda-day h3 { margin: 0 0 0.5rem; font-size: 1rem; color: var(--accent); }

.agenda-day + .agenda-day { margin-top: var(--gap); }
"""
    if "js/theme.js" in planned:
        css += """
:root[data-theme="dark"] {
  --bg: #15171c;
  --surface: #1f232b;
  --text: #eef0f4;
  --muted: #a3a9b6;
}

.theme-toggle { background: none; border: 1px solid var(--muted); color: var(--text); }

:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }

@media (prefers-reduced-motion: reduce) {
  * { transition: none !important; animation: none !important; }
}
"""
    return css


def _store_js(f: AppFacts, planned: set[str]) -> str:
    js = _fill(
        """// The {{plural}} of {{title}}, kept in localStorage; views subscribe to changes.
const KEY = {{key}};
let items = [];
const listeners = new Set();

function save() {
  localStorage.setItem(KEY, JSON.stringify(items));
  for (const listener of listeners) listener(items);
}

export function load() {
  try {
    items = JSON.parse(localStorage.getItem(KEY) || "[]");
  } catch {
    items = [];
  }
  return items;
}

export function all() {
  return [...items];
}

export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function add({ title, category, date }) {
  const item = {
    id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random()),
    title: title.trim(),
    category,
    date,
    done: false,
  };
  items = [item, ...items];
  save();
  return item;
}
""",
        plural=f.plural,
        title=f.title,
        key=_js(f"{f.slug}-{f.plural}-v1"),
    )
    if "js/views/" + f.views[0][0] + ".js" in planned:
        js += """
export function toggle(id) {
  items = items.map((item) => (item.id === id ? { ...item, done: !item.done } : item));
  save();
}

export function remove(id) {
  items = items.filter((item) => item.id !== id);
  save();
}
"""
    if "data/sample.json" in planned:
        js += """
// First visit: start from the sample data shipped with the app.
export async function seed(url = "data/sample.json") {
  if (localStorage.getItem(KEY) !== null) return;
  const response = await fetch(url);
  if (!response.ok) return;
  const samples = await response.json();
  items = samples.map((sample, index) => ({ id: `sample-${index}`, done: false, ...sample }));
  save();
}
"""
    if "js/stats.js" in planned:
        js += """
export function clearDone() {
  items = items.filter((item) => !item.done);
  save();
}
"""
    return js


def _app_js(f: AppFacts, planned: set[str]) -> str:
    routes = ",\n".join(
        f'  {{ id: {_js(vid)}, title: {_js(title)}, load: () => import("./views/{vid}.js") }}'
        for vid, title in f.views
    )
    extra_imports = ""
    extra_init = ""
    if "js/theme.js" in planned:
        extra_imports += 'import { initTheme } from "./theme.js";\n'
        extra_init += 'initTheme(document.querySelector(".app-header"));\n'
    if "js/shortcuts.js" in planned:
        extra_imports += 'import { initShortcuts } from "./shortcuts.js";\n'
        extra_init += "initShortcuts(routes);\n"
    seed = "store.seed().catch(() => {});\n" if "data/sample.json" in planned else ""
    return _fill(
        """// {{title}}: a hash router that loads each view's module when it is first shown.
import * as store from "./store.js";
{{imports}}
export const routes = [
{{routes}},
];

const outlet = document.getElementById("view");
let cleanup = null;

async function show() {
  const id = location.hash.replace(/^#\\/?/, "") || routes[0].id;
  const route = routes.find((r) => r.id === id) || routes[0];
  for (const link of document.querySelectorAll("[data-view]")) {
    link.toggleAttribute("aria-current", false);
    if (link.dataset.view === route.id) link.setAttribute("aria-current", "page");
  }
  if (cleanup) cleanup();
  cleanup = null;
  document.title = `${route.title} · {{title_text}}`;
  try {
    const view = await route.load();
    outlet.replaceChildren();
    cleanup = view.render(outlet) || null;
  } catch (error) {
    outlet.textContent = `${route.title} is not available yet.`;
  }
}

store.load();
{{seed}}window.addEventListener("hashchange", show);
{{init}}show();
""",
        title=f.title,
        title_text=f.title.replace("`", "'").replace("$", ""),
        imports=extra_imports,
        routes=routes,
        seed=seed,
        init=extra_init,
    )


def _ui_js(f: AppFacts, planned: set[str]) -> str:
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


def _list_view(f: AppFacts, planned: set[str]) -> str:
    options = ", ".join(_js(c) for c in f.categories)
    return _fill(
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
        placeholder=_js(f"New {f.noun}"),
        noun_label=_js(f"{f.noun.capitalize()} title"),
        date_label=_js(f.date_label),
        add_label=_js(f"Add {f.noun}"),
        heading=_js(f"Your {f.plural}"),
        empty=_js(f"No {f.plural} yet: add the first one above."),
    )


def _agenda_view(f: AppFacts, planned: set[str]) -> str:
    return _fill(
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
        undated=_js(f"No {f.date_label.lower()} set"),
        empty=_js(f"No {f.plural} planned."),
    )


def _stats_js(f: AppFacts, planned: set[str]) -> str:
    return _fill(
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


def _summary_view(f: AppFacts, planned: set[str]) -> str:
    return _fill(
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


def _theme_js(f: AppFacts, planned: set[str]) -> str:
    return _fill(
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
        key=_js(f"{f.slug}-theme"),
    )


def _shortcuts_js(f: AppFacts, planned: set[str]) -> str:
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


def _generic_view(f: AppFacts, view_id: str, planned: set[str]) -> str:
    title = dict(f.views).get(view_id, view_id.capitalize())
    return _fill(
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
        title_js=_js(title),
        plural=f.plural,
    )


def _samples_json(f: AppFacts) -> str:
    rows = [
        {
            "title": title,
            "category": f.categories[i % len(f.categories)],
            "date": f"2026-0{3 + i}-1{i}",
        }
        for i, title in enumerate(f.samples)
    ]
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


def render_file(path: str, facts: AppFacts, planned: set[str]) -> str:
    """The content of `path` once the phases that planned `planned` are done."""
    list_view = f"js/views/{facts.views[0][0]}.js"
    fixed = {
        "index.html": _index_html,
        "css/style.css": _style_css,
        "js/store.js": _store_js,
        "js/app.js": _app_js,
        "js/ui.js": _ui_js,
        "js/stats.js": _stats_js,
        "js/theme.js": _theme_js,
        "js/shortcuts.js": _shortcuts_js,
        list_view: _list_view,
        "js/views/agenda.js": _agenda_view,
        "js/views/summary.js": _summary_view,
    }
    if path in fixed:
        return fixed[path](facts, planned)
    if path == "data/sample.json":
        return _samples_json(facts)
    if path.startswith("js/views/") and path.endswith(".js"):
        return _generic_view(facts, path[len("js/views/") : -3], planned)
    if path.endswith(".json"):
        return "{}\n"
    if path.endswith(".css"):
        return "/* no rules yet */\n"
    if path.endswith(".html"):
        return _index_html(facts, planned)
    return f"// {path}\nexport {{}};\n"
