"""The app's pages (see app.py) and their shared helpers (_ui)."""
