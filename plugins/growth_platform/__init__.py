"""The booking platform: calendars, availability, the booking widget API and the staff portal."""
