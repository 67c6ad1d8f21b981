"""care pathways feature."""
