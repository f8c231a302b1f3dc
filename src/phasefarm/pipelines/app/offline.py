"""Deterministic offline answers for every app task, specific to the brief.

The blueprint reads the brief for the kind of app (bookings, tasks, notes, habits...), its name
and words, and picks a palette with the request's seeded rng; everything after reads only its
own prompt's inputs (the blueprint, the phase, the path), like a model would. Files come from
`offline_code.py`: a small working app. Checks and the review find nothing in offline files,
which pass the validators; a fix call rewrites the file from the blueprint.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass
from typing import Any

from phasefarm.llm import OfflineRequest, Responder
from phasefarm.pipelines.app.offline_code import AppFacts, render_file
from phasefarm.pipelines.app.prompts import read_inputs

__all__ = ["app_facts", "offline_roadmap", "responders"]


@dataclass(frozen=True)
class Kind:
    words: tuple[str, ...]
    noun: str
    plural: str
    categories: tuple[str, ...]
    date_label: str
    samples: tuple[str, ...]
    suffix: str


KINDS = (
    Kind(
        (
            "booking",
            "bookings",
            "appointment",
            "appointments",
            "reservation",
            "salon",
            "barber",
            "clinic",
        ),
        "booking",
        "bookings",
        ("Consultation", "Standard", "Follow-up"),
        "Day",
        ("Morning slot for Ana", "Trial session", "Follow-up with Joe"),
        "Desk",
    ),
    Kind(
        ("habit", "habits", "routine", "routines"),
        "habit",
        "habits",
        ("Health", "Mind", "Home"),
        "Start",
        ("Drink water", "Read ten pages", "Evening walk"),
        "Tracker",
    ),
    Kind(
        ("note", "notes", "journal", "diary", "ideas"),
        "note",
        "notes",
        ("Ideas", "Reading", "Personal"),
        "Date",
        ("Book club questions", "Garden layout idea", "Gift list"),
        "Pad",
    ),
    Kind(
        ("expense", "expenses", "budget", "spending", "money"),
        "expense",
        "expenses",
        ("Food", "Transport", "Bills"),
        "Paid on",
        ("Groceries", "Train pass", "Electricity"),
        "Ledger",
    ),
    Kind(
        ("recipe", "recipes", "meal", "meals", "cooking", "kitchen"),
        "recipe",
        "recipes",
        ("Breakfast", "Dinner", "Baking"),
        "Cook on",
        ("Lemon pancakes", "Lentil soup", "Rye bread"),
        "Box",
    ),
    Kind(
        ("workout", "workouts", "exercise", "training", "gym", "running"),
        "workout",
        "workouts",
        ("Strength", "Cardio", "Mobility"),
        "Day",
        ("Leg day", "5 km easy run", "Stretching"),
        "Log",
    ),
    Kind(
        ("book", "books", "reading", "library"),
        "book",
        "books",
        ("Fiction", "Non-fiction", "Poetry"),
        "Finish by",
        ("The Left Hand of Darkness", "Thinking in Systems", "Selected Poems"),
        "Shelf",
    ),
    Kind(
        ("plant", "plants", "garden", "watering"),
        "plant",
        "plants",
        ("Indoor", "Balcony", "Herbs"),
        "Water on",
        ("Monstera", "Basil", "Lavender"),
        "Garden",
    ),
    Kind(
        ("event", "events", "party", "wedding", "trip", "travel", "festival"),
        "event",
        "events",
        ("Plan", "Book", "Pack"),
        "Date",
        ("Choose the venue", "Book the train", "Pack the tent"),
        "Planner",
    ),
    Kind(
        ("task", "tasks", "todo", "to-do", "chores", "checklist", "project", "projects"),
        "task",
        "tasks",
        ("Home", "Work", "Errands"),
        "Due",
        ("Water the plants", "Send the invoice", "Buy stamps"),
        "List",
    ),
)
DEFAULT_KIND = KINDS[-1]
_NAMED = re.compile(
    r"(?:called|named)\s+[\"']?([A-Z][\w&' -]{1,40}?)[\"']?(?=[,.;]|$|\s(?:in|for|that|with)\b)"
)
EXTRA_VIEWS = (
    ("archive", "Archive"),
    ("help", "Help"),
    ("settings", "Settings"),
    ("export", "Export"),
    ("about", "About"),
)


def _kind_of(text: str) -> Kind:
    words = re.findall(r"[a-z][a-z-]+", text.lower())
    for word in words:
        for kind in KINDS:
            if word in kind.words:
                return kind
    return DEFAULT_KIND


def _kind_by_plural(plural: str) -> Kind:
    return next((k for k in KINDS if k.plural == plural), DEFAULT_KIND)


def _hex(h: float, lightness: float, saturation: float) -> str:
    r, g, b = colorsys.hls_to_rgb(h % 1.0, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _views(kind: Kind, phases: int) -> list[tuple[str, str]]:
    views = [(kind.plural, kind.plural.capitalize())]
    if phases >= 3:
        views.append(("agenda", "Agenda"))
    if phases >= 4:
        views.append(("summary", "Summary"))
    views += list(EXTRA_VIEWS[: max(0, phases - 5)])
    return views


def offline_roadmap(
    phases: int, plural: str = DEFAULT_KIND.plural
) -> list[tuple[str, str, list[str]]]:
    """(name, description, files) per phase: the roadmap the offline blueprint gives."""
    main = f"js/views/{plural}.js"
    if phases == 1:
        return [
            (
                "App shell and main view",
                f"The shell, the store and the {plural} view in one phase.",
                ["index.html", "css/style.css", "js/app.js", "js/store.js", "js/ui.js", main],
            )
        ]
    plan = [
        (
            "App shell and storage",
            "The page shell with navigation, the base styles, the router "
            "that loads each view on demand, and the localStorage store.",
            ["index.html", "css/style.css", "js/app.js", "js/store.js"],
        ),
        (
            f"{plural.capitalize()} list",
            f"The main view: add {plural}, tick them off and remove "
            "them, with shared DOM helpers and sample data for the first visit.",
            [main, "js/ui.js", "js/store.js", "data/sample.json"],
        ),
        (
            "Agenda and search",
            f"An agenda of {plural} grouped by day, and a search box in the "
            "header that filters it.",
            ["js/views/agenda.js", "js/ui.js", "index.html", "css/style.css"],
        ),
        (
            "Summary",
            f"Counts of open and done {plural} per category, a footer status line and "
            "clearing done ones.",
            ["js/views/summary.js", "js/stats.js", "index.html", "js/store.js"],
        ),
        (
            "Themes and shortcuts",
            "A dark theme with a toggle, visible focus, reduced motion, and keyboard shortcuts.",
            ["css/style.css", "js/app.js", "js/theme.js", "js/shortcuts.js"],
        ),
    ]
    for view_id, title in EXTRA_VIEWS[: max(0, phases - 5)]:
        plan.append(
            (
                f"{title} view",
                f"A {title.lower()} view of the {plural}.",
                [f"js/views/{view_id}.js"],
            )
        )
    return plan[:phases]


def _blueprint(request: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(request.text)
    brief = " ".join(str(inputs.get("brief", "")).split())
    phases = int(inputs.get("phases", 5))
    kind = _kind_of(brief)
    named = _NAMED.search(brief)
    title = named.group(1).strip() if named else f"{kind.noun.capitalize()} {kind.suffix}"
    rng = request.rng
    hue = rng.random()
    palette = {
        "background": _hex(hue, 0.97, 0.25),
        "surface": "#ffffff",
        "text": _hex(hue, 0.15, 0.3),
        "muted": _hex(hue, 0.42, 0.1),
        "accent": _hex(hue + rng.uniform(0.4, 0.6), 0.36, 0.6),
    }
    views = _views(kind, phases)
    purposes = {
        kind.plural: f"Add {kind.plural}, tick them off, remove them.",
        "agenda": f"See the {kind.plural} day by day and search them.",
        "summary": f"Counts of open and done {kind.plural} per category.",
    }
    return {
        "title": title[:60],
        "description": f"{title}: {brief}"[:400],
        "palette": palette,
        "views": [
            {
                "id": vid,
                "title": vtitle,
                "purpose": purposes.get(vid, f"The {kind.plural} as a {vtitle.lower()}."),
            }
            for vid, vtitle in views
        ],
        "user_flow": [
            f"Open the app on the {kind.plural} view",
            f"Type a {kind.noun}, pick a category and a {kind.date_label.lower()}, press Add",
            f"Tick {kind.plural} off as they are done",
            *(["Look ahead in the agenda, search by word"] if phases >= 3 else []),
        ],
        "architecture": (
            "Static files only. index.html is the shell; js/app.js is a hash router that imports "
            "js/views/<id>.js on demand and calls its render(root), which returns a cleanup "
            f"function. js/store.js keeps the {kind.plural} in localStorage and notifies "
            "subscribers; views re-render on change."
        ),
        "pitfalls": [
            "ES modules need http: serve the folder, do not open index.html as a file",
            "Every import path is relative and ends in .js",
            "Views must unsubscribe when they are left",
        ],
        "roadmap": [
            {"name": name, "description": description, "files": files}
            for name, description, files in offline_roadmap(phases, kind.plural)
        ],
    }


def app_facts(blueprint: dict[str, Any]) -> AppFacts:
    views = tuple((str(v["id"]), str(v["title"])) for v in blueprint["views"])
    kind = _kind_by_plural(views[0][0])
    title = str(blueprint["title"])
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "app"
    return AppFacts(
        title=title,
        description=str(blueprint["description"]),
        slug=slug,
        noun=kind.noun,
        plural=views[0][0],
        categories=kind.categories,
        date_label=kind.date_label,
        views=views,
        palette=dict(blueprint["palette"]),
        samples=kind.samples,
    )


def _planned(blueprint: dict[str, Any], through: int) -> set[str]:
    return {path for phase in blueprint["roadmap"][:through] for path in phase["files"]}


_FILE_PURPOSES = {
    "index.html": "the app shell: header, navigation, the view outlet and the footer",
    "css/style.css": "the stylesheet, built on the blueprint's palette",
    "js/app.js": "the router: loads a view's module when it is shown",
    "js/store.js": "the data: localStorage, subscribers",
    "js/ui.js": "DOM helpers shared by the views",
    "js/stats.js": "counts for the summary and the footer status",
    "js/theme.js": "the light and dark theme toggle",
    "js/shortcuts.js": "keyboard shortcuts",
    "data/sample.json": "sample data for the first visit",
}


def _concept(request: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(request.text)
    blueprint = inputs["blueprint"]
    number = int(inputs["phase"])
    phase = blueprint["roadmap"][number - 1]
    before = _planned(blueprint, number - 1)
    return {
        "summary": phase["description"].split(". ")[0].rstrip(".")[:200],
        "files": [
            {
                "path": path,
                "purpose": _FILE_PURPOSES.get(path, f"the {path.rsplit('/', 1)[-1][:-3]} view"),
                "changes": f"{'Extend' if path in before else 'Create'} it for this phase: "
                f"{phase['description']}"[:800],
            }
            for path in phase["files"]
        ],
    }


def _file(request: OfflineRequest) -> dict[str, Any]:
    inputs = read_inputs(request.text)
    blueprint = inputs["blueprint"]
    phase = inputs.get("phase")
    through = int(phase) if isinstance(phase, int) else len(blueprint["roadmap"])
    content = render_file(str(inputs["path"]), app_facts(blueprint), _planned(blueprint, through))
    return {"content": content}


def _no_problems(request: OfflineRequest) -> dict[str, Any]:
    return {"problems": []}


def responders() -> dict[str, Responder]:
    return {
        "blueprint": _blueprint,
        "concept": _concept,
        "implement_file": _file,
        "fix_file": _file,
        "phase_check": _no_problems,
        "review": _no_problems,
    }
