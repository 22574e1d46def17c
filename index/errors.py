"""One base class for problems the user can fix; the command line prints them as one line, no traceback."""


class UserError(RuntimeError):
    """Bad input or setup (missing key, unreachable server, broken file); the message says what to do."""
