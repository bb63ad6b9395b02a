"""A project's label types: the span and relation types its annotations use."""

from __future__ import annotations

from typing import Any

from annotate.doccano.transport import Transport


class LabelTypes(Transport):
    """The label-type calls of :class:`annotate.doccano.DoccanoAPI`."""

    def list_label_types(self, project_id: int, kind: str) -> list[dict[str, Any]]:
        """Return the project's label types of ``kind`` (``span`` or ``relation``)."""
        return self.list_all(f"projects/{int(project_id)}/{kind}-types")

    def create_label_type(self, project_id: int, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create one label type of ``kind`` (``span``/``relation``); return it.

        The caller must have checked the name is new: Doccano answers a duplicate name with a 500.
        """
        return self._request(
            "POST",
            f"projects/{int(project_id)}/{kind}-types",
            json=body,
            expected=(201,),
            what=f"create {kind} type {body.get('text')!r}",
        ).json()

    def create_label_types(self, project_id: int, kind: str, bodies: list[dict[str, Any]]) -> None:
        """Create several label types of ``kind`` (``span``/``relation``) in one request; return nothing.

        Doccano 1.8.4's ``<kind>-type-upload`` takes a JSON list as a file and saves it in one
        transaction with the same serializer as the one-by-one POST (text, prefix/suffix key,
        colours): all are created or none (a name already there gives a 400, not the 500 of
        the single POST). It answers without the new ids. It checks a shortcut only against
        the types already saved, so the caller must make sure the names and shortcuts of
        ``bodies`` are new and distinct. An empty list sends nothing.
        """
        import json

        if not bodies:
            return
        content = json.dumps(bodies).encode("utf-8")
        self._request(
            "POST",
            f"projects/{int(project_id)}/{kind}-type-upload",
            files={"file": (f"{kind}-types.json", content, "application/json")},
            expected=(201,),
            what=f"create {len(bodies)} {kind} types",
        )
