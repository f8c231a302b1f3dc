"""The files the offline provider writes: a small working static app, phase by phase.

`render_file(path, facts, planned)` gives a file as it stands once the phases that planned the
paths in `planned` are done: the shell and store of phase 1, then the main list view, the agenda
with search, the summary, the theme and shortcuts. The code is what a careful engineer writes
by hand (ES modules, no build step, no network), and it passes `validate.py`'s tools.
"""

from __future__ import annotations

from phasefarm.pipelines.app.offline_shell import (
    app_js,
    index_html,
    samples_json,
    store_js,
    style_css,
)
from phasefarm.pipelines.app.offline_text import AppFacts
from phasefarm.pipelines.app.offline_views import (
    agenda_view,
    generic_view,
    list_view,
    shortcuts_js,
    stats_js,
    summary_view,
    theme_js,
    ui_js,
)

__all__ = ["AppFacts", "render_file"]


def render_file(path: str, facts: AppFacts, planned: set[str]) -> str:
    """The content of `path` once the phases that planned `planned` are done."""
    list_view_path = f"js/views/{facts.views[0][0]}.js"
    fixed = {
        "index.html": index_html,
        "css/style.css": style_css,
        "js/store.js": store_js,
        "js/app.js": app_js,
        "js/ui.js": ui_js,
        "js/stats.js": stats_js,
        "js/theme.js": theme_js,
        "js/shortcuts.js": shortcuts_js,
        list_view_path: list_view,
        "js/views/agenda.js": agenda_view,
        "js/views/summary.js": summary_view,
    }
    if path in fixed:
        return fixed[path](facts, planned)
    if path == "data/sample.json":
        return samples_json(facts)
    if path.startswith("js/views/") and path.endswith(".js"):
        return generic_view(facts, path[len("js/views/") : -3], planned)
    if path.endswith(".json"):
        return "{}\n"
    if path.endswith(".css"):
        return "/* no rules yet */\n"
    if path.endswith(".html"):
        return index_html(facts, planned)
    return f"// {path}\nexport {{}};\n"
