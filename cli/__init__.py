"""The `openfabric` command line."""
