"""Errors a user can act on. The CLI prints them as one line and exits with `exit_code`."""


class MMHealthError(Exception):
    """An error whose message names the file (or resource) at fault and the fix."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
