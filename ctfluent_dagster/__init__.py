"""ctfluent-dagster: keeps Fluent Commerce in sync with commercetools, as a Dagster code location."""
