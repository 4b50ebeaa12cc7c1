"""A store that cannot be used as asked (damaged, read-only, locked, on a full disk) ends in
one line naming it and why, before an attack's work is spent, and what it held is never
lost or overwritten; a readable one stays readable; reports are replaced whole."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from feint.cli.app import main
from feint.records import RunResult, SampleResult
from feint.store.db import Store, check_store

RUN = ["run", "digits_keras", "pgd", "-i", "0:2", "--set", "max_iter=2"]


def _sample(index: int) -> SampleResult:
    return SampleResult(
        index=index,
        initial_label="1",
        initial_conf=0.9,
        final_label="7",
        final_conf=0.6,
        success=True,
        linf=0.1,
        l2=0.5,
        l0=3,
        forward_queries=5,
        gradient_queries=4,
    )


def _stored_run(path, run_id: str = "r1", n: int = 200) -> None:
    """A store at ``path`` holding one run of ``n`` samples (several pages of them)."""
    store = Store(path)
    store.add_run(
        RunResult(
            run_id=run_id,
            attack="pgd",
            framework="native",
            target="digits_keras",
            params={},
            seed=0,
            started_at="2026-01-01T00:00:00+00:00",
            elapsed_s=1.0,
            samples=[_sample(i) for i in range(n)],
        )
    )
    store.close()


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(capsys, argv, code: int = 2) -> str:
    got = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert got == code and len(lines) == 1 and "Traceback" not in err, (got, err)
    return lines[0]


def no_attack(monkeypatch) -> None:
    """Fail the test if an attack starts: a refused store is refused before any work."""
    import feint.engine.run as run_module

    def refused(*args, **kwargs):
        raise AssertionError("the attack ran on a store that should have been refused")

    monkeypatch.setattr(run_module, "execute_run", refused)
    monkeypatch.setattr("feint.engine.budgeted.execute_run", refused)
    monkeypatch.setattr("feint.api.execute_budgeted_run", refused)


@pytest.fixture(name="no_attack")
def _no_attack(monkeypatch):
    no_attack(monkeypatch)


# -- damaged ----------------------------------------------------------------------------------


def test_a_truncated_store_is_named_damaged_and_never_rewritten(fresh_home, capsys, monkeypatch):
    path = fresh_home / "feint.db"
    assert main(RUN) == 0  # a store with a run (and its arrays and images), then cut to nothing
    capsys.readouterr()
    path.write_bytes(b"")
    for extra in ("-wal", "-shm"):
        (fresh_home / f"feint.db{extra}").unlink(missing_ok=True)
    no_attack(monkeypatch)
    line = _one_line(capsys, ["show", "abc"])
    assert f"the store {path} is damaged (the file is empty: 0 bytes, beside stored results)" in line
    assert "recent: none" not in line
    line = _one_line(capsys, RUN)
    assert "is damaged" in line and f"mv {path} {path}.damaged" in line
    line = _one_line(capsys, ["scan", "digits_keras", "-a", "pgd", "-i", "0:2"])
    assert "is damaged" in line
    assert path.read_bytes() == b"" and sorted(p.name for p in fresh_home.iterdir() if "feint.db" in p.name) == [
        "feint.db"
    ]
    assert main(["store", "check"]) == 2
    assert "damaged" in capsys.readouterr().out


def test_a_file_that_is_not_sqlite_is_named_and_left_as_it_is(fresh_home, capsys, no_attack):
    path = fresh_home / "feint.db"
    path.write_text("not a database, some notes\n")
    line = _one_line(capsys, RUN)
    assert "is damaged (the file is not a SQLite database)" in line
    assert path.read_text() == "not a database, some notes\n"


def test_another_programs_sqlite_database_is_not_taken_for_an_empty_store(fresh_home, capsys, no_attack):
    path = fresh_home / "feint.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.commit()
    db.close()
    before = _digest(path)
    line = _one_line(capsys, RUN)
    assert "a SQLite database of something else (tables: contacts), not a feint store" in line
    assert _digest(path) == before


def test_a_garbage_page_is_found_before_the_attack_runs_and_by_store_check(fresh_home, capsys, no_attack):
    path = fresh_home / "feint.db"
    _stored_run(path)
    assert main(["store", "check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"path": str(path), "ok": True, "problems": []}
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    assert len(data) >= 4 * page
    data[2 * page : 3 * page] = os.urandom(page)  # one page of the samples' table, overwritten
    path.write_bytes(bytes(data))
    before = _digest(path)
    line = _one_line(capsys, RUN)
    assert f"the store {path} is damaged" in line and "feint store check" in line
    assert main(["store", "check"]) == 2
    out = capsys.readouterr().out
    assert f"store {path}: damaged" in out and len(out.splitlines()) >= 2
    checked = check_store(path)
    assert not checked["ok"] and checked["problems"]
    line = _one_line(capsys, ["show", "r1"])  # reading the page says so too, in one line
    assert "is damaged" in line
    assert _digest(path) == before


def test_store_check_says_ok_and_exits_0_on_a_sound_store(fresh_home, capsys):
    _stored_run(fresh_home / "feint.db", n=3)
    assert main(["store", "check"]) == 0
    assert capsys.readouterr().out.startswith(f"store {fresh_home / 'feint.db'}: ok")
    from feint import api

    assert api.check_store()["ok"] is True


def test_store_check_in_the_shell_fails_the_script_on_a_damaged_store(fresh_home, capsys):
    (fresh_home / "feint.db").write_bytes(b"")
    assert main(["shell", "-c", "store check"]) == 2
    assert "damaged" in capsys.readouterr().out


def test_a_new_store_is_never_an_empty_file(tmp_path):
    path = tmp_path / "new.db"
    store = Store(path)
    assert path.stat().st_size > 0 and check_store(path)["ok"]
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.db"]  # no temporary file left


def test_an_empty_file_with_no_results_beside_it_becomes_a_store(fresh_home, capsys):
    """Another program that opened the path first (sqlite3 makes an empty file) lost nothing."""
    sqlite3.connect(fresh_home / "feint.db").close()
    assert (fresh_home / "feint.db").stat().st_size == 0
    assert main(RUN) == 0 and check_store()["ok"] and len(Store().recent_ids()) == 1


# -- locked -----------------------------------------------------------------------------------


def test_a_store_locked_past_the_busy_timeout_is_one_line(fresh_home, capsys, monkeypatch, no_attack):
    path = fresh_home / "feint.db"
    _stored_run(path, n=3)
    monkeypatch.setattr("feint.store.db.BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process's write, never ending
    try:
        line = _one_line(capsys, RUN)
        assert f"the store {path} is locked by another process, which held its write lock past 0.2 s" in line
        assert main(["show", "r1", "--json"]) == 0  # readers are not kept waiting
        assert json.loads(capsys.readouterr().out)["run_id"] == "r1"
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# -- read-only --------------------------------------------------------------------------------


def _read_only_argv(home, argv: list[str]) -> list[str]:
    """``feint ARGV`` with the store's folder read-only: for a user, its permissions; for
    root (whom permissions do not stop), a read-only bind mount in a namespace of its own."""
    feint = [sys.executable, "-m", "feint", *argv]
    if os.geteuid() != 0:
        return feint
    if shutil.which("unshare") is None:
        pytest.skip("root, and no unshare to make a read-only mount")
    probe = subprocess.run(["unshare", "-Urm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("root, and user namespaces are not available for a read-only mount")
    script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'
    return ["unshare", "-Urm", "sh", "-c", script, "sh", str(home), *feint]


def test_a_read_only_store_is_read_by_show_and_report_and_refused_by_run(fresh_home, tmp_path):
    path = fresh_home / "feint.db"
    _stored_run(path, n=3)
    for extra in ("-wal", "-shm"):
        assert not (fresh_home / f"feint.db{extra}").exists()
    before = _digest(path)
    env = {**os.environ, "FEINT_HOME": str(fresh_home), "OMP_NUM_THREADS": "1"}
    modes = (path.stat().st_mode, fresh_home.stat().st_mode)
    if os.geteuid() != 0:
        path.chmod(0o444)
        fresh_home.chmod(0o555)
    try:
        report = tmp_path.parent / f"{tmp_path.name}-report.md"
        for argv in (["show", "r1", "--json"], ["report", "r1", "-o", str(report)]):
            done = subprocess.run(_read_only_argv(fresh_home, argv), env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
        assert "pgd" in report.read_text()
        done = subprocess.run(_read_only_argv(fresh_home, RUN), env=env, capture_output=True, text=True)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert f"the store {path} is read-only" in lines[0] and "feint show and feint report read it" in lines[0]
    finally:
        path.chmod(modes[0])
        fresh_home.chmod(modes[1])
    assert _digest(path) == before


# -- a full disk ------------------------------------------------------------------------------


def test_a_database_that_fills_up_mid_scan_stops_in_one_line_keeping_its_units(fresh_home, capsys, monkeypatch):
    """SQLite's page limit (``PRAGMA max_page_count``) stands in for a full disk: the write
    of a unit fails with SQLite's own 'database or disk is full'."""
    import feint.store.db as db_module
    from feint.engine.scan import unfinished_units

    real = db_module.Store.add_unit
    calls = []

    def filling(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the third unit finds the database full
            pages = self.db.execute("PRAGMA page_count").fetchone()[0]
            self.db.execute(f"PRAGMA max_page_count = {pages}")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(db_module.Store, "add_unit", filling)
    argv = ["scan", "digits_keras", "-a", "pgd", "-i", "0:40", "--set", "max_iter=2", "--chunk-size", "4"]
    line = _one_line(capsys, argv)
    scan_id = Store().db.execute("SELECT scan_id FROM scans").fetchone()[0]
    assert f"the disk holding the store {fresh_home / 'feint.db'} is full (database or disk is full)" in line
    assert f"scan {scan_id} keeps every unit it stored" in line
    assert check_store()["ok"]
    store = Store()
    done = store.db.execute("SELECT COUNT(*) FROM units WHERE status = 'done'").fetchone()[0]
    assert done >= 2 and store.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 4 * done
    assert sum(u["samples"] for u in unfinished_units(store, scan_id)) == 40 - 4 * done
    monkeypatch.setattr(db_module.Store, "add_unit", real)  # space again: the scan continues
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["scan_id"] == scan_id and doc["settings"]["status"] == "done" and doc["runs"][0]["n"] == 40


def _tmpfs_home(tmp_path, size: str, script: str) -> subprocess.CompletedProcess:
    """Run the shell ``script`` with FEINT_HOME on a tmpfs of ``size`` (a namespace of its
    own), sharing the session's models and caches; skipped where that cannot be made."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-Urm", "true"]).returncode != 0:
        pytest.skip("no user namespaces here to mount a small tmpfs")
    home = tmp_path / "home"
    home.mkdir()
    shared = os.environ["FEINT_HOME"]
    links = " && ".join(f'ln -s "{shared}/{name}" "$H/{name}"' for name in ("models", "data", "cache"))
    env = {**os.environ, "FEINT_HOME": str(home), "H": str(home), "OMP_NUM_THREADS": "1", "PYTHON": sys.executable}
    full = f'mount -t tmpfs -o size={size} tmpfs "$H" && {links} && {script}'
    return subprocess.run(["unshare", "-Urm", "sh", "-c", full], env=env, capture_output=True, text=True)


def test_a_full_disk_is_refused_before_the_attack_runs(tmp_path):
    done = _tmpfs_home(
        tmp_path,
        "600k",
        '$PYTHON -m feint scan digits_keras -a pgd -i 0:4 --set max_iter=2; echo "rc=$?"; '
        '$PYTHON -m feint run digits_keras pgd -i 0:4 --set max_iter=2; echo "rc=$?"; '
        "$PYTHON -m feint store check; ls $H/artifacts 2>/dev/null | wc -l",
    )
    err = done.stderr.strip().splitlines()
    assert done.stdout.count("rc=2") == 2 and len(err) == 2, (done.stdout, done.stderr)
    for line in err:
        assert "the disk holding the store" in line and "is full (less than 1 MiB free" in line
    assert ": ok" in done.stdout  # the store it made is sound, and empty
    assert done.stdout.strip().endswith("0")  # no attack ran: no artifacts


@pytest.mark.parametrize("executor", ["local", "process --workers 2"])
def test_a_disk_that_fills_up_mid_scan_stops_in_one_line_and_the_store_stays_sound(executor, tmp_path):
    scan = f"$PYTHON -m feint scan digits_keras -a pgd -i 0:200 --set max_iter=2 --chunk-size 10 --executor {executor}"
    done = _tmpfs_home(
        tmp_path,
        "1600k",
        f'{scan}; echo "rc=$?"; $PYTHON -m feint store check; '
        "$PYTHON -c \"import sqlite3; db = sqlite3.connect('$H/feint.db'); "
        "print('units', *db.execute(\\\"SELECT COUNT(*) FROM units WHERE status = 'done'\\\").fetchone()); "
        "print('samples', *db.execute('SELECT COUNT(*) FROM samples').fetchone())\"",
    )
    err = done.stderr.strip().splitlines()
    assert "rc=2" in done.stdout and len(err) == 1 and "Traceback" not in done.stderr, (done.stdout, done.stderr)
    assert "is full (No space left on device)" in err[0] or "is full (database or disk is full)" in err[0]
    assert "keeps every unit it stored, and a resume of it runs the rest" in err[0]  # wherever it filled up
    assert ": ok" in done.stdout
    counts = dict(line.split() for line in done.stdout.splitlines() if line.startswith(("units", "samples")))
    assert int(counts["samples"]) == 10 * int(counts["units"]) and int(counts["units"]) < 20


# -- reports ----------------------------------------------------------------------------------


def test_a_run_whose_images_fill_the_disk_stops_in_one_line_and_leaves_no_files(tmp_path):
    done = _tmpfs_home(
        tmp_path,
        "1400k",
        '$PYTHON -m feint run digits_keras pgd -i 0:300 --set max_iter=2; echo "rc=$?"; '
        "$PYTHON -m feint store check; ls -A $H/artifacts | wc -l",
    )
    err = done.stderr.strip().splitlines()
    assert "rc=2" in done.stdout and len(err) == 1 and "Traceback" not in done.stderr, (done.stdout, done.stderr)
    assert "artifacts" in err[0] and "is full (No space left on device)" in err[0]
    assert ": ok" in done.stdout and done.stdout.strip().endswith("0")  # nothing stored, no files left behind


def test_a_report_that_cannot_be_written_leaves_the_old_one_whole(fresh_home, tmp_path, capsys, monkeypatch):
    _stored_run(fresh_home / "feint.db", n=3)
    (tmp_path / "reports").mkdir()
    out = tmp_path / "reports" / "report.md"
    assert main(["report", "r1", "-o", str(out)]) == 0
    capsys.readouterr()
    old = out.read_text()
    assert "pgd" in old
    out.write_text(old + "kept\n")

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)  # the report's write fails as on a full disk
    line = _one_line(capsys, ["report", "r1", "-o", str(out)])
    monkeypatch.undo()
    assert f"cannot write the report {str(out)!r}: No space left on device; the file there before is as it was" in (
        line
    )
    assert out.read_text() == old + "kept\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.md"]  # no temporary file left
