"""Notifications: SMTP email, Twilio-compatible SMS, and a file channel for development."""
