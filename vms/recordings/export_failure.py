"""Why an export (or a case package) failed, as a code with parameters and an English sentence.

The sentence stays in ``error`` for the CLI, logs and the audit log; ``error_code`` and
``error_params`` let the dashboard say it in the investigator's language
(``exports.failure.<code>`` in its locale files). Codes:

- ``nothing-recorded``: no recording covers the range (or holds a picture in it);
- ``no-clip-recorded``: no clip of a case has any recording;
- ``bad-recording``: a recorded file cannot be read as it is (``detail``: the reader's words);
- ``disk-full``, ``file-missing``, ``storage``: the file system refused (``errno``: its name);
- ``interrupted``: vms restarted before the export finished;
- ``unexpected``: anything else (the traceback is in the log).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from vms.recordings.playback import NothingRecorded

INTERRUPTED_MESSAGE = "interrupted: vms restarted before it finished; request it again"


@dataclass(frozen=True)
class ExportFailure:
    code: str
    message: str
    params: dict[str, object] = field(default_factory=dict)

    def columns(self) -> dict[str, object]:
        """The export row's columns that say the failure."""
        return {"error": self.message, "error_code": self.code, "error_params": self.params}


INTERRUPTED = ExportFailure("interrupted", INTERRUPTED_MESSAGE)


class NoClipRecorded(NothingRecorded):
    """No clip of a case has any recording."""


def failure_of(exc: BaseException, unexpected: str = "export failed unexpectedly") -> ExportFailure:
    """The code, sentence and parameters of ``exc`` raised while building an export."""
    if isinstance(exc, NoClipRecorded):
        return ExportFailure("no-clip-recorded", str(exc))
    if isinstance(exc, NothingRecorded):
        return ExportFailure("nothing-recorded", str(exc))
    if isinstance(exc, OSError):
        name = errno.errorcode.get(exc.errno or 0, "")
        code = {"ENOSPC": "disk-full", "EDQUOT": "disk-full", "ENOENT": "file-missing"}.get(name, "storage")
        return ExportFailure(code, str(exc), {"errno": name or "-"})
    if isinstance(exc, (ValueError, LookupError)):
        return ExportFailure("bad-recording", str(exc))
    return ExportFailure("unexpected", unexpected)
