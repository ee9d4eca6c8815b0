"""Small shared parts: ids, cursors, schema types, secrets."""
