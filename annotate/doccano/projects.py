"""Projects: list, find (by id or exact name), create, update, delete."""

from __future__ import annotations

import re
from typing import Any

from annotate.doccano.transport import Transport
from annotate.errors import NotFound, UsageError

PROJECT_RESOURCE_TYPES = {
    "DocumentClassification": "TextClassificationProject",
    "SequenceLabeling": "SequenceLabelingProject",
    "Seq2seq": "Seq2seqProject",
    "IntentDetectionAndSlotFilling": "IntentDetectionAndSlotFillingProject",
    "Speech2text": "Speech2textProject",
    "ImageClassification": "ImageClassificationProject",
    "BoundingBox": "BoundingBoxProject",
    "Segmentation": "SegmentationProject",
    "ImageCaptioning": "ImageCaptioningProject",
}
"""The polymorphic ``resourcetype`` Doccano wants for each ``project_type``."""

#: A project name Doccano's search finds by its words (see ``find_project``).
_SEARCHABLE = re.compile(r"[^\"'\\\x00-\x1f\x7f]+")


class Projects(Transport):
    """The project calls of :class:`annotate.doccano.DoccanoAPI`."""

    def list_projects(self, search: str | None = None) -> list[dict[str, Any]]:
        """Return every project the user can see; with ``search``, only those whose name or
        description contains each of its words (Doccano's search filter, whose query
        parameter is ``q``: Doccano ignores any other and lists every project)."""
        return self.list_all("projects", params={"q": search} if search else None)

    def get_project(self, project_id: int) -> dict[str, Any]:
        """Return one project by id; NotFound if it does not exist or is not visible."""
        return self.get_json(f"projects/{int(project_id)}", what=f"project {project_id}")

    def find_project(self, name_or_id: str | int) -> dict[str, Any]:
        """Return the project with this id (an int or all-digit string) or this exact name.

        Raises NotFound if none matches, UsageError if the name is ambiguous.
        """
        text = str(name_or_id).strip()
        if text.isdigit():
            try:
                return self.get_project(int(text))
            except NotFound:
                pass  # a project may be *named* "42"
        # The server's search narrows the list (a busy server holds many projects). It keeps
        # the projects whose name or description contains each word of the text, so it holds
        # the exact name, except where its parsing rewrites a word: quotes and backslashes
        # (unescaped), control characters (refused). Such a name is looked for in the full list.
        if _SEARCHABLE.fullmatch(text):
            candidates = self.list_projects(search=text)
        else:
            candidates = self.list_projects()
        matches = [p for p in candidates if p.get("name") == text]
        if not matches:
            raise NotFound(
                f"no project {text!r} at {self.url}", hint="`annotate doctor` lists the projects you can see"
            )
        if len(matches) > 1:
            ids = ", ".join(str(p["id"]) for p in matches)
            raise UsageError(
                f"{len(matches)} projects are named {text!r} (ids {ids})", hint="name the project by its id"
            )
        return matches[0]

    def create_project(
        self,
        name: str,
        *,
        project_type: str = "SequenceLabeling",
        description: str = "",
        guideline: str = "",
        collaborative_annotation: bool = False,
        allow_overlapping: bool = False,
        use_relation: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """Create a project and return it. Not retried blindly (a POST)."""
        if project_type not in PROJECT_RESOURCE_TYPES:
            raise UsageError(
                f"unknown Doccano project type {project_type!r}",
                hint="one of: " + ", ".join(PROJECT_RESOURCE_TYPES),
            )
        body: dict[str, Any] = {
            "name": name,
            "description": description or name,
            "guideline": guideline,
            "project_type": project_type,
            "resourcetype": PROJECT_RESOURCE_TYPES[project_type],
            "collaborative_annotation": collaborative_annotation,
            "random_order": False,
            "single_class_classification": False,
            **extra,
        }
        if project_type == "SequenceLabeling":
            body.update(allow_overlapping=allow_overlapping, use_relation=use_relation)
        return self._request(
            "POST", "projects", json=body, expected=(201,), what=f"create project {name!r}"
        ).json()

    def delete_project(self, project_id: int) -> None:
        """Delete a project (and its examples). A missing project is not an error."""
        self._request(
            "DELETE", f"projects/{int(project_id)}", expected=(204, 404), what=f"delete project {project_id}"
        )

    def update_project(self, project_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """PATCH project settings; return the project. Repeating it is harmless."""
        body = {"resourcetype": "SequenceLabelingProject", **changes}
        return self._request(
            "PATCH",
            f"projects/{int(project_id)}",
            json=body,
            idempotent=True,
            what=f"update project {project_id}",
        ).json()
