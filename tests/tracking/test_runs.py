import os

from sentiment_lib.tracking import runs


def _run_folder(workspace, name, mtime):
    folder = workspace / "wandb" / name
    folder.mkdir(parents=True)
    os.utime(folder, (mtime, mtime))
    return folder


def test_the_newest_offline_run_is_found(tmp_path):
    _run_folder(tmp_path, "offline-run-20261201_000000-a", 1_000)
    newest = _run_folder(tmp_path, "offline-run-20261201_000001-b", 2_000)
    assert runs.latest_wandb_run(tmp_path) == newest.resolve()


def test_a_command_that_made_no_run_is_not_pointed_at_an_older_one(tmp_path):
    _run_folder(tmp_path, "offline-run-20261201_000000-a", 1_000)
    assert runs.latest_wandb_run(tmp_path, since=1_500) is None
    assert runs.latest_wandb_run(tmp_path / "missing") is None
