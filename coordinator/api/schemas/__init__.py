"""Request and response schemas of the REST API (marshmallow 4), one module per resource: separate create,
update, read and query shapes."""
