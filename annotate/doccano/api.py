"""THE Doccano adapter: :class:`DoccanoAPI`, the one object the rest of annotate talks to Doccano through.

It is a flat facade over the modules of this package, each one family of Doccano's REST API:
:mod:`~annotate.doccano.projects`, :mod:`~annotate.doccano.label_types`,
:mod:`~annotate.doccano.examples` (spans, relations, states, comments),
:mod:`~annotate.doccano.tasks` (upload, import, export, task polling) and
:mod:`~annotate.doccano.users` (users, members, roles), all built on
:mod:`~annotate.doccano.transport` (session, timeouts, retries, redaction, error mapping,
paging, login), plus :mod:`~annotate.doccano.client` for doccano-client's helpers.

Extending it: put the call in the module of its family, on ``self._request`` / ``self.get_json`` /
``self.list_all`` (or ``self.client()`` inside ``with self._mapped("what"):``)::

    def list_examples(self, project_id: int) -> list[dict]:
        return self.list_all(f"projects/{project_id}/examples")

    def create_span(self, project_id, example_id, body):
        return self._request("POST", f"projects/{project_id}/examples/{example_id}/spans",
                             json=body, expected=(201,)).json()

A new family gets its own module with a ``Transport`` subclass, added to ``DoccanoAPI``'s bases.
"""

from __future__ import annotations

from typing import Any

from annotate.doccano.client import DoccanoClientBridge
from annotate.doccano.examples import Examples
from annotate.doccano.label_types import LabelTypes
from annotate.doccano.projects import Projects
from annotate.doccano.tasks import Tasks, WaitStopped
from annotate.doccano.transport import RetryPolicy
from annotate.doccano.users import Users
from annotate.settings import ConnectionSettings

__all__ = ["DoccanoAPI", "RetryPolicy", "WaitStopped", "connect"]


class DoccanoAPI(Projects, LabelTypes, Examples, Tasks, Users, DoccanoClientBridge):
    """A connection to one Doccano server as one user. Build it, call :meth:`login`, use it.

    ``retry`` overrides the default RetryPolicy (tests use a fast-sleeping one); ``token`` logs
    in with a token already known.
    """


def connect(settings: ConnectionSettings, *, retry: RetryPolicy | None = None) -> DoccanoAPI:
    """Return a logged-in adapter for ``settings``."""
    return DoccanoAPI(settings, retry=retry).login()


def doccano_client(settings: ConnectionSettings, *, retry: RetryPolicy | None = None) -> Any:
    """Return a ``doccano_client.DoccanoClient`` logged in from ``settings``, with our timeouts and retries.

    Needs the extra ``annotate[doccano-client]`` (Python 3.11 and 3.12; ``scripts/setup.sh`` puts it in
    ``.venv-doccano-client``); without it, a ConfigError says so.
    """
    return connect(settings, retry=retry).client()
