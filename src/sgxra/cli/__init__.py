"""The ``sgxra`` command line."""
