"""Survey file -> statement catalog: read coded answers, map them to option indices, write.

Reads the survey file as distributed (CSV, optionally .gz/.zip compressed, or Stata .dta), keeps
only the columns the codebook needs, and maps every raw answer code to its refined and polar
option index with one dense [question, code] lookup table (a single numpy gather per chunk).
Missing answers become -1: blanks and the codes the codebook declares missing (``missing_codes:``;
the WVS-7 codebook declares -1 ... -5, its "don't know / no answer / not asked" family). Every cell
is accounted for in the build report (:mod:`ivr.catalog.accounting`); a code the codebook neither
lists nor declares missing is an error naming the column, the code and its count, unless the codebook
says ``unlisted_codes: missing``. Negative codes are answers like any other when ``codes:`` lists them.
Anything that is not a code at all (text, 2.5) is an error naming the file, column, row and value; so
are duplicate person ids.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ivr.catalog.accounting import CodeCounter, account, add_option_use, unlisted_error_text
from ivr.catalog.codebook import BUILTIN_SURVEYS, Codebook, CodebookError, load_codebook
from ivr.catalog.store import MISSING, Catalog, write_catalog
from ivr.errors import IvrError
from ivr.progress import Progress

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".csv.zip", ".zip", ".gz")
CHUNK_ROWS = 25_000


class ConversionError(IvrError, ValueError):
    """The survey file cannot be converted; the message names the file and the column/row/value.

    Attributes:
        report: the build report when the whole file was read (codes outside the codebook), else None.
    """

    report: dict | None = None


def resolve_codebook(
    survey: str | None, codebook: str | Path | Codebook | None, input_path: str | Path | None = None
) -> Codebook:
    """The codebook for a build: an explicit ``codebook`` wins over the built-in ``survey`` name.

    Args:
        survey: a built-in survey name (``"wvs7"``).
        codebook: a codebook, codebook file or published-metadata folder; overrides ``survey``.
        input_path: the survey file to be converted, named in the error message.

    Raises:
        ConversionError: the survey name is not built in and no codebook file was given.
        CodebookError: the codebook file is invalid.
    """
    if isinstance(codebook, Codebook):
        return codebook
    if codebook is not None:
        return load_codebook(codebook)
    if survey not in BUILTIN_SURVEYS:
        prefix = f"{input_path}: " if input_path is not None else ""
        raise ConversionError(
            f"{prefix}unknown survey {survey!r}: built-in surveys are {', '.join(BUILTIN_SURVEYS)}; "
            "for another survey write a codebook and pass --codebook FILE"
        )
    return load_codebook(survey)


def _is_csv(path: Path) -> bool:
    return path.name.lower().endswith(CSV_SUFFIXES)


def _csv_header(path: Path) -> tuple[list[str], str]:
    """Header names and delimiter (comma, semicolon or tab: WVS releases have used each)."""
    try:
        for sep in (",", ";", "\t"):
            head = pd.read_csv(path, sep=sep, nrows=0, dtype=str, skipinitialspace=True)
            if len(head.columns) > 1:
                break
        else:
            sep = ","
            head = pd.read_csv(path, nrows=0, dtype=str, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ConversionError(f"{path}: the file is empty (no header row)") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as err:
        raise ConversionError(f"{path}: cannot be read as CSV: {err}") from None
    except _DAMAGED as err:
        raise _damaged(path, err) from None
    return [str(c) for c in head.columns], sep


# what the compression and Stata readers raise on a truncated or damaged file
_DAMAGED = (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, struct.error, OSError)


def _kind(err: BaseException) -> str:
    mod = type(err).__module__
    return type(err).__name__ if mod == "builtins" else f"{mod}.{type(err).__name__}"


def _damaged(path: Path, err: BaseException) -> ConversionError:
    return ConversionError(
        f"{path}: the file is truncated or damaged ({_kind(err)}: {err}); copy it again from the "
        "source (an interrupted download or copy leaves such files)"
    )


def _looks_like_text(path: Path) -> bool:
    head = path.open("rb").read(512)
    return bool(head) and b"\x00" not in head and all(32 <= c < 127 or c in (9, 10, 13) for c in head[:200])


def _stata_header(path: Path) -> list[str]:
    try:
        with pd.read_stata(path, iterator=True, convert_categoricals=False) as reader:
            return [str(c) for c in reader.read(nrows=1).columns]
    except (ValueError, UnicodeDecodeError, *_DAMAGED) as err:
        hint = (
            " -- it looks like a text (CSV) file: give it a .csv name"
            if _looks_like_text(path)
            else "; the file is not a Stata file or it is damaged"
        )
        raise ConversionError(f"{path}: cannot be read as a Stata .dta file ({_kind(err)}: {err}){hint}") from None


def _match_columns(path: Path, header: list[str], needed: list[str], codebook: Codebook) -> dict[str, str]:
    """Codebook column -> file column (exact, else the unique match ignoring case and spaces)."""
    exact = set(header)
    folded: dict[str, list[str]] = {}
    for name in header:
        folded.setdefault(name.strip().lower(), []).append(name)
    found, missing = {}, []
    for col in needed:
        if col in exact:
            found[col] = col
        elif len(folded.get(col.lower(), [])) == 1:
            found[col] = folded[col.lower()][0]
        else:
            missing.append(col)
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise ConversionError(
            f"{path}: missing required column(s) {shown} (codebook {codebook.name!r} needs the "
            f"person id column {codebook.id_column!r}, every question column and every demographic column)"
        )
    return found


def _read_chunks(path: Path, columns: list[str]) -> Iterator[pd.DataFrame]:
    """The needed columns in row chunks (id column as text, so ids keep their exact spelling)."""
    if _is_csv(path):
        _, sep = _csv_header(path)
        reader = pd.read_csv(
            path,
            sep=sep,
            usecols=columns,
            chunksize=CHUNK_ROWS,
            dtype={columns[0]: str},
            skipinitialspace=True,
        )
        with reader:
            try:
                # Only the reader's own errors land here (ragged rows, bad encoding, ...).
                yield from reader
            except (ValueError, UnicodeDecodeError) as err:
                raise ConversionError(f"{path}: cannot be read as CSV: {err}") from None
            except _DAMAGED as err:
                raise _damaged(path, err) from None
    else:
        try:
            frame = pd.read_stata(path, columns=columns, convert_categoricals=False)
        except (ValueError, UnicodeDecodeError, *_DAMAGED) as err:
            raise _damaged(path, err) from None
        for start in range(0, len(frame), CHUNK_ROWS):
            yield frame.iloc[start : start + CHUNK_ROWS]


def _is_numeric(dtype: object) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _not_a_code(path: Path, column: str, row: int, value: object, csv: bool) -> ConversionError:
    value = value.item() if isinstance(value, np.generic) else value
    where = f"row {row} (line {row + 1})" if csv else f"row {row}"
    return ConversionError(
        f"{path}: column {column!r}, {where}: {value!r} is not an integer answer code "
        "(the file must hold numeric codes, not answer labels; leave a cell blank for a missing answer)"
    )


def _text_codes(path: Path, series: pd.Series, row0: int, csv: bool) -> np.ndarray:
    """A text column as float64 codes (NaN = blank); anything that is not a number raises."""
    text = series.astype("string").str.strip()
    blank = text.isna() | (text == "")
    values = pd.to_numeric(text.mask(blank), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~blank.to_numpy() & ~np.isfinite(values)  # text, and also "inf" / "nan" written out
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _not_a_code(path, str(series.name), row0 + i + 1, series.iloc[i], csv)
    return values


def _code_block(path: Path, chunk: pd.DataFrame, columns: list[str], row0: int, csv: bool) -> np.ndarray:
    """Columns as one float64 [rows, columns] block of codes (NaN = blank); text or 2.5 raise."""
    if all(_is_numeric(chunk[c].dtype) for c in columns):
        values = chunk[columns].to_numpy(dtype=np.float64, na_value=np.nan)  # the fast, usual case
    else:
        values = np.empty((len(chunk), len(columns)))
        for j, c in enumerate(columns):
            series = chunk[c]
            values[:, j] = (
                series.to_numpy(dtype=np.float64, na_value=np.nan)
                if _is_numeric(series.dtype)
                else _text_codes(path, series, row0, csv)
            )
    fractional = np.isinf(values) | (np.isfinite(values) & (values != np.floor(values)))
    if fractional.any():
        i, j = (int(k[0]) for k in np.nonzero(fractional))
        raise _not_a_code(path, columns[j], row0 + i + 1, chunk[columns[j]].iloc[i], csv)
    return values


def _lookup(values: np.ndarray, keys: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Map codes through sorted ``keys`` -> ``targets``; blanks and codes not in ``keys`` -> -1."""
    pos = np.searchsorted(keys, values).clip(0, len(keys) - 1)
    return np.where(keys[pos] == values, targets[pos], MISSING)


