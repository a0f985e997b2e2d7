"""Service-level agreements: business-time calendars for response and resolution deadlines."""
