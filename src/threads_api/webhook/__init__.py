"""Webhooks (contract §15): endpoints sent the events they ask for, signed, retried, from the
event log. endpoints → service → repository; the background loop is dispatcher.py."""
