"""Notifications: a webhook (urllib) and a Prefect notification block, tested on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from ops_helpers import Receiver

from ukiha_pipeline.notify import send_notifications
from ukiha_pipeline.runs import RunSummary, SheetOutcome
from ukiha_pipeline.settings import Settings

LOG = logging.getLogger("test-notify")
FATAL_RUN = RunSummary(
    "20260601T000000Z-abcd1234",
    "flow-run-1",
    (
        SheetOutcome("raw/R3.txt", "loaded", "うきは市", 2021, 99, 40, 0, 0, 3),
        SheetOutcome("raw/empty.txt", "fatal", n_errors=0),
    ),
)
CLEAN_RUN = RunSummary("run-ok", None, FATAL_RUN.outcomes[:1])


def test_nothing_configured_nothing_sent(webhook_receiver: Receiver) -> None:
    assert send_notifications(FATAL_RUN, Settings(), LOG) == []
    assert webhook_receiver.requests == []


def test_a_clean_run_sends_nothing(webhook_receiver: Receiver) -> None:
    settings = Settings(notify_webhook=webhook_receiver.url)
    assert send_notifications(CLEAN_RUN, settings, LOG) == []
    assert webhook_receiver.requests == []


def test_webhook_gets_json_with_run_id_sheets_counts_and_japanese_text(
    webhook_receiver: Receiver,
) -> None:
    settings = Settings(notify_webhook=webhook_receiver.url)
    assert send_notifications(FATAL_RUN, settings, LOG) == ["webhook"]
    [(path, headers, body)] = webhook_receiver.requests
    assert path == "/hook/secret-token"
    assert headers["Content-Type"].startswith("application/json")
    assert isinstance(body, dict)
    assert body["run_id"] == "20260601T000000Z-abcd1234"
    assert body["flow_run_id"] == "flow-run-1"
    assert body["counts"]["fatal"] == 1 and body["counts"]["loaded"] == 1
    assert [(s["source_file"], s["status"]) for s in body["sheets"]] == [
        ("raw/R3.txt", "loaded"),
        ("raw/empty.txt", "fatal"),
    ]
    assert "要確認" in body["text"] and "raw/empty.txt [致命的]" in body["text"]


def test_a_failing_webhook_only_warns(
    webhook_receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    webhook_receiver.status = 500
    settings = Settings(notify_webhook=webhook_receiver.url)
    with caplog.at_level(logging.WARNING, logger="test-notify"):
        assert send_notifications(FATAL_RUN, settings, LOG) == []
    assert len(webhook_receiver.requests) == 1
    [record] = caplog.records
    assert "500" in record.getMessage()
    assert "secret-token" not in record.getMessage()  # the URL's secret stays out of the log


def test_an_unreachable_or_invalid_webhook_only_warns(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with caplog.at_level(logging.WARNING, logger="test-notify"):
        started = time.monotonic()
        for url in (f"http://127.0.0.1:{port}/hook", "file:///etc/passwd", "not a url"):
            assert send_notifications(FATAL_RUN, Settings(notify_webhook=url), LOG) == []
        assert time.monotonic() - started < 10
    assert len(caplog.records) == 3


@pytest.mark.flow
def test_prefect_notification_block(
    prefect_harness: None, webhook_receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    CustomWebhookNotificationBlock(
        name="ukiha",
        url=webhook_receiver.url,
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
    ).save("ukiha-test", overwrite=True)
    settings = Settings(notify_block="custom-webhook/ukiha-test")
    assert send_notifications(FATAL_RUN, settings, LOG) == ["block"]
    [(_, _, body)] = webhook_receiver.requests
    assert isinstance(body, dict)
    assert body["subject"] == FATAL_RUN.headline()
    assert "raw/empty.txt [致命的]" in body["body"]

    with caplog.at_level(logging.WARNING, logger="test-notify"):
        for name in ("custom-webhook/no-such-block", "no-slash"):
            assert send_notifications(FATAL_RUN, Settings(notify_block=name), LOG) == []
    assert len(caplog.records) == 2
