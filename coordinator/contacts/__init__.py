"""contacts feature."""
