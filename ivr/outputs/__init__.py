"""Everything ivr writes: output folders (a marker file per folder, atomic replacement, stale-temp clean-up)
and the files inside them (atomic JSON, CSV, text and PNG writers).

Output folders the project owns: a marker file per folder, atomic replacement, stale-temp clean-up.

Every command that writes a folder (catalog build/synth, baselines, evaluate, export, zero_shot,
experiments, fit's checkpoint folder) writes only

* into a new or empty folder, or
* into a folder that carries the project's marker file ``.ivr-output.json`` of the same *kind*
  (the command's own earlier output), and holds nothing but files ivr wrote there.

Anything else is refused with one :class:`~ivr.errors.OutputFolderError` naming the folder and the
flag; ``--overwrite`` lets a command replace a folder of *another* kind that ivr made, never one
that holds a user's files. Ownership is never guessed from file names: a folder without the marker
that holds anything is refused, whatever its files are called (a user's ``save_pretrained`` folder
with ``config.json`` and ``model.safetensors`` is not an export). A folder the command cannot write
(read-only permissions, a read-only mount, an immutable folder) is refused up front by writing and
removing a probe file (:func:`ivr.writable.check_writable`); an ``--out`` that is a symbolic link
writes into the folder it points to (the link is kept).

Two ways of writing:

* :func:`write_output` (catalogs, baselines, evaluate, export): the whole folder is written under a
  hidden temporary name beside it and renamed into place, so nothing half-written ever appears; an
  earlier output is replaced only after the new one is complete. The marker lists every file.
* :func:`claim_output` (resumable commands: zero_shot, experiments): the folder is checked, created
  and marked, and the command then writes its own named files into it; nothing is ever deleted.

Hidden ``.<name>.tmp-<pid>-*`` / ``.<name>.old-<pid>`` siblings left by a killed run are removed (or,
for an ``.old`` copy whose new version never arrived, put back) on the next run; errors never name them.

The package, by job:

* :mod:`ivr.outputs.kinds` -- the kinds of output folder (:class:`OutputKind`, :data:`KINDS`, the marker's name);
* :mod:`ivr.outputs.folders` -- looking at and checking a folder (:func:`check_output`, the marker,
  :func:`clean_stale`) and a single output file (:func:`check_output_file`);
* :mod:`ivr.outputs.write` -- writing a folder (:func:`write_output`, :func:`claim_output`);
* :mod:`ivr.outputs.files` -- atomic writers of the files inside (:func:`write_json`, :func:`write_csv`,
  :func:`write_text`, :func:`save_figure`) and the console view of a table beside the published one.

Import from ``ivr.outputs``; run locks live in :mod:`ivr.locks`, the writability probe in :mod:`ivr.writable`.
"""

from ivr.outputs.files import (
    clean_json,
    pyplot,
    read_json,
    save_figure,
    side_by_side,
    write_csv,
    write_json,
    write_text,
)
from ivr.outputs.folders import (
    LEGACY_TMP_AGE_S,
    FolderState,
    check_output,
    check_output_file,
    clean_stale,
    inspect_folder,
    output_path,
    pid_alive,
    read_marker,
    temp_sibling,
    write_marker,
)
from ivr.outputs.kinds import (
    KINDS,
    LOCK,
    MARKER,
    OutputKind,
    output_kind,
    register_kind,
)
from ivr.outputs.write import claim_output, write_output

__all__ = [
    "KINDS",
    "LEGACY_TMP_AGE_S",
    "LOCK",
    "MARKER",
    "FolderState",
    "OutputKind",
    "check_output",
    "check_output_file",
    "claim_output",
    "clean_json",
    "clean_stale",
    "inspect_folder",
    "output_kind",
    "output_path",
    "pid_alive",
    "pyplot",
    "read_json",
    "read_marker",
    "register_kind",
    "save_figure",
    "side_by_side",
    "temp_sibling",
    "write_csv",
    "write_json",
    "write_marker",
    "write_output",
    "write_text",
]
