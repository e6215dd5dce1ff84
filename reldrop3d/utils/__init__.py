"""Small shared helpers: registries, atomic file writes, seeding."""
