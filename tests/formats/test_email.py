"""Raw emails: the multipart fixture, encoded headers, HTML-only mail, hostile and odd messages."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats import parse_body

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_multipart_order_confirmation() -> None:
    parsed = parse_body("email", (FIXTURES / "order-confirmation.eml").read_bytes())
    document = parsed.document
    assert document["from"] == "orders@brulerie-du-parc.example"
    assert document["from_name"] == "Brûlerie du Parc"
    assert document["to"] == ["support@payloads.localhost", "eloise@martin-conseil.example"]
    assert document["cc"] == ["compta@brulerie-du-parc.example"]
    assert document["subject"] == "Commande n°42 – confirmée ✔"
    assert document["date"] == "2024-07-22T10:52:07Z"
    assert document["message_id"] == "<20240722105207.4821.ORD-2024-0042@brulerie-du-parc.example>"
    assert document["text"].startswith("Bonjour Éloïse,\n\nVotre commande n°42 est confirmée.\n")
    assert "<b>n°42</b>" in document["html"]
    assert document["headers"]["x-order-id"] == "ORD-2024-0042"
    assert document["headers"]["received"].startswith("from mail.brulerie-du-parc.example (")
    assert "Mon, 22 Jul 2024 12:52:10 +0200 (CEST), from [10.0.0.12]" in document["headers"]["received"]

    pdf, csv = parsed.attachments
    assert (pdf.filename, pdf.content_type) == ("facture-ORD-2024-0042.pdf", "application/pdf")
    assert pdf.data.startswith(b"%PDF-1.4") and pdf.data.endswith(b"%%EOF\n")
    assert (csv.filename, csv.content_type) == ("lignes.csv", "text/csv")
    assert csv.data.decode().splitlines()[1] == "BEAN-ESP-1KG;Café en grains, 1 kg;2"
    assert document["attachments"] == [
        {
            "filename": a.filename,
            "content_type": a.content_type,
            "size": len(a.data),
            "sha256": hashlib.sha256(a.data).hexdigest(),
        }
        for a in parsed.attachments
    ]
    assert "data=" not in repr(pdf)


def test_html_only_mail_gets_text_from_the_html() -> None:
    raw = (
        b"From: Stripe <notifications@stripe.example>\r\nTo: billing@payloads.localhost\r\n"
        b"Subject: Payment failed\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><title>x</title><style>p{}</style></head><body><h1>Payment&nbsp;failed</h1>"
        b"<p>Invoice <b>8F2B1C3D-0003</b> for &euro;29.00</p><script>alert(1)</script></body></html>"
    )
    document = parse_body("email", raw).document
    assert document["text"] == "Payment failed\n\nInvoice 8F2B1C3D-0003 for €29.00"
    assert document["from_name"] == "Stripe"
    assert document["attachments"] == []


def test_bad_charsets_and_raw_8bit_headers_never_crash() -> None:
    raw = (
        "From: Éloïse <eloise@example.com>\r\nTo: support@payloads.localhost\r\n"
        "Subject: Café =?bogus?q?abc?=\r\nDate: not a date\r\n"
        "Content-Type: text/plain; charset=x-unknown\r\n\r\nbonjour é\r\n"
    ).encode()
    document = parse_body("email", raw).document
    assert document["from_name"] == "Éloïse"
    assert document["subject"].startswith("Café")
    assert document["date"] is None
    assert document["text"] == "bonjour é\n"


def test_date_without_zone_is_utc_and_missing_headers_are_none() -> None:
    document = parse_body("email", b"Date: Mon, 22 Jul 2024 12:52:07 -0000\r\n\r\nhi").document
    assert document["date"] == "2024-07-22T12:52:07Z"
    assert (document["from"], document["from_name"], document["subject"], document["message_id"]) == (None,) * 4
    assert document["to"] == [] and document["html"] is None


def test_attachment_filenames_are_made_safe() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n'
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="../../etc/passwd"\r\n\r\nroot\r\n'
        b"--b\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--b--\r\n"
    )
    parsed = parse_body("email", raw)
    assert [a.filename for a in parsed.attachments] == ["passwd", "attachment-2"]
    assert parsed.document["text"] == "see attached"


def test_attached_message_is_kept_whole() -> None:
    inner = b"From: a@example.com\r\nSubject: inner\r\n\r\ninner body\r\n"
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfwd\r\n'
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"--b--\r\n"
    )
    parsed = parse_body("email", raw)
    assert parsed.document["text"] == "fwd"
    (attached,) = parsed.attachments
    assert attached.content_type == "message/rfc822"
    assert b"Subject: inner" in attached.data and b"inner body" in attached.data


def test_non_email_bytes_still_give_a_document() -> None:
    document = parse_body("email", b"\x00\xff just some bytes").document
    assert document["text"] == "\x00\ufffd just some bytes"
    assert document["headers"] == {}


def test_empty_body_is_an_error() -> None:
    with pytest.raises(ParseError, match="empty body"):
        parse_body("email", b" \r\n")
