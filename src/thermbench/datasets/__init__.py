"""Dataset adapters: real-format parsers, downloads and the synthetic world."""

DATASETS = ("thermeval", "tfake", "charlotte")
