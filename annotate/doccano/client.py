"""doccano-client on the adapter's terms: its client on our token, timeouts and retries, its errors mapped.

The only module of annotate that imports ``doccano_client``, and only inside its functions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import requests

from annotate.doccano.transport import ResilientSession, Transport, describe_failure
from annotate.errors import ConfigError, ConnectionFailed, ServerError


class DoccanoClientBridge(Transport):
    """doccano-client's helpers (upload/download) for :class:`annotate.doccano.DoccanoAPI`."""

    @contextlib.contextmanager
    def _mapped(self, what: str) -> Iterator[None]:
        """Map doccano-client and requests exceptions raised inside the block to annotate errors."""
        from doccano_client.exceptions import DoccanoAPIError

        try:
            yield
        except DoccanoAPIError as e:
            response = getattr(e, "response", None)
            if response is None:
                raise ServerError(self._redact(f"{what}: {e}")) from None
            raise self._error_for(response, what) from None
        except requests.exceptions.RequestException as e:
            raise ConnectionFailed(
                self._redact(f"{what}: cannot reach Doccano at {self.url}: {describe_failure(e)}")
            ) from None

    def client(self) -> Any:
        """Return a ``doccano_client.DoccanoClient`` logged in with our token, with our timeouts and retries.

        It gets its own session (doccano-client wants a JSON Content-Type on every call, which would
        break multipart uploads on ours).
        """
        try:
            from doccano_client import DoccanoClient
        except ImportError:
            raise ConfigError(
                "doccano-client is not installed in this environment",
                hint="it is the extra annotate[doccano-client] (Python 3.11 or 3.12: it needs pydantic<2); "
                "scripts/setup.sh installs it into .venv-doccano-client",
            ) from None

        client = DoccanoClient(self.url)
        base = client._base_repository
        base._session.close()
        session = ResilientSession(self.session.timeout, self.session.policy)
        session.headers.update(self.session.headers)
        session.headers["Content-Type"] = "application/json"
        base._session = session
        return client
