"""Small shared parts that know nothing of the service (they import only `errors`): ids,
cursors, crypto, ETags, pagination, schema types, validation messages."""
