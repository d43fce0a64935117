"""The one error a `kyb` subcommand raises for a user's mistake."""


class CliError(Exception):
    """A mistake the user can fix; the message says how. Printed as one line."""
