"""The one exception lossbench raises for anything a user can get wrong."""

__all__ = ["LossbenchError"]


class LossbenchError(ValueError):
    """A user mistake: bad input, bad config, unreadable file.

    The message says what was expected and what was given; the CLI prints it as one line.
    """
