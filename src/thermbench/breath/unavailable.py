"""The exception of a landmark source that cannot run here."""


class SourceUnavailable(Exception):
    """The source cannot run here; the message is the one line the stage reports instead of numbers."""
