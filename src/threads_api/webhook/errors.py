from threads_api.errors import Gone, NotFound


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    title = "Webhook not found"


class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"
    title = "Webhook delivery not found"


class EventPurged(Gone):
    """A manual retry of a delivery whose event the retention purge has deleted."""

    code = "event_purged"
    title = "The delivery's event has been purged"
