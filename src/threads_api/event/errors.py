from threads_api.errors import Gone, TooManyRequests


class EventsExpired(Gone):
    """`after` lies below the purge watermark: events the client has not seen are gone."""

    code = "events_expired"
    title = "The events after this position were purged"

    def __init__(self, purged_through: int) -> None:
        super().__init__(
            f"Events up to position {purged_through} were purged; resync from the lists "
            "and resume from the list's last_position."
        )


class TooManyStreams(TooManyRequests):
    code = "too_many_streams"
    title = "Too many open streams or long-polls for this API key"
    # Longer than RETRY_AFTER_SECONDS: a slot frees when one of the key's streams ends.
    retry_after = 5

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This API key has {limit} open streams and long-polls, the most allowed; "
            "close one or retry later."
        )
