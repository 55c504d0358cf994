"""Breath rate at the nostrils: the video benchmark from landmarks to breaths per minute (see README.md)."""
