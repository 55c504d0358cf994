"""Dataset adapters: real-format parsers, downloads and the synthetic world (the datasets: `registry.py`)."""
