"""Server-Sent Events, parsed line by line as the HTML standard says (§9.2.6): `data` lines
join with "\\n", a blank line dispatches, lines starting with ":" are comments, one space
after the colon is dropped, unknown fields are ignored, an unfinished event at the end of
the stream is discarded."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    # The stream's last event id once this event arrived (what Last-Event-ID sends back).
    id: str | None


class SSEDecoder:
    def __init__(self) -> None:
        self.last_event_id: str | None = None
        # Milliseconds the server asked clients to wait before reconnecting (`retry:`).
        self.retry_ms: int | None = None
        self._event = ""
        self._data: list[str] = []

    def decode(self, line: str) -> ServerSentEvent | None:
        """Feed one line (without its line break); an event when the line dispatches one."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_event_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return ServerSentEvent(event or "message", "\n".join(data), self.last_event_id)
