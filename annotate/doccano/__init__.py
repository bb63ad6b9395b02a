"""The Doccano side: the only package that speaks HTTP to Doccano, and the local server it runs.

``DoccanoAPI`` (in :mod:`annotate.doccano.api`) is one server as one user; ``connect`` logs it in.
It is a facade over :mod:`~annotate.doccano.transport` (session, retries, errors, paging, login)
and one module per family of Doccano's API (projects, label_types, examples, tasks, users), with
doccano-client's helpers in :mod:`~annotate.doccano.client`.
:mod:`annotate.doccano.server` starts, stops and reports on a local Doccano in its own virtual
environment (its pins in :mod:`annotate.doccano.pins`), and :mod:`annotate.doccano.doctor`
checks a connection.
"""

from annotate.doccano.api import DoccanoAPI, RetryPolicy, WaitStopped, connect, doccano_client

__all__ = ["DoccanoAPI", "RetryPolicy", "WaitStopped", "connect", "doccano_client"]
