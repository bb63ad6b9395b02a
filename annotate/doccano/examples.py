"""A project's examples and what hangs on them: spans, relations, confirmation states, comments."""

from __future__ import annotations

from typing import Any

from annotate.doccano.transport import Transport


class Examples(Transport):
    """The example calls of :class:`annotate.doccano.DoccanoAPI`."""

    def count_examples(self, project_id: int, *, params: dict[str, Any] | None = None) -> int:
        """Return how many examples a project holds (one cheap request); ``params`` filter them."""
        data = self.get_json(
            f"projects/{int(project_id)}/examples",
            params={**(params or {}), "limit": 1, "offset": 0},
            what="count examples",
        )
        return int(data.get("count", 0)) if isinstance(data, dict) else len(data)

    def probe_examples(self, project_id: int) -> tuple[int, int | None, dict[str, Any] | None]:
        """Return ``(count, newest example id, newest example)`` in one cheap request.

        ``ordering=-created_at`` is one of the example list's ``ordering_fields`` in Doccano 1.8.4
        and overrides the project's own order (random order included); ``limit=1`` keeps the
        answer to a single serialised example whatever the project's size.
        """
        data = self.get_json(
            f"projects/{int(project_id)}/examples",
            params={"limit": 1, "offset": 0, "ordering": "-created_at"},
            what="probe examples",
        )
        items = data.get("results", []) if isinstance(data, dict) else list(data)
        count = int(data.get("count", len(items))) if isinstance(data, dict) else len(items)
        newest = dict(items[0]) if items else None
        return count, (int(newest["id"]) if newest else None), newest

    def list_confirmed_ids(self, project_id: int) -> set[int]:
        """Return the ids of the examples someone confirmed (collaborative projects).

        Doccano 1.8.4's ``?confirmed=true`` filter counts every user's confirmation in a
        collaborative project (only the caller's otherwise), the same rule as ``is_confirmed``;
        only the confirmed examples go through the (slow, per-example) serializer.
        """
        return {int(ex["id"]) for ex in self.list_examples(project_id, params={"confirmed": "true"})}

    def list_examples(
        self, project_id: int, *, params: dict[str, Any] | None = None, page_size: int = 250, threads: int = 4
    ) -> list[dict[str, Any]]:
        """Return every example of a project (``id``, ``text``, ``meta``, ``is_confirmed``, ...).

        Doccano serialises each example with two queries of its own (comment count, confirmed
        state), so a long list is slow; its pages are fetched in parallel (``?limit=&offset=``),
        which the server's workers serve side by side.
        """
        from concurrent.futures import ThreadPoolExecutor

        path = f"projects/{int(project_id)}/examples"
        first = self.get_json(path, params={**(params or {}), "limit": page_size, "offset": 0})
        if isinstance(first, list):
            return first
        items = list(first.get("results", []))
        total = int(first.get("count", len(items)))
        offsets = list(range(page_size, total, page_size))

        def page(offset: int) -> list[dict[str, Any]]:
            data = self.get_json(path, params={**(params or {}), "limit": page_size, "offset": offset})
            return list(data.get("results", []))

        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for chunk in pool.map(page, offsets):
                items.extend(chunk)
        # Examples added or deleted meanwhile may shift a page boundary: drop any repeat.
        unique: dict[Any, dict[str, Any]] = {}
        for ex in items:
            unique.setdefault(ex.get("id"), ex)
        return list(unique.values())

    def delete_examples(self, project_id: int, example_ids: list[int]) -> None:
        """Delete these examples (and their annotations). An empty list deletes nothing.

        Doccano deletes *every* example when the id list is empty, hence the guard.
        """
        ids = [int(i) for i in example_ids]
        if not ids:
            return
        self._request(
            "DELETE",
            f"projects/{int(project_id)}/examples",
            json={"ids": ids},
            expected=(204,),
            what=f"delete {len(ids)} examples",
        )

    def list_spans(self, project_id: int, example_id: int) -> list[dict[str, Any]]:
        """Return the spans of one example (every user's): ``id, user, label, start_offset, end_offset``."""
        return self.list_all(f"projects/{int(project_id)}/examples/{int(example_id)}/spans")

    def list_relations(self, project_id: int, example_id: int) -> list[dict[str, Any]]:
        """Return the relations of one example (every user's): ``id, user, from_id, to_id, type``."""
        return self.list_all(f"projects/{int(project_id)}/examples/{int(example_id)}/relations")

    def create_span(
        self, project_id: int, example_id: int, *, label_id: int, start: int, end: int
    ) -> dict[str, Any]:
        """Add a span (as the logged-in user); return it."""
        return self._request(
            "POST",
            f"projects/{int(project_id)}/examples/{int(example_id)}/spans",
            json={"label": int(label_id), "start_offset": int(start), "end_offset": int(end)},
            expected=(201,),
            what=f"add a span to example {example_id}",
        ).json()

    def delete_span(self, project_id: int, example_id: int, span_id: int) -> None:
        """Delete one span (and, in Doccano, the relations that use it)."""
        self._request(
            "DELETE",
            f"projects/{int(project_id)}/examples/{int(example_id)}/spans/{int(span_id)}",
            expected=(204,),
            what=f"delete span {span_id}",
        )

    def list_example_states(self, project_id: int, example_id: int) -> list[dict[str, Any]]:
        """Return who confirmed an example (``confirmed_by`` user ids)."""
        return self.list_all(f"projects/{int(project_id)}/examples/{int(example_id)}/states")

    def list_comments(self, project_id: int) -> list[dict[str, Any]]:
        """Return every comment of a project (``example``, ``username``, ``text``, ``created_at``)."""
        return self.list_all(f"projects/{int(project_id)}/comments")

    def add_comment(self, project_id: int, example_id: int, text: str) -> dict[str, Any]:
        """Add a comment to an example; return it. Doccano 1.8.4 takes the example as a query parameter."""
        return self._request(
            "POST",
            f"projects/{int(project_id)}/comments",
            params={"example": int(example_id)},
            json={"text": text},
            expected=(201,),
            what=f"comment on example {example_id}",
        ).json()

    def confirm_example(self, project_id: int, example_id: int) -> None:
        """Toggle the caller's confirmation of an example (Doccano's ``states`` POST toggles)."""
        self._request(
            "POST",
            f"projects/{int(project_id)}/examples/{int(example_id)}/states",
            json={},
            expected=(201, 204),
            what=f"confirm example {example_id}",
        )
