"""A request as the emulator's handlers see it, and the response they give."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Iterator, Mapping, Optional, Union


@dataclass
class Request:
    method: str
    host: str  # lower case, no port; "127.0.0.1" for direct (custom-cloud) calls
    path: str  # percent-decoded path, repeated slashes collapsed, no trailing slash
    query: dict[str, str]  # keys lower-cased ("api-version", "$filter", ...)
    headers: Union[Message, Mapping[str, str]]  # case-insensitive (email.message.Message) on the wire
    body: bytes = b""
    scheme: str = "https"
    port: int = 443
    principal: Any = None  # world.Principal once authenticated

    def header(self, name: str, default: str = "") -> str:
        value = self.headers.get(name)
        return default if value is None else str(value)

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    @property
    def api_version(self) -> Optional[str]:
        return self.query.get("api-version")

    def base_url(self) -> str:
        if self.port in (443, 80):
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass
class Response:
    status: int
    body: Any = None  # dict/list -> JSON; bytes/str -> as is; None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    stream: Optional[Iterator[bytes]] = None  # server-sent events; no Content-Length
    content_type: str = "application/json; charset=utf-8"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")
