"""The labelling queue's round trip through Label Studio: push its texts as tasks, pull the finished labels back.

:func:`push` makes sure the Label Studio project exists (text classification, positive or negative; its title
is the ``LABEL_STUDIO_PROJECT_TITLE`` setting) and imports every row of ``data/to_label/*.csv`` whose
``request_id`` is not a task of the project yet, so pushing twice adds nothing.

:func:`pull` takes the finished annotations (submitted, not skipped) of the tasks not pulled before and writes
them as one ``data/incoming/label-studio-<stamp>.csv`` (``request_id``, ``Review``, ``Sentiment``, ``annotator``,
``labelled_at``), which the next ingestion moves into the feedback store. The request ids it took are kept in
``state/label_studio.json``, so a second pull brings nothing twice. The file is written before that state: a
crash in between pulls the same labels again, and ingestion skips them as duplicates (never a label lost).

A task annotated more than once gives one row, its latest submitted annotation. An annotation that chose
something other than one of positive or negative is reported and left unpulled, so that it comes back once
fixed in Label Studio.

The SDK (``label-studio-sdk``) is the optional ``labeling`` extra: it is imported only when a command runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment_lib.clock import as_text, wall_now
from sentiment_lib.data.schema import LABEL_COLUMN, LABELS, TEXT_COLUMN
from sentiment_lib.errors import SentimentError
from sentiment_lib.io import read_json, write_csv_atomic, write_json_atomic
from sentiment_lib.labeling.queue import queued_ids, read_queues
from sentiment_lib.settings import LabelStudioSettings
from sentiment_lib.workspace import Workspace

log = logging.getLogger(__name__)

REQUEST_ID = "request_id"
INCOMING_COLUMNS = [REQUEST_ID, TEXT_COLUMN, LABEL_COLUMN, "annotator", "labelled_at"]
INSTALL_HINT = "pip install 'sentiment-lib[labeling]'"
FROM_NAME, TO_NAME = "sentiment", "text"  # the names of the choices and the text in the labelling interface
IMPORT_CHUNK = 500  # tasks per import request: a large queue in several requests of bounded size
# The interface annotators see: the text, why it was chosen, and one choice. The project is checked against it
# on every push, so an interface edited by hand that no longer gives positive/negative is put back.
LABEL_CONFIG = f"""<View>
  <Header value="Why this text: $why" size="6"/>
  <Text name="{TO_NAME}" value="$text"/>
  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInline="true" required="true">
{chr(10).join(f'    <Choice value="{label}"/>' for label in sorted(LABELS, reverse=True))}
  </Choices>
