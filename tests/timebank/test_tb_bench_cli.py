"""The command line: ``python -m timebank bench`` and ``verify`` (small runs, no speed asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from timebank import drop_trigger_ddl
from timebank.__main__ import main


def _bench(tmp_path: Path, *extra: str) -> list[str]:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    return ["bench", "--writers", "3", "--transfers", "30", "--accounts", "5", "--url", url, *extra]


@pytest.mark.parametrize(
    "extra", [(), ("--processes",), ("--mode", "hot"), ("--python-path",), ("--in-transaction",)]
)
def test_bench_writes_verifies_and_prints_postings_per_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...]
) -> None:
    assert main(_bench(tmp_path, *extra)) == 0
    out = capsys.readouterr().out
    assert "sqlite, 3 writers, 30 transfers" in out
    assert "postings/s" in out
    assert "refused 0" in out
    assert "verify: OK" in out


def test_bench_can_run_again_on_the_same_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_bench(tmp_path)) == 0
    assert main(_bench(tmp_path)) == 0
    assert main(_bench(tmp_path, "--reset")) == 0
    assert capsys.readouterr().out.count("verify: OK") == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "--writers", "0"], "--writers must be in 1..256"),
        (["bench", "--transfers", "many"], "--transfers must be an integer"),
        (["bench", "--accounts", "1"], "--accounts must be at least 2"),
        (["bench", "--mode", "lukewarm"], "--mode"),
        (["bench", "--url", "mysql://u@h/db"], "--url: sqlite or postgresql only"),
        (["bench", "--url", "::"], "--url: cannot parse"),
        (["verify"], "--url"),
        (["verify", "--url", "oracle://h/db"], "--url: sqlite or postgresql only"),
        ([], "command"),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_verify_command_reports_tampering(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    assert main(_bench(tmp_path, "--no-verify")) == 0
    assert main(["verify", "--url", url]) == 0
    assert "OK" in capsys.readouterr().out
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in drop_trigger_ddl("sqlite"):
            connection.execute(text(statement))
        connection.execute(text("UPDATE tb_transfers SET amount_min = amount_min + 1"))
    engine.dispose()
    assert main(["verify", "--url", url]) == 1
    assert "hash" in capsys.readouterr().out
