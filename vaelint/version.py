"""vaelint's version (pyproject.toml says the same): the JSON and SARIF reports, the cache key and
``vaelint --version`` read it here, not from the package, whose first use imports the API."""

__version__ = "0.1.0"
