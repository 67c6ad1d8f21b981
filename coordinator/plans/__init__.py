"""plans feature."""
