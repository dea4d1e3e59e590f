"""Every marked string of the application is in both catalogs and translated into Chinese,
and pages render in either language."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po
from flask.testing import FlaskClient, FlaskCliRunner

from app.cli.i18n import (
    LOCALES,
    TRANSLATIONS_DIR,
    check_all,
    compile_catalogs,
    extract_template,
    i18n_group,
    load_catalog,
    po_path,
    update_catalogs,
)


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract_template()


def test_extraction_finds_python_lazy_and_template_strings(template: Catalog) -> None:
    ids = {message.id for message in template if message.id}
    assert "Wrong username or password." in ids  # gettext in a view
    assert "Insurance auditor" in ids  # lazy_gettext in a module table
    assert "Skip to content" in ids  # a Jinja template
    assert "%(n)d min" in ids  # a template string with a placeholder
    locations = {path for message in template for path, _line in message.locations}
    assert all(path.startswith("app/") for path in locations)


def test_every_message_is_in_every_catalog_and_translated_into_chinese(
    template: Catalog,
) -> None:
    problems = check_all(template)
    assert not problems, (
        f"{len(problems)} catalog problems (run `flask i18n update`, then translate "
        "app/translations/zh_Hans_CN/LC_MESSAGES/messages.po):\n"
        + "\n".join(str(problem) for problem in problems)
    )


def test_the_check_catches_a_missing_translation(tmp_path: Path) -> None:
    shutil.copytree(TRANSLATIONS_DIR, tmp_path, dirs_exist_ok=True)
    template = Catalog(domain="messages")
    template.add("Log in", locations=[("app/templates/auth/login.html", 2)])
    template.add("A string nobody has translated", locations=[("app/new.py", 1)])
    problems = check_all(template, tmp_path)
    assert {(p.locale, p.issue, p.msgid) for p in problems} == {
        ("zh_Hans_CN", "missing", "A string nobody has translated"),
        ("en", "missing", "A string nobody has translated"),
    }
    assert "app/new.py:1" in str(problems[0])


def test_the_check_catches_fuzzy_and_broken_placeholders(tmp_path: Path) -> None:
    template = Catalog(domain="messages")
    template.add("Hello, %(name)s", locations=[("app/a.py", 1)], flags=["python-format"])
    template.add("Log in", locations=[("app/a.py", 2)])
    update_catalogs(template, tmp_path)
    zh = load_catalog("zh_Hans_CN", tmp_path)
    zh["Hello, %(name)s"].string = "%(nom)s，您好"
    zh["Log in"].string = "登录"
    zh["Log in"].flags.add("fuzzy")
    _save(zh, tmp_path)
    issues = {(p.msgid, p.issue.split(" ")[0]) for p in check_all(template, tmp_path)}
    assert ("Log in", "untranslated") in issues
    assert any(msgid == "Hello, %(name)s" and issue != "missing" for msgid, issue in issues)


def _save(catalog: Catalog, directory: Path) -> None:
    with po_path(str(catalog.locale), directory).open("wb") as fileobj:
        write_po(fileobj, catalog)


def test_update_keeps_translations_and_adds_new_messages(tmp_path: Path) -> None:
    shutil.copytree(TRANSLATIONS_DIR, tmp_path, dirs_exist_ok=True)
    template = Catalog(domain="messages")
    template.add("Log in", locations=[("app/templates/auth/login.html", 2)])
    template.add("Brand-new message", locations=[("app/x.py", 3)])
    counts = update_catalogs(template, tmp_path)
    zh = load_catalog("zh_Hans_CN", tmp_path)
    en = load_catalog("en", tmp_path)
    assert zh.get("Log in").string == "登录"
    assert zh.get("Brand-new message") is not None
    assert en.get("Brand-new message") is not None
    # Messages no longer in the source are dropped.
    assert zh.get("Wrong username or password.") is None
    assert counts == {"zh_Hans_CN": 1, "en": 0}


def test_compile_writes_loadable_catalogs(tmp_path: Path) -> None:
    shutil.copytree(TRANSLATIONS_DIR, tmp_path, dirs_exist_ok=True)
    written = compile_catalogs(LOCALES, tmp_path)
    assert [path.parent.parent.name for path in written] == list(LOCALES)
    assert all(path.stat().st_size > 0 for path in written)


def test_check_command_names_what_is_missing(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(i18n_group, ["check", "-d", str(tmp_path)])
    assert result.exit_code == 1
    assert "[zh_Hans_CN] missing: 'Wrong username or password.'" in result.output


def test_update_then_translate_then_check_passes(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(i18n_group, ["update", "-d", str(tmp_path)])
    assert result.exit_code == 0, result.output
    zh = load_catalog("zh_Hans_CN", tmp_path)
    for message in zh:
        if message.id:
            # Keep the placeholders, as a translator must.
            message.string = "译" + str(message.id)
    _save(zh, tmp_path)
    result = runner.invoke(i18n_group, ["check", "-d", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "All catalogs are complete." in result.output
    result = runner.invoke(i18n_group, ["compile", "-d", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "zh_Hans_CN" / "LC_MESSAGES" / "messages.mo").exists()


@pytest.mark.parametrize(
    ("accept", "lang", "texts"),
    [
        ("zh-CN,zh;q=0.9", "zh-CN", ("用户名", "密码", "登录")),
        ("en-US,en;q=0.9", "en", ("Username", "Password", "Log in")),
    ],
)
def test_the_login_page_renders_in_both_languages(
    client: FlaskClient, accept: str, lang: str, texts: tuple[str, ...]
) -> None:
    page = client.get("/auth/login", headers={"Accept-Language": accept}).text
    assert f'<html lang="{lang}">' in page
    for text in texts:
        assert text in page


def test_chinese_is_the_default_language(client: FlaskClient) -> None:
    page = client.get("/auth/login").text
    assert "用户名" in page
    assert "Username" not in page
