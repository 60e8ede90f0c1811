"""Screens of the console: home, integration, job detail, editors, and the small modals."""