</View>"""


class LabelStudioError(SentimentError):
    """Label Studio cannot be used: the SDK is missing, the server does not answer or refuses the key, or there is
    nothing to push."""


@dataclass
class PushResult:
    project_id: int
    project_created: bool
    queue_files: int  # data/to_label/*.csv read
    tasks_added: int
    already_there: int  # queue rows whose request_id was a task of the project already


@dataclass
class PullResult:
    project_id: int
    rows: int = 0  # labels written to data/incoming/
    file: Path | None = None  # None: nothing new, no file written
    skipped: int = 0  # tasks whose only annotations were skipped (cancelled)
    unfinished: int = 0  # tasks with no annotation yet
    problems: list[str] = field(default_factory=list)  # annotations that could not be taken, and why


def push(ws: Workspace, settings: LabelStudioSettings | None = None) -> PushResult:
    """Create the project the first time (else bring its interface up to date) and import the queue's new rows.

    Raises:
        LabelStudioError: no queue yet, the SDK missing, the server unreachable or refusing the API key.
        DataValidationError: a queue file is not a CSV with ``request_id`` and ``Review`` columns.
    """
    settings = settings or LabelStudioSettings.from_environment()
    queue, files = read_queue(ws)
    client = connect(settings)
    project_id, created = ensure_project(client, settings)
    known = task_request_ids(client, project_id, settings)
    new = queue[~queue[REQUEST_ID].isin(known)]
    import_tasks(client, project_id, [task_of(row) for row in new.to_dict("records")], settings)
    log.info("Label Studio project %d: %d task(s) added, %d already there", project_id, len(new), len(queue) - len(new))
    return PushResult(project_id, created, files, len(new), len(queue) - len(new))


def pull(ws: Workspace, settings: LabelStudioSettings | None = None) -> PullResult:
    """Write the finished labels not pulled before as one ``data/incoming/label-studio-<stamp>.csv``.

    Raises:
        LabelStudioError: the SDK missing, the server unreachable or refusing the API key, or no project yet.
        DataValidationError: ``state/label_studio.json`` is not valid JSON.
    """
    settings = settings or LabelStudioSettings.from_environment()
    pulled = pulled_request_ids(ws)
    client = connect(settings)
    project_id = find_project(client, settings)
    if project_id is None:
        raise LabelStudioError(
            f"Label Studio at {settings.url} has no project {settings.project_title!r} yet: run `runner.py label push`"
        )
    result = PullResult(project_id)
    annotators = AnnotatorNames(client, settings)
    tasks = project_tasks(client, project_id, settings)
    rows = [row for task in tasks if (row := _label_row(task, pulled, result, annotators))]
    if rows:
        frame = pd.DataFrame(rows, columns=INCOMING_COLUMNS)
        result.file = write_incoming(ws, frame)
        result.rows = len(frame)
        remember_pulled(ws, pulled | set(frame[REQUEST_ID]))
    for problem in result.problems:
        log.warning("Not pulled: %s", problem)
    return result


# --- the queue ---------------------------------------------------------------------------------------------------


def read_queue(ws: Workspace) -> tuple[pd.DataFrame, int]:
    """Every queue file's rows, one per request id (the first one kept), and how many files there were.

    Raises:
        LabelStudioError: there is no queue file yet.
        DataValidationError: a file that is not a CSV with ``request_id`` and ``Review`` columns.
    """
    queue = read_queues(ws.to_label)
    if queue.empty:
        raise LabelStudioError(
            f"No labelling queue yet: {ws.to_label} holds no queued text. Each loop cycle writes one "
            "(runner.py once) once the API has served texts."
        )
    queue = queue[queue[REQUEST_ID].str.strip() != ""]
    ambiguous = queued_ids(queue).ambiguous
    if ambiguous:  # ingestion would refuse their labels: an annotator's time is not spent on them
        log.warning("Not pushed: request id(s) queued with different texts: %s", ", ".join(sorted(ambiguous)[:5]))
    queue = queue[~queue[REQUEST_ID].isin(ambiguous)]
    return queue.drop_duplicates(REQUEST_ID, keep="first").reset_index(drop=True), queue["queue"].nunique()


def task_of(row: dict[str, Any]) -> dict[str, Any]:
    """One queue row as a Label Studio task: the text under ``text``, every other column kept beside it (an
    annotator sees why it was chosen; the request id brings the label home)."""
    data = {name: str(value) for name, value in row.items() if name != TEXT_COLUMN}
    return {TO_NAME: str(row[TEXT_COLUMN]), **data}


# --- the server ----------------------------------------------------------------------------------------------------


def connect(settings: LabelStudioSettings) -> Any:
    """A client of the server, its key checked by asking who it belongs to.

    Raises:
        LabelStudioError: the SDK is not installed, no API key is set, the server does not answer or refuses it.
    """
    sdk = _sdk()
    if not settings.api_key:
        raise LabelStudioError(
            "LABEL_STUDIO_API_KEY is not set: copy an access token from Label Studio (Account & Settings) into the "
            "environment or the workspace's .env file"
        )
    client = sdk.LabelStudio(base_url=settings.url, api_key=settings.api_key, timeout=settings.timeout_seconds)
    with calling(settings, "the API key's user"):
        client.users.whoami()
    return client


def _sdk() -> Any:
    """The SDK module.

    Raises:
        LabelStudioError: it is not installed (the optional ``labeling`` extra).
    """
    try:
        import label_studio_sdk
    except ImportError:
        raise LabelStudioError(f"The Label Studio SDK is not installed: {INSTALL_HINT}") from None
    return label_studio_sdk


@contextmanager
def calling(settings: LabelStudioSettings, what: str) -> Iterator[None]:
    """Turn the SDK's failures while asking the server for ``what`` into one :class:`LabelStudioError` each.

    Raises:
        LabelStudioError: the server does not answer, refuses the key, or answers with another error.
    """
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    try:
        yield
    except httpx.TransportError as err:
        raise LabelStudioError(
            f"Cannot reach Label Studio at {settings.url} ({type(err).__name__}: {err}); is it running? "
            "(LABEL_STUDIO_URL names the server)"
        ) from None
    except ApiError as err:
        if err.status_code in (401, 403):
            raise LabelStudioError(
                f"Label Studio at {settings.url} refused the API key (HTTP {err.status_code}): check "
                "LABEL_STUDIO_API_KEY (a personal access token, or a legacy token where the organisation allows them)"
            ) from None
        raise LabelStudioError(
            f"Label Studio at {settings.url} answered HTTP {err.status_code} to a request for {what}: {err.body}"
        ) from None


def find_project(client: Any, settings: LabelStudioSettings) -> int | None:
    """The id of the project titled as the settings say (the oldest, if several), or None."""
    with calling(settings, "the projects"):
        # the title filter may match by substring: only the exact title is ours
        found = client.projects.list(title=settings.project_title)
        ids = [int(project.id) for project in found if project.title == settings.project_title]
    return min(ids) if ids else None


def ensure_project(client: Any, settings: LabelStudioSettings) -> tuple[int, bool]:
    """The project's id, and whether it was created now; an existing one gets the interface back if it drifted.

    Raises:
        LabelStudioError: the server refuses to create or update it.
    """
    project_id = find_project(client, settings)
    if project_id is None:
        with calling(settings, "a new project"):
            project = client.projects.create(title=settings.project_title, label_config=LABEL_CONFIG)
        log.info("Created the Label Studio project %r (id %d)", settings.project_title, project.id)
        return int(project.id), True
    with calling(settings, f"project {project_id}"):
        if _normalised(client.projects.get(id=project_id).label_config) != _normalised(LABEL_CONFIG):
            client.projects.update(id=project_id, label_config=LABEL_CONFIG)
            log.info("Updated the labelling interface of Label Studio project %d", project_id)
    return project_id, False


def _normalised(config: str | None) -> str:
    return "".join((config or "").split())


def project_tasks(client: Any, project_id: int, settings: LabelStudioSettings, fields: str = "all") -> Iterable[Any]:
    """Every task of the project (all pages), with its annotations unless ``fields`` is ``task_only``.

    Raises:
        LabelStudioError: the server fails while listing them.
    """
    with calling(settings, f"the tasks of project {project_id}"):
        return list(client.tasks.list(project=project_id, fields=fields))


def task_request_ids(client: Any, project_id: int, settings: LabelStudioSettings) -> set[str]:
    return {str(task.data.get(REQUEST_ID, "")) for task in project_tasks(client, project_id, settings, "task_only")}


def import_tasks(client: Any, project_id: int, tasks: list[dict[str, Any]], settings: LabelStudioSettings) -> None:
    """Import ``tasks`` into the project, :data:`IMPORT_CHUNK` per request.

    Raises:
        LabelStudioError: the server refuses an import (the chunks before it stay imported).
    """
    for start in range(0, len(tasks), IMPORT_CHUNK):
        with calling(settings, f"an import into project {project_id}"):
            client.projects.import_tasks(id=project_id, request=tasks[start : start + IMPORT_CHUNK])


class AnnotatorNames:
    """Annotators by user id: their email where the server lists its users, else the id itself."""

    def __init__(self, client: Any, settings: LabelStudioSettings):
        self._client, self._settings = client, settings
        self._emails: dict[str, str] | None = None

    def name(self, completed_by: Any) -> str:
        if isinstance(completed_by, dict):  # some versions nest the user in the annotation
            return str(completed_by.get("email") or completed_by.get("id", ""))
        if self._emails is None:
            self._emails = self._list_emails()
        return self._emails.get(str(completed_by), str(completed_by))

    def _list_emails(self) -> dict[str, str]:
        try:
            with calling(self._settings, "the users"):
                return {str(user.id): user.email for user in self._client.users.list() if user.email}
        except LabelStudioError as err:  # an annotator's id still says who labelled; the labels must not wait
            log.warning("Annotators are named by id: %s", err)
            return {}


# --- the labels ----------------------------------------------------------------------------------------------------


def _label_row(task: Any, pulled: set[str], result: PullResult, annotators: AnnotatorNames) -> list[str] | None:
    """The incoming row of one task (its latest submitted annotation), or None, counting why in ``result``."""
    request_id = str((task.data or {}).get(REQUEST_ID, ""))
    if request_id in pulled:
        return None
    annotations = [a for a in (task.annotations or []) if isinstance(a, dict)]
    submitted = [a for a in annotations if not a.get("was_cancelled")]
    if not submitted:
        if annotations:
            result.skipped += 1
        else:
            result.unfinished += 1
        return None
    latest = max(submitted, key=_latest_first_key)
    where = f"task {task.id} (request_id {request_id or 'missing'}), annotation {latest.get('id')}"
    if not request_id:
        result.problems.append(f"{where}: the task has no request_id (imported by hand?), so its text is not ours")
        return None
    choices = chosen(latest)
    if len(choices) != 1 or choices[0] not in LABELS:
        result.problems.append(f"{where}: chose {choices}; a label is exactly one of {list(LABELS)}")
        return None
    text = str((task.data or {}).get(TO_NAME, ""))
    return [request_id, text, choices[0], annotators.name(latest.get("completed_by", "")), _moment(latest)]


def chosen(annotation: dict[str, Any]) -> list[str]:
    """The choices an annotation made, in our interface's choices (other result kinds are ignored)."""
    picked: list[str] = []
    for item in annotation.get("result") or []:
        if item.get("type") == "choices" and item.get("from_name", FROM_NAME) == FROM_NAME:
            picked += [str(choice).strip().lower() for choice in (item.get("value") or {}).get("choices", [])]
    return picked


