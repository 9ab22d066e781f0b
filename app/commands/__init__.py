"""Command groups of the ``insight`` command line, one module per group."""
