"""``flask i18n``: keep the zh_Hans_CN and en catalogs in step with the source.

``flask i18n update`` extracts every marked string (babel.cfg) and merges it into both
catalogs, keeping existing translations; ``flask i18n check`` lists what is missing or
untranslated; ``flask i18n compile`` writes the .mo files the app loads. The functions
below are also what the test suite uses, so the check in CI and the command agree.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import click
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from flask.cli import AppGroup

from app.config import ROOT

MAPPING_FILE = ROOT / "babel.cfg"
TRANSLATIONS_DIR = ROOT / "app" / "translations"
DOMAIN = "messages"
# zh_Hans_CN is the language every string must be translated into; the msgids are English,
# so the en catalog only has to know every msgid (an empty msgstr falls back to the msgid).
TRANSLATED_LOCALES = ("zh_Hans_CN",)
LOCALES = ("zh_Hans_CN", "en")
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "lazy_gettext": None,
    "_l": None,
    "lazy_ngettext": (1, 2),
    "lazy_pgettext": ((1, "c"), 2),
}
SOURCE_TOPS = ("app",)  # babel.cfg only maps files under these top-level folders

i18n_group = AppGroup("i18n", help="Extract, update, check and compile translations.")


@dataclass(frozen=True)
class Problem:
    """A message that a catalog lacks, leaves untranslated, or translates inconsistently."""

    locale: str
    msgid: str
    issue: str
    locations: tuple[str, ...]

    def __str__(self) -> str:
        where = ", ".join(self.locations[:3])
        return f"[{self.locale}] {self.issue}: {self.msgid!r}" + (f" ({where})" if where else "")


def po_path(locale: str, directory: Path = TRANSLATIONS_DIR) -> Path:
    return directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract_template(root: Path = ROOT) -> Catalog:
    """Every translatable message in the source, extracted as babel.cfg says."""
    with MAPPING_FILE.open(encoding="utf-8") as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj, str(MAPPING_FILE))
    template = Catalog(project="CareRoute", domain=DOMAIN, charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root),
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
        directory_filter=_only_source_dirs(root),
    ):
        template.add(
            message,
            None,
            [(Path(filename).as_posix(), lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def _only_source_dirs(root: Path) -> Callable[[str], bool]:
    def keep(dirpath: str) -> bool:
        relative = Path(dirpath).resolve().relative_to(root.resolve())
        if any(part.startswith((".", "_")) for part in relative.parts):
            return False  # .git, .venv, __pycache__
        return not relative.parts or relative.parts[0] in SOURCE_TOPS

    return keep


def load_catalog(locale: str, directory: Path = TRANSLATIONS_DIR) -> Catalog:
    """The catalog of ``locale`` as stored, or a new empty one."""
    path = po_path(locale, directory)
    if not path.exists():
        return new_catalog(locale)
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=locale, domain=DOMAIN)


def new_catalog(locale: str) -> Catalog:
    catalog = Catalog(
        locale=locale,
        domain=DOMAIN,
        project="CareRoute",
        version="0.1",
        copyright_holder="CareRoute",
        msgid_bugs_address="",
        last_translator="CareRoute team",
        language_team=locale,
        header_comment=(
            f"# CareRoute messages, {locale}.\n"
            "# Refresh from the source with `flask i18n update`; never edit msgids by hand."
        ),
        charset="utf-8",
        fuzzy=False,
    )
    return catalog


def update_catalogs(template: Catalog, directory: Path = TRANSLATIONS_DIR) -> dict[str, int]:
    """Merge ``template`` into each locale's .po, keeping translations; returns how many
    problems each catalog still has (for en only missing ids count, and there are none)."""
    untranslated: dict[str, int] = {}
    for locale in LOCALES:
        catalog = load_catalog(locale, directory)
        # Fuzzy guesses help a translator; en needs no translations, so no guesses there.
        catalog.update(template, no_fuzzy_matching=locale not in TRANSLATED_LOCALES)
        buffer = io.BytesIO()
        write_po(buffer, catalog, ignore_obsolete=True, width=100)
        _write_atomically(po_path(locale, directory), buffer.getvalue())
        untranslated[locale] = len(check_catalog(template, catalog, locale))
    return untranslated


def check_catalog(template: Catalog, catalog: Catalog, locale: str) -> list[Problem]:
    """What ``catalog`` lacks for ``template``: missing ids everywhere, and for the
    translated locales empty or fuzzy translations and broken placeholders."""
    problems: list[Problem] = []
    must_translate = locale in TRANSLATED_LOCALES
    for message in _real_messages(template):
        locations = tuple(f"{path}:{line}" for path, line in message.locations)
        found = catalog.get(message.id, message.context)
        msgid = _msgid_text(message)
        if found is None:
            problems.append(Problem(locale, msgid, "missing", locations))
        elif must_translate and (found.fuzzy or not _all_strings(found)):
            problems.append(Problem(locale, msgid, "untranslated", locations))
    if must_translate:
        for message, errors in catalog.check():
            if _all_strings(message) and not message.fuzzy:
                for error in errors:
                    problems.append(Problem(locale, _msgid_text(message), str(error), ()))
    return problems


def check_all(template: Catalog | None = None, directory: Path = TRANSLATIONS_DIR) -> list[Problem]:
    """Every problem of every catalog against the source (or ``template``)."""
    template = template if template is not None else extract_template()
    return [
        problem
        for locale in LOCALES
        for problem in check_catalog(template, load_catalog(locale, directory), locale)
    ]


def compile_catalogs(
    locales: Iterable[str] = LOCALES, directory: Path = TRANSLATIONS_DIR
) -> list[Path]:
    """Write each locale's .mo next to its .po (skipping fuzzy entries)."""
    written = []
    for locale in locales:
        if not po_path(locale, directory).exists():
            continue
        catalog = load_catalog(locale, directory)
        mo = po_path(locale, directory).with_suffix(".mo")
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        _write_atomically(mo, buffer.getvalue())
        written.append(mo)
    return written


def _real_messages(catalog: Catalog) -> list[Message]:
    return [m for m in catalog if m.id]


def _msgid_text(message: Message) -> str:
    return message.id[0] if isinstance(message.id, tuple | list) else str(message.id)


def _all_strings(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return all(strings)


def _write_atomically(path: Path, data: bytes) -> None:
    # Parallel test runs compile the same catalogs; a rename is never seen half-written.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fileobj:
            fileobj.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_directory_option = click.option(
    "-d",
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=TRANSLATIONS_DIR,
    show_default=True,
    help="The translations folder (one subfolder per locale).",
)


@i18n_group.command("update")
@_directory_option
def update_command(directory: Path) -> None:
    """Extract messages and merge them into every catalog, keeping translations."""
    template = extract_template()
    counts = update_catalogs(template, directory)
    click.echo(f"{len(_real_messages(template))} messages in the source.")
    for locale, count in counts.items():
        click.echo(f"{po_path(locale, directory)}: {count} to translate")


@i18n_group.command("check")
@_directory_option
def check_command(directory: Path) -> None:
    """List missing and untranslated messages; exit 1 if there are any."""
    problems = check_all(directory=directory)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        raise SystemExit(1)
    click.echo("All catalogs are complete.")


@i18n_group.command("compile")
@_directory_option
def compile_command(directory: Path) -> None:
    """Compile the catalogs to the .mo files the application loads."""
    for path in compile_catalogs(directory=directory):
        click.echo(str(path))
