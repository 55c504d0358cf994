"""The gates: the CI regression gate, the conclusions and their kernel check, the CPU-vendor shift."""
