"""Tell someone when the annual run needs attention (a fatal sheet, errors, a failed load).

Two channels, both optional (`UKIHA_NOTIFY_WEBHOOK`, `UKIHA_NOTIFY_BLOCK`): a JSON POST with
the standard library's urllib, and a Prefect notification block saved on the server (Slack,
Teams, e-mail, a custom webhook...). Nothing configured, nothing sent. A channel that fails
logs a warning and never fails the run.
"""

from __future__ import annotations

import http.client
import inspect
import json
import logging
import urllib.parse
import urllib.request
from typing import TypeAlias

from ukiha_pipeline.runs import RunSummary
from ukiha_pipeline.settings import NOTIFY_TIMEOUT_S, Settings

Logger: TypeAlias = "logging.Logger | logging.LoggerAdapter[logging.Logger]"


def post_json(url: str, payload: dict[str, object], *, timeout_s: float = NOTIFY_TIMEOUT_S) -> int:
    """POST `payload` as UTF-8 JSON; returns the HTTP status. Raises OSError/ValueError."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"{url}: http:// か https:// の URL を指定してください。")
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "ukiha-pipeline"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # scheme checked above
        return int(response.status)


def notify_block(name: str, subject: str, body: str) -> None:
    """Send through a saved Prefect notification block, `block-type-slug/block-name`."""
    from prefect.blocks.abstract import NotificationBlock
    from prefect.blocks.core import Block

    if "/" not in name:
        raise ValueError(f"UKIHA_NOTIFY_BLOCK={name!r}: `種類/名前` の形で指定してください。")
    block = Block.load(name)
    if not isinstance(block, NotificationBlock):
        raise ValueError(f"{name}: 通知ブロック (notification block) ではありません。")
    with block.raise_on_failure():
        sent = block.notify(body, subject=subject)
        if inspect.isawaitable(sent):  # a block whose notify is async only
            from prefect.utilities.asyncutils import run_coro_as_sync

            run_coro_as_sync(sent)


def send_notifications(summary: RunSummary, settings: Settings, logger: Logger) -> list[str]:
    """Notify the configured channels if the run needs attention; returns the channels reached."""
    if not summary.needs_attention:
        return []
    reached: list[str] = []
    if settings.notify_webhook:
        try:
            post_json(settings.notify_webhook, summary.payload())
        except (OSError, ValueError, http.client.HTTPException) as exc:
            logger.warning(
                "通知 webhook に送れませんでした (%s): %s", _redact(settings.notify_webhook), exc
            )
        else:
            reached.append("webhook")
    if settings.notify_block:
        try:
            notify_block(settings.notify_block, summary.headline(), summary.text())
        except Exception as exc:  # any failure of a third-party channel must not fail the run
            logger.warning("通知ブロック %s で送れませんでした: %s", settings.notify_block, exc)
        else:
            reached.append("block")
    for channel in reached:
        logger.info("通知しました (%s): %s", channel, summary.headline())
    return reached


def _redact(url: str) -> str:
    """Webhook URLs often carry a secret in the path or query: log the host only."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/…"
