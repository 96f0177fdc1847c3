"""The HTTP layer: app factory, one error shape, staff tokens, webhooks, rate limits."""
