"""The project a push writes to: found (or created), checked against the recipe, its label types.

Finding the project and reading what it holds (:func:`look`) are read-only, so they run while
the tasks are validated. The project must be a SequenceLabeling project with relations,
collaborative annotation and the recipe's ``allow_overlapping``, holding the recipe's span and
relation types. A conflict is reported and nothing is changed; missing label types are added
only with ``sync_labels``, all of a kind in one bulk request. A label-type name that exists is
never created again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.errors import ConfigError, NotFound, ProjectConflict
from annotate.recipe import Recipe
from annotate.sync.held import LabelNames
from annotate.sync.ledger import Ledger, state_matches
from annotate.sync.options import PushOptions
from annotate.sync.report import PushReport


def shortcut(spec: str | None) -> tuple[str | None, str | None]:
    """Return Doccano's ``(prefix_key, suffix_key)`` for a recipe shortcut like ``p`` or ``ctrl+p``."""
    if not spec:
        return None, None
    parts = [p for p in spec.lower().replace("+", " ").split() if p]
    key = parts[-1]
    prefix = " ".join(parts[:-1]) or None
    if (
        len(key) != 1
        or not (key.isdigit() or "a" <= key <= "z")
        or prefix not in (None, "ctrl", "shift", "ctrl shift")
    ):
        raise ConfigError(
            f"shortcut {spec!r} is not one Doccano supports",
            hint="use one letter or digit, optionally after ctrl, shift or ctrl+shift",
        )
    return prefix, key


def _wanted_label_types(recipe: Recipe) -> dict[str, list[dict[str, Any]]]:
    """Return the label-type bodies the recipe asks for, by kind."""
    spans = []
    for label in recipe.labels:
        prefix, key = shortcut(label.shortcut)
        spans.append(
            {
                "text": label.name,
                "prefix_key": prefix,
                "suffix_key": key,
                "background_color": label.color,
                "text_color": "#ffffff",
            }
        )
    rels = [
        {
            "text": r.name,
            "prefix_key": None,
            "suffix_key": None,
            "background_color": r.color,
            "text_color": "#ffffff",
        }
        for r in recipe.relation_types
    ]
    return {"span": spans, "relation": rels}


def project_settings(recipe: Recipe) -> dict[str, Any]:
    """Return the project settings a push needs for ``recipe``."""
    return {
        "project_type": "SequenceLabeling",
        "use_relation": True,
        "collaborative_annotation": True,
        "allow_overlapping": bool(recipe.allow_overlapping),
    }


def _settings_conflicts(project: dict[str, Any], recipe: Recipe) -> list[str]:
    wanted = project_settings(recipe)
    return [
        f"{key} is {project.get(key)!r}, the recipe needs {value!r}"
        for key, value in wanted.items()
        if project.get(key) != value
    ]


def label_plan(
    existing: dict[str, list[dict[str, Any]]], recipe: Recipe
) -> tuple[dict[str, list[dict[str, Any]]], list[str], list[str]]:
    """Return (types to add by kind, conflicts, warnings) for the recipe's label types."""
    to_add: dict[str, list[dict[str, Any]]] = {"span": [], "relation": []}
    conflicts: list[str] = []
    warnings: list[str] = []
    for kind, bodies in _wanted_label_types(recipe).items():
        have = {t["text"]: t for t in existing[kind]}
        taken = {
            (t.get("prefix_key"), t.get("suffix_key")): t["text"]
            for t in existing[kind]
            if t.get("suffix_key")
        }
        for body in bodies:
            name = body["text"]
            cur = have.get(name)
            keys = (body["prefix_key"], body["suffix_key"])
            if cur is None:
                if body["suffix_key"] and keys in taken:
                    conflicts.append(f"{kind} type {name!r}: its shortcut is taken by {taken[keys]!r}")
                elif body["suffix_key"]:
                    # The bulk upload checks shortcuts only against saved types, not within
                    # the batch: a later type of this batch must not take this one's key.
                    taken[keys] = name
                to_add[kind].append(body)
                continue
            if body["suffix_key"] and (cur.get("prefix_key"), cur.get("suffix_key")) != keys:
                conflicts.append(
                    f"{kind} type {name!r} has shortcut {cur.get('prefix_key')}/{cur.get('suffix_key')}, "
                    f"the recipe says {body['prefix_key']}/{body['suffix_key']}"
                )
            if str(cur.get("background_color", "")).lower() != str(body["background_color"]).lower():
                warnings.append(
                    f"{kind} type {name!r} is coloured {cur.get('background_color')} in the project, "
                    f"{body['background_color']} in the recipe (left as it is)"
                )
    return to_add, conflicts, warnings


