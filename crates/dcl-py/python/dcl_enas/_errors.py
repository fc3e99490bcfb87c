"""The exceptions dcl_enas raises. Every one is a ``DclError``; each also derives from the
built-in exception a Python user would catch for the same problem."""


class DclError(Exception):
    """Base class of every error dcl_enas raises; the message is the library's."""


class InvalidValue(DclError, ValueError):
    """A value given is not usable: an unknown architecture string, a NaN fitness, telling an
    architecture that was never asked, a setting out of range, a file for another space."""


class FileError(DclError, OSError):
    """A file or directory could not be read or written."""


class NotInTable(DclError, KeyError):
    """A benchmark table has no row for the architecture."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
