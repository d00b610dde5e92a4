"""The web page: static HTML, CSS and ES modules served as they are (no build step)."""