class _AnswerTables:
    """Code -> option index for every question and form, applied to a whole [rows, Q] block.

    Codes in a small range (WVS: 0..10; -1/0/1 codings) use one dense [Q, span + 1] table, so a chunk
    maps in a single gather; codebooks with a wide code range fall back to a sorted-key search per question.
    """

    DENSE_LIMIT = 4096

    def __init__(self, codebook: Codebook) -> None:
        self.keys = [np.array(sorted(q.codes), dtype=np.float64) for q in codebook.questions]
        self.index = {
            form: [
                np.array([q.code_to_index(form)[int(k)] for k in keys], dtype=np.int8)
                for q, keys in zip(codebook.questions, self.keys)
            ]
            for form in ("polar", "refined")
        }
        top = max(int(k[-1]) for k in self.keys)
        self.low = min(0, min(int(k[0]) for k in self.keys))
        self.width = top - self.low + 1 if top - self.low < self.DENSE_LIMIT else 0
        self.dense: dict[str, np.ndarray] = {}
        if self.width:
            for form, per_question in self.index.items():
                # last column (index width) is where blanks and codes outside [low, top] land
                table = np.full((len(self.keys), self.width + 1), MISSING, dtype=np.int8)
                for j, (keys, idx) in enumerate(zip(self.keys, per_question)):
                    table[j, (keys - self.low).astype(np.intp)] = idx
                self.dense[form] = table

    def apply(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """int8 [rows, Q] polar and refined option indices for a float64 [rows, Q] code block."""
        if self.dense:
            shifted = values - self.low
            inside = (shifted >= 0) & (shifted < self.width)  # False for NaN
            # flat cell of (question j, code c) in a [Q, width + 1] table: j * (width + 1) + c - low
            cells = np.where(inside, shifted, self.width).astype(np.intp)
            cells += np.arange(values.shape[1], dtype=np.intp) * (self.width + 1)
            return self.dense["polar"].ravel().take(cells), self.dense["refined"].ravel().take(cells)
        out = {form: np.empty(values.shape, dtype=np.int8) for form in self.index}
        for form, per_question in self.index.items():
            for j, (keys, idx) in enumerate(zip(self.keys, per_question)):
                out[form][:, j] = _lookup(values[:, j], keys, idx)
        return out["polar"], out["refined"]


def _demographic_keys(codebook: Codebook) -> list[np.ndarray]:
    """Per demographic column: sorted codes valid for any demographic reading it."""
    keys = []
    for col in codebook.demographic_columns:
        codes = {c for d in codebook.demographics if d.column == col for c in d.values}
        keys.append(np.array(sorted(codes), dtype=np.float64))
    return keys


def _person_ids(path: Path, ids: pd.Series, column: str) -> np.ndarray:
    """ids as int64 when all are integers, else as text; blanks and duplicates raise."""
    text = ids.astype("string").str.strip()
    blank = (text.isna() | (text == "")).to_numpy()
    if blank.any():
        raise ConversionError(f"{path}: column {column!r}, row {int(np.flatnonzero(blank)[0]) + 1}: empty person id")
    numeric = pd.to_numeric(text, errors="coerce")
    if pd.api.types.is_integer_dtype(numeric.dtype):
        out = numeric.to_numpy(dtype=np.int64)
    elif not numeric.isna().any() and (numeric == numeric.round()).all() and numeric.abs().max() < 2**53:
        out = numeric.to_numpy(dtype=np.float64).astype(np.int64)  # e.g. 20070001.0 from a .dta double
    else:
        out = text.to_numpy(dtype=object)
    dup = pd.Series(out).duplicated(keep=False).to_numpy()
    if dup.any():
        first = out[np.flatnonzero(dup)[0]]
        first = first.item() if isinstance(first, np.generic) else first
        rows = (np.flatnonzero(out == first) + 1).tolist()
        n_ids = len(set(out[dup].tolist()))
        raise ConversionError(
            f"{path}: column {column!r}: duplicate person id {first!r} in rows {rows[:10]}"
            + (f" ({n_ids} ids are duplicated)" if n_ids > 1 else "")
            + "; every row must be a different person"
        )
    return out


def read_survey(input_path: str | Path, codebook: Codebook, progress: bool = False) -> Catalog:
    """Read a survey file into an in-memory :class:`Catalog` (nothing is written).

    Args:
        input_path: CSV (``.csv``, ``.tsv``, ``.txt``, optionally ``.gz``/``.zip``) or Stata ``.dta``.
        codebook: the survey's codebook.
        progress: show a progress bar over rows (on a terminal only).

    Returns:
        The catalog (empty manifest), its ``report`` the build report (:mod:`ivr.catalog.accounting`).

    Raises:
        ConversionError: unreadable/empty file, missing column, non-code value, duplicate or
            empty person id, a code outside the codebook (the error carries the report); the message
            names the file and the column/row/value or code.
    """
    path = Path(input_path)
    if not path.is_file():
        raise ConversionError(f"{path}: input file not found")
    csv = _is_csv(path)
    if not csv and path.suffix.lower() != ".dta":
        raise ConversionError(
            f"{path}: unsupported file type; expected a CSV ({', '.join(CSV_SUFFIXES)}) or Stata .dta"
        )
    if path.stat().st_size == 0:
        raise ConversionError(f"{path}: the file is empty")
    header = _csv_header(path)[0] if csv else _stata_header(path)
    qids, demo_cols = codebook.question_ids, codebook.demographic_columns
    names = _match_columns(path, header, [codebook.id_column, *qids, *demo_cols], codebook)
    file_cols = list(dict.fromkeys(names.values()))
    tables, demo_keys = _AnswerTables(codebook), _demographic_keys(codebook)
    q_cols, d_cols = [names[q] for q in qids], [names[c] for c in demo_cols]

    ids, polar, refined, demos = [], [], [], []
    q_count, d_count = CodeCounter(q_cols), CodeCounter(d_cols)
    row0 = 0
    # a bar on a terminal, a plain line now and then otherwise (ivr.progress)
    bar = Progress(None, f"converting {path.name}", "rows", enabled=progress)
    for chunk in _read_chunks(path, file_cols):
        n = len(chunk)
        answers = _code_block(path, chunk, q_cols, row0, csv)
        p, r = tables.apply(answers)
        codes = _code_block(path, chunk, d_cols, row0, csv) if d_cols else np.empty((n, 0))
        q_count.add(answers), d_count.add(codes)
        d = np.empty((n, len(demo_cols)), dtype=np.int32)
        for c, keys in enumerate(demo_keys):
            d[:, c] = _lookup(codes[:, c], keys, keys.astype(np.int64))
        ids.append(chunk[names[codebook.id_column]].reset_index(drop=True))
        polar.append(p), refined.append(r), demos.append(d)
        row0 += n
        bar.update(n)
    bar.close()
    if row0 == 0:
        raise ConversionError(f"{path}: the file has a header but no data rows")
    person_ids = _person_ids(path, pd.concat(ids, ignore_index=True), names[codebook.id_column])
    catalog = Catalog(codebook, person_ids, np.concatenate(polar), np.concatenate(refined), np.concatenate(demos))
    report = account(codebook, q_count, d_count, {**dict(zip(qids, q_cols)), **dict(zip(demo_cols, d_cols))})
    add_option_use(report, codebook, catalog.refined, catalog.polar)
    catalog.report = report
    problem = unlisted_error_text(report, codebook)
    if problem:
        err = ConversionError(f"{path}: {problem}")
        err.report = report
        raise err
    return catalog


def convert_survey(
    input_path: str | Path,
    codebook: Codebook | str | Path,
    out: str | Path,
    progress: bool = False,
    overwrite: bool = False,
    return_catalog: bool = False,
) -> Path | tuple[Path, Catalog]:
    """Convert a survey file into a catalog folder (written atomically).

    Args:
        input_path: the survey file (CSV or Stata .dta), one row per respondent, coded answers.
        codebook: a :class:`Codebook`, a built-in survey name (``"wvs7"``) or a codebook file.
        out: the catalog folder to write (an earlier catalog there is replaced; a folder holding
            anything else is refused, see :mod:`ivr.outputs`).
        progress: show progress (a bar on a terminal, plain lines otherwise).
        overwrite: allow replacing an ivr output of another kind.
        return_catalog: also return the catalog (its ``report`` is the build report).

    Returns:
        The catalog folder (and the catalog with ``return_catalog``).

    Raises:
        ConversionError: bad input (message names the file and column/row/value); nothing is written.
        CodebookError: the codebook is invalid.
        OutputFolderError: ``out`` holds files ivr did not write (checked before the file is read).
    """
    from ivr.outputs import check_output

    out = Path(out)
    check_output(out, "catalog", overwrite)
    if not isinstance(codebook, Codebook):
        codebook = load_codebook(codebook)  # a built-in name or a codebook file
    catalog = read_survey(input_path, codebook, progress=progress)
    folder = write_catalog(catalog, out, source=str(input_path), overwrite=overwrite)
    return (folder, catalog) if return_catalog else folder


__all__ = ["ConversionError", "CodebookError", "convert_survey", "read_survey", "resolve_codebook"]
