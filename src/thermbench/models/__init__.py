"""Trainable models: RTMPose (+ SimCC codec) and the TinyHead / Sapiens2 adapters."""