@dataclass
class Found:
    """What a read-only look at the server found: the project, its label types and examples.

    It is gathered while the tasks are validated (network and CPU side by side); nothing is
    written before the tasks are known to be valid.
    """

    project: dict[str, Any] | None
    label_types: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    count: int = 0
    newest: int | None = None
    examples: list[dict[str, Any]] | None = None  # the full listing, when the ledger cannot stand in
    state: dict[str, Any] | None = None  # the ledger's record of the last push, if it stands in


def look(api: Any, project: str | int, ledger_dir: Path, *, want_listing: bool) -> Found:
    """Find the project and read what it holds, without writing anything.

    The full listing of examples is skipped when the ledger's record of the last push still
    matches the probe (see :func:`annotate.sync.ledger.held_from_state`), unless ``want_listing``.
    """
    try:
        proj = api.find_project(project)
    except NotFound:
        return Found(None)
    pid = int(proj["id"])
    found = Found(proj, {kind: api.list_label_types(pid, kind) for kind in ("span", "relation")})
    # Probe before any listing: a change made while the list is read then shows next time.
    found.count, found.newest, _ = api.probe_examples(pid)
    ledger = Ledger(ledger_dir, api.url, pid)
    if ledger.load():
        return found  # a batch left in flight: the push lists once that import has finished
    state = ledger.load_state()
    if want_listing or not state_matches(state, proj, found.count, found.newest):
        found.examples = api.list_examples(pid)
    else:
        found.state = state
    return found


def ensure_project(
    api: Any,
    project: str | int,
    recipe: Recipe,
    found: Found,
    options: PushOptions,
    report: PushReport,
) -> dict[str, Any] | None:
    """Return the checked project (None in a dry run that would create it); add labels if asked."""
    proj = found.project
    existing = found.label_types
    if proj is None:
        proj = _create_project(api, project, recipe, options, report)
        if proj is None:
            return None
        existing = {"span": [], "relation": []}  # a new project has no label types
    report.project_id = int(proj["id"])
    report.project_name = str(proj.get("name", project))
    report.project_url = f"{api.url}/projects/{proj['id']}"
    to_add = _check_project(proj, existing, recipe, sync_labels=options.sync_labels, report=report)
    for kind, bodies in to_add.items():
        # One request per kind (all or nothing); the plan made names and shortcuts unique.
        report.labels_added += [body["text"] for body in bodies]
        if not options.dry_run:
            api.create_label_types(proj["id"], kind, bodies)
    return dict(proj)


def _create_project(
    api: Any, project: str | int, recipe: Recipe, options: PushOptions, report: PushReport
) -> dict[str, Any] | None:
    """Return the project made for ``recipe`` (None in a dry run); refuse unless ``options.create``."""
    if not options.create:
        raise NotFound(f"no project {project!r} at {api.url}", hint="pass --create to make it")
    if str(project).strip().isdigit():
        raise ConfigError(f"cannot create a project named by an id ({project})", hint="give a name")
    report.created_project = True
    if options.dry_run:
        report.labels_added = [b["text"] for bodies in _wanted_label_types(recipe).values() for b in bodies]
        return None
    settings = project_settings(recipe)
    return dict(
        api.create_project(
            str(project),
            project_type=settings["project_type"],
            description=recipe.description or f"annotate recipe {recipe.id}",
            collaborative_annotation=True,
            allow_overlapping=settings["allow_overlapping"],
            use_relation=True,
        )
    )


def _check_project(
    proj: dict[str, Any],
    existing: dict[str, list[dict[str, Any]]],
    recipe: Recipe,
    *,
    sync_labels: bool,
    report: PushReport,
) -> dict[str, list[dict[str, Any]]]:
    """Return the label types to add; raise ProjectConflict when the project disagrees with the recipe."""
    conflicts = _settings_conflicts(proj, recipe)
    to_add, label_conflicts, warnings = label_plan(existing, recipe)
    conflicts += label_conflicts
    report.warnings += warnings
    missing = [b["text"] for bodies in to_add.values() for b in bodies]
    if missing and not sync_labels and not report.created_project:
        conflicts.append("missing label types " + ", ".join(missing) + " (pass --sync-labels to add them)")
    if conflicts:
        raise ProjectConflict(
            f"project {report.project_name!r} ({report.project_url}) does not match recipe {recipe.id}: "
            + "; ".join(conflicts),
            hint="nothing was changed; fix the project or the recipe, or push to a new project with --create",
        )
    return to_add


@dataclass
class Target:
    """The checked project a push writes to, its ledger, and its label names (read when needed)."""

    api: Any
    project: dict[str, Any]
    ledger: Ledger
    labels: LabelNames

    @classmethod
    def of(cls, api: Any, project: dict[str, Any], ledger_dir: Path) -> Target:
        """Return the target for ``project``, with its ledger in ``ledger_dir``."""
        pid = int(project["id"])
        return cls(api, project, Ledger(ledger_dir, api.url, pid), LabelNames(api, pid))

    @property
    def pid(self) -> int:
        return int(self.project["id"])
