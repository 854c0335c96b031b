"""Announcements: the release mail (compose, send through a Mailer) and the GitHub release page."""