def _moment(annotation: dict[str, Any]) -> str:
    """When the label was given as it stands (its last change), ISO 8601 in UTC to the second."""
    changed = _changed_at(annotation)
    return as_text(changed) if changed is not None else str(_changed_value(annotation))


def _changed_at(annotation: dict[str, Any]) -> datetime | None:
    """The annotation's last change as an aware datetime (sub-seconds kept), None when it has no readable one."""
    value = _changed_value(annotation)
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _changed_value(annotation: dict[str, Any]) -> Any:
    return annotation.get("updated_at") or annotation.get("created_at") or ""


def _latest_first_key(annotation: dict[str, Any]) -> tuple[datetime, int]:
    return _changed_at(annotation) or datetime.min.replace(tzinfo=UTC), int(annotation.get("id") or 0)


def write_incoming(ws: Workspace, frame: pd.DataFrame) -> Path:
    """``frame`` as a new ``data/incoming/label-studio-<stamp>.csv``, whole or not at all (ingestion takes only
    names ending in ``.csv``, and the temporary name does not)."""
    stamp = wall_now().strftime("%Y%m%dT%H%M%SZ")
    path, n = ws.incoming / f"label-studio-{stamp}.csv", 1
    while path.exists():  # two pulls in one second
        path, n = ws.incoming / f"label-studio-{stamp}-{n}.csv", n + 1
    return write_csv_atomic(frame[INCOMING_COLUMNS], path)


def pulled_request_ids(ws: Workspace) -> set[str]:
    """The request ids pulled before.

    Raises:
        DataValidationError: the state file is not valid JSON.
    """
    return set(read_json(ws.label_studio_state, {}).get("pulled_request_ids", []))


def remember_pulled(ws: Workspace, request_ids: set[str]) -> None:
    write_json_atomic(
        ws.label_studio_state, {"pulled_request_ids": sorted(request_ids), "updated_at": as_text(wall_now())}
    )
