# ruff: noqa: E501  (the JavaScript, CSS and HTML templates keep their own line lengths)
"""The offline app's shell: index.html, the stylesheet, the router, the store, sample data.

Each function gives its file as it stands once the phases that planned the paths in `planned`
are done (a feature appears in a shared file with the phase that brings it).
"""

from __future__ import annotations

import json

from phasefarm.pipelines.app.offline_text import AppFacts, fill, html_escape, js_literal

__all__ = ["app_js", "index_html", "samples_json", "store_js", "style_css"]


def index_html(f: AppFacts, planned: set[str]) -> str:
    nav = "\n".join(
        f'        <a href="#/{vid}" data-view="{vid}">{html_escape(title)}</a>'
        for vid, title in f.views
    )
    search = (
        '\n      <input type="search" id="search" placeholder="Search '
        f'{html_escape(f.plural)}" aria-label="Search {html_escape(f.plural)}">'
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
    <meta name="description" content="{html_escape(f.description)}">
    <title>{html_escape(f.title)}</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="css/style.css">
    <script type="module" src="js/app.js"></script>
  </head>
  <body>
    <header class="app-header">
      <h1 class="app-title">{html_escape(f.title)}</h1>
      <nav class="app-nav" aria-label="Views">
{nav}
      </nav>{search}
    </header>
    <main id="view" class="app-view" tabindex="-1"></main>
    <footer class="app-footer">
      <p>{html_escape(f.description)}</p>{status}
    </footer>
  </body>
</html>
"""


def style_css(f: AppFacts, planned: set[str]) -> str:
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


def store_js(f: AppFacts, planned: set[str]) -> str:
    js = fill(
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
        key=js_literal(f"{f.slug}-{f.plural}-v1"),
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


def app_js(f: AppFacts, planned: set[str]) -> str:
    routes = ",\n".join(
        f'  {{ id: {js_literal(vid)}, title: {js_literal(title)}, load: () => import("./views/{vid}.js") }}'
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
    return fill(
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


def samples_json(f: AppFacts) -> str:
    rows = [
        {
            "title": title,
            "category": f.categories[i % len(f.categories)],
            "date": f"2026-0{3 + i}-1{i}",
        }
        for i, title in enumerate(f.samples)
    ]
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
