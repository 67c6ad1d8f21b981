"""Care relations and emergency access: which organisations may see which patients (§13c)."""
