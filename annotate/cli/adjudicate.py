"""``annotate adjudicate``: a team's per-annotator gold into one gold, the rest into conflicts."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from annotate.cli._app import app, err, user_errors
from annotate.cli._connection import UrlOption, UsernameOption, connection_settings
from annotate.cli._paths import CONFLICTS_FILE, INPUT_FILE, OUTPUT_FILE

if TYPE_CHECKING:
    from annotate.quality.adjudicate import Adjudication


class Strategy(str, Enum):
    unanimous = "unanimous"
    majority = "majority"


@app.command("adjudicate")
def adjudicate_cli(
    per_annotator: Annotated[
        Path, typer.Argument(help="Gold pulled with --per-annotator (JSONL)."), INPUT_FILE
    ],
    out: Annotated[
        Path, typer.Option("--out", help="The gold: one record per agreed document."), OUTPUT_FILE
    ],
    conflicts: Annotated[
        Path,
        typer.Option("--conflicts", help="The documents in conflict (written; read with --resolved)."),
        CONFLICTS_FILE,
    ],
    strategy: Annotated[
        Strategy, typer.Option("--strategy", help="unanimous: all the same; majority: more than half.")
    ] = Strategy.unanimous,
    review_project: Annotated[
        str | None,
        typer.Option("--review-project", help="Push the conflicts to this Doccano project for a reviewer."),
    ] = None,
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="With --review-project: the reviewer (approver role).")
    ] = None,
    recipe: Annotated[
        Path | None,
        typer.Option("--recipe", help="With --review-project: the recipe of its labels."),
        INPUT_FILE,
    ] = None,
    resolved: Annotated[
        Path | None,
        typer.Option("--resolved", help="The review project's pull: write the final gold, none in conflict."),
        INPUT_FILE,
    ] = None,
    min_annotators: Annotated[
        int,
        typer.Option("--min-annotators", min=1, help="A document fewer annotators did stays in conflict."),
    ] = 2,
    force: Annotated[bool, typer.Option("--force", help="Replace the outputs if they exist.")] = False,
    url: UrlOption = None,
    username: UsernameOption = None,
) -> None:
    """Adjudicate each document: agreed ones to the gold, the others to a conflicts file."""
    from annotate.quality.adjudicate import adjudicate_file, resolve, write_adjudication

    with user_errors():
        if resolved is not None:
            adj = resolve(
                per_annotator,
                strategy=strategy.value,
                conflicts=conflicts,
                resolved=resolved,
                out=out,
                force=force,
                min_annotators=min_annotators,
            )
        else:
            adj = adjudicate_file(
                per_annotator,
                strategy=strategy.value,
                out=out,
                conflicts=conflicts,
                force=force,
                min_annotators=min_annotators,
            )
            if review_project is not None:
                _review(adj, review_project, reviewer, recipe, url, username)
        # After a review no document is left in conflict: only the gold is written.
        write_adjudication(adj, out=out, conflicts=None if resolved is not None else conflicts, force=force)
    err(_summary(adj, out, reviewed=resolved is not None))


def _summary(adj: Adjudication, out: Path, *, reviewed: bool) -> str:
    """Return the line that says what went where: after a review, or after an adjudication."""
    if reviewed:
        return f"{adj.agreed} agreed and {adj.resolved} reviewed documents -> {out}; none in conflict"
    return (
        f"documents agreed {adj.agreed}, in conflict {len(adj.conflicts)}"
        + (f" ({adj.too_few} done by fewer than {adj.min_annotators} annotators)" if adj.too_few else "")
        + "; "
        f"spans disputed {adj.spans_disputed}, relations disputed {adj.relations_disputed}"
        + (f"; {adj.overruled} items overruled by the majority" if adj.overruled else "")
    )


def _review(
    adj: Adjudication,
    project: str,
    reviewer: str | None,
    recipe: Path | None,
    url: str | None,
    username: str | None,
) -> None:
    """Push the conflicts to the review project; print what was done."""
    from annotate.doccano import connect
    from annotate.errors import UsageError
    from annotate.quality.adjudicate import agreed_task
    from annotate.recipe import load_recipe
    from annotate.sync.review import push_review

    if recipe is None:
        raise UsageError("--review-project needs --recipe (the labels the reviewer uses)")
    rec = load_recipe(recipe)
    with connect(connection_settings(url, username)) as api:
        report = push_review(
            api,
            adj.conflicts,
            [agreed_task(c) for c in adj.conflicts],
            project=project,
            recipe=rec,
            reviewer=reviewer,
        )
    err(f"review project {project!r}: pushed {report.push.pushed}, {report.comments} comments")
    typer.echo(report.push.project_url)
