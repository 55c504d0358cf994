"""Project tooling: parameter profiles, the CI regression gate, publishing the report."""
